"""A deterministic generator of graphs shaped like the seeded one, for measuring at scale.

The seeded articles' named graphs are copied again and again under fresh IRIs (``…-s7``) and
fresh graph names (``kzg:syn7-002_…``), so the copies have exactly the seeded data's shapes:
firms, projects, regions, amounts with currencies, statuses, quotations and provenance.
Reference entities (countries, regions, currencies) are shared by every copy, as real articles
would share them, and the reference and ontology graphs are written once. A seeded random choice
makes a fraction of the copies invalid: one amount loses its ``kz:currency``, which the shapes
require, so validation at scale has violations to find.

Blank node labels are canonicalised (RDFC-1.0) first, so the same seed always writes the same
bytes.

>>> import io
>>> out = io.BytesIO()
>>> counts = generate(out, target_quads=12_000, seed=1)
>>> counts.quads >= 12_000, counts.copies >= 1
(True, True)
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyoxigraph as ox

from kzgraph.core.namespaces import GRAPH, ID, KZ
from kzgraph.core.settings import Settings

#: Changes whenever the same seed would write different data, so benchmarks that keep generated
#: files (``bench/data/synthetic-<quads>-v<VERSION>.nq.gz``) do not time an old shape. 2: a copied
#: graph describes itself, not the original.
VERSION = 3  # 3: the seed articles only are copied (the graph grew past them)

#: The seed articles' named graphs (``kzg:000_…`` to ``kzg:004_…``): what is copied. Graphs of
#: sources registered later (cited by reference, or tables) are left out: their facts name the
#: seeds' entities, which exist only as renamed copies here.
ARTICLE_GRAPHS = tuple(f"{GRAPH}00{n}_" for n in range(5))
#: Every source's graph (``kzg:NNN_…``); those past the seeds are not written.
SOURCE_GRAPHS = f"{GRAPH}0"

#: Entities every copy shares: reference data, as articles share countries and currencies.
SHARED = tuple(str(ID) + kind for kind in ("country/", "region/", "currency/"))


@dataclass
class Counts:
    """What a run wrote."""

    quads: int = 0
    copies: int = 0
    invalid_copies: int = 0


def _article_and_base(settings: Settings) -> tuple[list[ox.Quad], list[ox.Quad]]:
    """The articles' quads (canonical blank nodes) and everything else (reference, ontology)."""
    from kzgraph.graph.loading import load

    data = load(settings).serialize(format="nquads", encoding="utf-8")
    dataset = ox.Dataset(ox.parse(data, format=ox.RdfFormat.N_QUADS))
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)

    def in_article(q: ox.Quad) -> bool:
        return isinstance(q.graph_name, ox.NamedNode) and q.graph_name.value.startswith(
            ARTICLE_GRAPHS
        )

    def later(q: ox.Quad) -> bool:
        name = q.graph_name
        return isinstance(name, ox.NamedNode) and name.value.startswith(SOURCE_GRAPHS)

    articles = sorted((q for q in dataset if in_article(q)), key=str)
    base = sorted((q for q in dataset if not in_article(q) and not later(q)), key=str)
    return articles, base


def _graph_name(iri: str, k: int) -> str:
    """Copy ``k``'s name for an article graph (``kzg:002_…`` → ``kzg:syn7-002_…``)."""
    return iri.replace(str(GRAPH), f"{GRAPH}syn{k}-", 1)


def _renamer(k: int) -> Callable[[object], object]:
    def rename(term: object) -> object:
        if isinstance(term, ox.NamedNode) and term.value.startswith(ARTICLE_GRAPHS):
            # a graph that describes itself (its source, its licence) keeps doing so in the copy
            return ox.NamedNode(_graph_name(term.value, k))
        if isinstance(term, ox.NamedNode) and term.value.startswith(str(ID)):
            return term if term.value.startswith(SHARED) else ox.NamedNode(f"{term.value}-s{k}")
        if isinstance(term, ox.BlankNode):
            return ox.BlankNode(f"{term.value}s{k}")
        return term

    return rename


def generate(
    out: BinaryIO,
    target_quads: int,
    seed: int = 0,
    invalid: float = 0.02,
    settings: Settings | None = None,
    progress: Callable[[int], None] | None = None,
) -> Counts:
    """Write N-Quads to ``out`` until at least ``target_quads`` quads; returns the counts."""
    settings = settings or Settings.discover()
    rng = random.Random(seed)
    articles, base = _article_and_base(settings)
    counts = Counts()
    out.write(ox.serialize(base, format=ox.RdfFormat.N_QUADS) or b"")
    counts.quads += len(base)
    currency = ox.NamedNode(str(KZ.currency))
    k = 0
    while counts.quads < target_quads:
        k += 1
        rename = _renamer(k)
        broken = rng.random() < invalid
        dropped = False
        batch = []
        for q in articles:
            if broken and not dropped and q.predicate == currency:
                dropped = True  # the copy's first amount loses its currency: a SHACL violation
                continue
            graph = ox.NamedNode(_graph_name(q.graph_name.value, k))  # type: ignore[union-attr]
            batch.append(ox.Quad(rename(q.subject), q.predicate, rename(q.object), graph))  # type: ignore[arg-type]
        out.write(ox.serialize(batch, format=ox.RdfFormat.N_QUADS) or b"")
        counts.quads += len(batch)
        counts.copies += 1
        counts.invalid_copies += int(dropped)
        if progress is not None:
            progress(len(batch))
    return counts


def generate_file(path: Path, target_quads: int, seed: int = 0, invalid: float = 0.02) -> Counts:
    """``generate`` into ``path`` (gzipped when it ends in ``.gz``), with a progress bar."""
    from tqdm import tqdm

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as out, tqdm(total=target_quads, unit="quad", unit_scale=True) as bar:
        return generate(out, target_quads, seed, invalid, progress=bar.update)  # type: ignore[arg-type]


@dataclass
class TrackerCounts:
    """What a generated tracker holds, by the outcome its rows are built to get."""

    rows: int = 0
    copies: int = 0
    seed_firm_rows: int = 0
    conflicting_rows: int = 0
    unknown_region_rows: int = 0


def generate_tracker(
    path: Path,
    rows: int,
    seed: int = 0,
    example: Path | None = None,
    odd: float = 0.01,
) -> TrackerCounts:
    """A tracker table shaped like the worked example, copied under fresh names, for benchmarks.

    Each copy ``k`` renames the example's firms and projects (``S7 …``: a first word of its own,
    so that reconciliation does not hold them as close to the seeds' names) and keeps their regions,
    sectors, statuses and amounts; the table itself is the rows' source, as for a real tracker.
    A seeded random choice gives a fraction ``odd`` of rows each of: a seed firm's own name (to
    be matched), a seed firm's name with another country (to be held as ambiguous), and a
    region no list has (to be held as unknown), so reconciliation has every outcome to report.
    """
    import csv

    settings = Settings.discover()
    example = example or settings.root / "examples" / "seed-investments.csv"
    with example.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames or [])
        template = list(reader)
    rng = random.Random(seed)
    counts = TrackerCounts()
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        while counts.rows < rows:
            counts.copies += 1
            for base in template:
                if counts.rows >= rows:
                    break
                row = {**base, "source": "", "quotation": ""}
                row["project"] = f"S{counts.copies} {base['project']}"
                row["firm"] = f"S{counts.copies} {base['firm']}"
                draw = rng.random()
                if draw < odd:
                    row["firm"] = base["firm"]
                    counts.seed_firm_rows += 1
                elif draw < 2 * odd:
                    row["firm"], row["firm_country"] = base["firm"], "KZ"
                    counts.conflicting_rows += 1
                elif draw < 3 * odd:
                    row["region"] = f"Region {rng.randrange(1000)}"
                    counts.unknown_region_rows += 1
                writer.writerow(row)
                counts.rows += 1
    return counts

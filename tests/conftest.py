"""Shared fixtures: the real seeded dataset, loaded once per test session.

Most tests assert what the five seed articles say, with figures read from their texts; they run
on the seeded graph, a copy of the project without the sources registered since (cited by
reference, or tables) and the facts citing them. The session points ``KZGRAPH_HOME`` at that
copy, so a ``kzgraph`` process a test starts reads it too. The whole, grown graph is checked by
tests/test_grown_graph.py (and the docs by tests/test_docs.py) on the checkout itself.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from rdflib import Dataset, Graph

from kzgraph.core.settings import Settings
from kzgraph.graph.loading import load, load_shapes
from kzgraph.validation.report import union_graph

#: The checkout: the whole graph, as users get it.
CHECKOUT = Path(__file__).resolve().parent.parent


def seeded_copy(target: Path) -> Path:
    """The project as the five seed articles make it: no source registered after them.

    The registry keeps the seeds' records (and the reference standards'); graph/documents/,
    which holds the facts of every later source, is left out.
    """
    from rdflib import RDF

    from kzgraph.core.namespaces import KZ
    from kzgraph.sources.registry import _registry, records, save_registry

    for name in ("ontology", "queries", "mappings", "examples", "docs", "CHANGELOG.md"):
        source = CHECKOUT / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        elif source.exists():
            shutil.copy2(source, target / name)
    shutil.copytree(
        CHECKOUT / "graph", target / "graph", ignore=shutil.ignore_patterns("documents")
    )
    settings = Settings.discover(target)
    later = {r.iri for r in records(Settings.discover(CHECKOUT)) if r.cited or r.is_table}
    (target / "sources").mkdir()
    for rec in records(Settings.discover(CHECKOUT)):
        if rec.iri not in later and rec.file is not None and rec.file.exists():
            shutil.copy2(rec.file, target / "sources" / rec.file.name)
    registry = _registry(Settings.discover(CHECKOUT))
    for iri in later:
        for triple in list(registry.triples((iri, None, None))):
            registry.remove(triple)
        for triple in list(registry.triples((None, None, iri))):
            registry.remove(triple)
    assert not set(registry.subjects(RDF.type, KZ.CitedSource))
    save_registry(settings, registry)
    for linked in (".venv", ".tools"):
        if (CHECKOUT / linked).exists():
            (target / linked).symlink_to(CHECKOUT / linked)
    return target


def _seeded_root() -> Path:
    made = os.environ.get("KZGRAPH_SEEDED_COPY")
    if made and Path(made).is_dir():
        return Path(made)
    root = seeded_copy(Path(tempfile.mkdtemp(prefix="kzgraph-seeded-")) / "project")
    os.environ["KZGRAPH_SEEDED_COPY"] = str(root)
    return root


ROOT = _seeded_root()
os.environ["KZGRAPH_HOME"] = str(ROOT)
os.environ.setdefault("KZGRAPH_SEEDS", str(CHECKOUT.parent / "shared" / "seeds"))


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.discover(ROOT)


@pytest.fixture(scope="session")
def dataset(settings: Settings) -> Dataset:
    return load(settings)


@pytest.fixture(scope="session")
def union(dataset: Dataset) -> Graph:
    return union_graph(dataset)


@pytest.fixture(scope="session")
def shapes(settings: Settings) -> Graph:
    return load_shapes(settings)


@pytest.fixture(scope="session")
def stores(dataset: Dataset) -> dict[str, object]:
    """Both engines holding the seeded dataset, shared by every test that queries."""
    from kzgraph.store.engines import open_store

    return {name: open_store(name, dataset=dataset) for name in ("oxigraph", "rdflib")}


def article_figure(seed_texts: dict[str, str], stem: str, pattern: str) -> Decimal:
    """The number in the first passage of article ``stem`` that matches ``pattern``."""
    from kzgraph.core.figures import parse_stated

    match = re.search(pattern, seed_texts[stem])
    assert match, f"{pattern!r} not found in {stem}.txt"
    return parse_stated(match.group(0))


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="session")
def seed_texts(settings: Settings) -> dict[str, str]:
    """The five articles, keyed by file stem, whitespace folded."""
    texts = {
        p.stem: normalise(p.read_text(encoding="utf-8")) for p in settings.seeds_dir.glob("*.txt")
    }
    assert len(texts) == 5, f"expected the five seed articles in {settings.seeds_dir}"
    return texts


@pytest.fixture(scope="session")
def run(stores):
    """Run a saved query on one engine; rows as dicts of Python values (IRIs stay IRIs)."""
    from rdflib import Literal

    from kzgraph.queries.running import run_saved

    def _run(name, engine="oxigraph", **params):
        result = run_saved(name, params, store=stores[engine])
        return [
            {k: (v.toPython() if isinstance(v, Literal) else v) for k, v in row.items()}
            for row in result.dicts()
        ]

    return _run


def paragraph_with(settings: Settings, stem: str, *needles: str) -> str:
    """The article paragraph (line) that contains every needle: proof they are stated together."""
    text = (settings.seeds_dir / f"{stem}.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        if all(n in line for n in needles):
            return line
    raise AssertionError(f"no paragraph of {stem}.txt contains all of {needles}")


@pytest.fixture(scope="module")
def oxigraph(tmp_path_factory):
    """An Oxigraph server on loopback, filled by ``kzgraph push``; yields its query URL."""
    from .server_process import kzgraph, oxigraph_server

    with oxigraph_server(tmp_path_factory.mktemp("oxigraph") / "store") as url:
        out = kzgraph("push", "--backend", url)
        assert out.returncode == 0, out.stderr
        yield url


@pytest.fixture(scope="module")
def writable(tmp_path_factory):
    """A server on an on-disk store that takes updates with the token ``s3cret``: (server, store)."""
    from .server_process import Server

    store = tmp_path_factory.mktemp("store") / "db"
    s = Server(
        "--store", str(store), "--allow-updates", "--workers", "1", env={"KZGRAPH_TOKEN": "s3cret"}
    )
    yield s, store
    s.stop()

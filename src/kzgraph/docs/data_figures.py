"""Figures the README and the guides quote from the data, computed from the graph, never typed.

A figure stands in the Markdown between two markers, ``<!-- fig:triples -->6,869<!-- /fig -->``,
which GitHub and the docs site do not show. ``kzgraph docs --figures`` writes every marked
figure from the graph as it is, and a test fails when a file's written figure differs from the
data's, naming the file, the figure and both values; the documentation site shows the files as
they are. A figure typed by hand goes stale the day the graph grows; one between markers
cannot.

>>> fill("<!-- fig:a -->1<!-- /fig --> and <!-- fig:b -->x<!-- /fig -->", {"a": "2", "b": "y"})
'<!-- fig:a -->2<!-- /fig --> and <!-- fig:b -->y<!-- /fig -->'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import KZ
from kzgraph.core.settings import Settings

MARK = re.compile(r"<!-- fig:(?P<name>[a-z0-9-]+) -->(?P<value>.*?)<!-- /fig -->")

_PROJECTS = f"?p a/<http://www.w3.org/2000/01/rdf-schema#subClassOf>* <{KZ}Project>"


def doc_files(settings: Settings) -> list[Path]:
    """The README and every guide: the pages whose figures must come from the data."""
    guides = sorted((settings.root / "docs" / "guides").glob("*.md"))
    return [settings.root / "README.md", *guides]


def _count(store: object, where: str, what: str = "*") -> int:
    rows = store.query(f"SELECT (COUNT({what}) AS ?n) WHERE {{ {where} }}").rows  # type: ignore[attr-defined]
    return int(str(rows[0][0]))


def _n(value: int) -> str:
    return f"{value:,}"


def compute(settings: Settings) -> dict[str, str]:
    """Every figure the docs may quote, by name, as the docs write it (``6,869``)."""
    from kzgraph.network.graph import full_graph
    from kzgraph.queries.catalogue import load_catalogue
    from kzgraph.queries.stats import compute_store
    from kzgraph.store.engines import open_store

    store = open_store("oxigraph", settings=settings)
    shapes = settings.shapes_file.read_text(encoding="utf-8")
    owl = "http://www.w3.org/2002/07/owl#"
    values: dict[str, int] = {
        "triples": _count(store, "?s ?p ?o"),
        "named-graphs": _count(store, "GRAPH ?g { }", "DISTINCT ?g"),
        "classes": _count(
            store, f'?c a <{owl}Class> FILTER(STRSTARTS(STR(?c), "{KZ}"))', "DISTINCT ?c"
        ),
        "properties": _count(
            store,
            f"VALUES ?t {{ <{owl}ObjectProperty> <{owl}DatatypeProperty> }} ?q a ?t "
            f'FILTER(STRSTARTS(STR(?q), "{KZ}"))',
            "DISTINCT ?q",
        ),
        "shapes": len(re.findall(r"\ba sh:NodeShape\b", shapes)),
        "saved-queries": len(load_catalogue(settings)),
        "questions": len(
            re.findall(
                r"^\| Q\d+ \|", (settings.queries_dir / "QUESTIONS.md").read_text("utf-8"), re.M
            )
        ),
        "projects": _count(store, _PROJECTS, "DISTINCT ?p"),
        "companies": _count(store, f"?c a <{KZ}Company>", "DISTINCT ?c"),
        "agreements": _count(
            store,
            f"?a a/<http://www.w3.org/2000/01/rdf-schema#subClassOf>* <{KZ}Agreement>",
            "DISTINCT ?a",
        ),
        "regions-with-projects": _count(store, f"{_PROJECTS} ; <{KZ}region> ?r", "DISTINCT ?r"),
        "sources": _count(store, f"?s a <{KZ}SourceDocument>", "DISTINCT ?s"),
    }
    from kzgraph.graph.loading import load

    network = full_graph(load(settings))
    values["network-nodes"] = network.number_of_nodes()
    values["network-edges"] = network.number_of_edges()
    out = {name: _n(value) for name, value in values.items()}
    # per seed article, in the order of their ids: "495 / 165 / 462 / 575 / 407"
    counts = compute_store(store)
    seeds = sorted(g for g in counts.graphs if re.fullmatch(r"kzg:00[0-4]_[0-9a-f]{16}", g))
    out["article-triples"] = " / ".join(_n(counts.graphs[g]) for g in seeds)
    out["article-quotations"] = " / ".join(
        _n(counts.quotations.get(g.replace("kzg:", "source:"), 0)) for g in seeds
    )
    return out


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with every marked figure set to its value; an unknown figure name is an error."""

    def one(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in values:
            raise KzgraphError(f"no figure named {name!r}; known: {', '.join(sorted(values))}")
        return f"<!-- fig:{name} -->{values[name]}<!-- /fig -->"

    return MARK.sub(one, text)


@dataclass(frozen=True)
class StaleFigure:
    """A figure a file states that the data no longer gives."""

    file: Path
    line: int
    name: str
    written: str
    actual: str

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}: figure {self.name!r} says {self.written}, "
            f"the data gives {self.actual} (run kzgraph docs --figures)"
        )


def stale(path: Path, values: Mapping[str, str]) -> list[StaleFigure]:
    """The marked figures of ``path`` that differ from ``values``."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in MARK.finditer(text):
        actual = values.get(match["name"], f"no figure named {match['name']!r}")
        if match["value"] != actual:
            line = text.count("\n", 0, match.start()) + 1
            found.append(StaleFigure(path, line, match["name"], match["value"], actual))
    return found


def update(settings: Settings, say: Callable[[str], None] = lambda _m: None) -> list[Path]:
    """Write the data's figures into the README and the guides; the files that changed."""
    values = compute(settings)
    changed = []
    for path in doc_files(settings):
        text = path.read_text(encoding="utf-8")
        new = fill(text, values)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
            say(f"figures updated in {path}")
    return changed

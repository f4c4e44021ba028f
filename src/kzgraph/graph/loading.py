"""Parse the ontology and graph files into one rdflib Dataset, one named graph per source.

A syntax error in any file stops the load with a :class:`GraphSyntaxError` naming the file, line
and column, so a maintainer sees where to look instead of a parser traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rdflib import Dataset, Graph, URIRef
from rdflib.plugins.parsers.notation3 import BadSyntax

from kzgraph.core.errors import KzgraphError as KzgraphError  # re-exported: its old home
from kzgraph.core.namespaces import ONTOLOGY_GRAPH, bind_prefixes
from kzgraph.core.settings import Settings

#: File endings we parse, and the rdflib parser for each.
FORMATS: dict[str, str] = {
    ".ttl": "turtle",
    ".trig": "trig",
    ".nt": "nt",
    ".nq": "nquads",
    ".jsonld": "json-ld",
}


@dataclass
class GraphSyntaxError(KzgraphError):
    """A data or ontology file that does not parse."""

    path: Path
    line: int | None
    column: int | None
    reason: str

    def __str__(self) -> str:
        where = str(self.path)
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: syntax error: {self.reason}"


def _position(exc: BadSyntax) -> tuple[int, int | None]:
    """Turn rdflib's (newline count, char offset) into a 1-based line and column."""
    text: str = exc._str if isinstance(exc._str, str) else exc._str.decode("utf-8", "replace")
    offset: int = exc._i
    line_start = text.rfind("\n", 0, offset) + 1
    return exc.lines + 1, offset - line_start + 1


def parse_file(path: Path, into: Dataset, graph: URIRef | None = None) -> None:
    """Parse one file into ``into``; triples from plain Turtle go to ``graph``."""
    fmt = FORMATS.get(path.suffix)
    if fmt is None:
        raise KzgraphError(f"{path}: unknown RDF file type {path.suffix!r}")
    try:
        if fmt in ("trig", "nquads"):
            into.parse(path, format=fmt)
        else:
            target: Graph = into.graph(graph) if graph is not None else into.default_graph
            target.parse(path, format=fmt)
    except BadSyntax as exc:
        line, column = _position(exc)
        raise GraphSyntaxError(path, line, column, exc._why) from None
    except Exception as exc:
        at_line, at_column, reason = _diagnose(path, fmt)
        raise GraphSyntaxError(
            path, at_line, at_column, reason or f"{type(exc).__name__}: {exc}"
        ) from None


_OX_FORMATS = {"turtle": "TURTLE", "trig": "TRIG", "nt": "N_TRIPLES", "nquads": "N_QUADS"}
_OX_POSITION = re.compile(r"at line (\d+)")


def _diagnose(path: Path, fmt: str) -> tuple[int | None, int | None, str | None]:
    """Ask Oxigraph's stricter parser where a file rdflib choked on goes wrong."""
    import pyoxigraph as ox

    name = _OX_FORMATS.get(fmt)
    if name is None:
        return None, None, None
    try:
        list(ox.parse(path=str(path), format=getattr(ox.RdfFormat, name)))
    except SyntaxError as exc:
        message = str(exc)
        match = _OX_POSITION.search(message)
        if match:
            return int(match.group(1)), None, message.rsplit(" (", 1)[0]
        return None, None, message
    except (OSError, ValueError) as exc:
        return None, None, str(exc)
    return None, None, None


def data_files(settings: Settings) -> list[Path]:
    """The graph files in load order: reference data first, then each source's graph."""
    return sorted(p for p in settings.graph_dir.rglob("*") if p.suffix in FORMATS and p.is_file())


def ontology_files(settings: Settings) -> list[Path]:
    """The ontology and vocabulary files; the shapes are not data and are kept out."""
    return sorted(
        p
        for p in settings.ontology_dir.glob("*")
        if p.suffix in FORMATS and p.resolve() != settings.shapes_file.resolve()
    )


def new_dataset() -> Dataset:
    """An empty Dataset with kzgraph's prefixes bound, whose default graph is the union."""
    ds = bind_prefixes(Dataset(default_union=True))
    return ds


def load(settings: Settings | None = None, extra: Iterable[Path] = ()) -> Dataset:
    """Load ontology and graph into one Dataset; the ontology goes to its own named graph.

    >>> ds = load()
    >>> from kzgraph.core.namespaces import KZ, ONTOLOGY_GRAPH
    >>> from rdflib import RDF, OWL
    >>> (KZ.Company, RDF.type, OWL.Class) in ds.graph(ONTOLOGY_GRAPH)
    True
    """
    settings = settings or Settings.discover()
    ds = new_dataset()
    for path in ontology_files(settings):
        parse_file(path, ds, ONTOLOGY_GRAPH)
    for path in [*data_files(settings), *extra]:
        parse_file(path, ds, URIRef(path.resolve().as_uri()))
    return ds


def load_shapes(settings: Settings | None = None) -> Graph:
    """The SHACL shapes graph."""
    settings = settings or Settings.discover()
    return load_shapes_file(settings.shapes_file)


def load_shapes_file(path: Path) -> Graph:
    """A SHACL shapes graph from ``path``, with syntax errors named by file and line."""
    ds = new_dataset()
    parse_file(path, ds, URIRef("urn:kzgraph:shapes"))
    return ds.graph(URIRef("urn:kzgraph:shapes"))

"""Which SHACL engine judges the data, and how each is fed: files, an rdflib graph or a store.

Three engines, chosen from the figures in ``bench/RESULTS-shacl.txt`` (``bash bench/shacl.sh``):

- ``shacl`` (the default): the Rust engine published on PyPI as ``shacl``. It passes all 98
  W3C SHACL core tests (pyshacl: 97) and 21 of the 22 SHACL-SPARQL ones, finds what pyshacl
  finds on the project's shapes, and validates a million quads in under 100 MB. It reads a file,
  so a store is first dumped to N-Triples beside it.
- ``pyshacl``: the reference, in Python; minutes per 100k quads, so for the seeded files and
  for checking the others.
- ``sparql``: the shapes compiled to SPARQL and run by Oxigraph (:mod:`kzgraph.shacl_sparql`);
  fast and able to check only the nodes a write touched, so the server uses it as a pre-check on
  writes. It runs only the SHACL features it compiles faithfully and refuses a shapes graph
  using any other (:class:`UnsupportedShapeError`, one line naming the shape and the feature),
  so it never passes data silently.

Every engine's report is read into the same :class:`~kzgraph.validation.Report`, whose verdict
counts only ``sh:Violation`` results: a warning never fails the exit code on one engine and
passes on another.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from rdflib import Graph

from kzgraph.loading import KzgraphError

if TYPE_CHECKING:
    import pyoxigraph as ox

    from kzgraph.store import Store as KzStore

ENGINES = ("shacl", "pyshacl", "sparql")
DEFAULT_ENGINE = "shacl"


class EngineRefusal(KzgraphError):
    """An engine cannot run a feature the shapes use; nothing was validated or written."""


def report_graph_from_shacl(shapes_file: Path, data_file: Path) -> Graph:
    """The ``shacl`` engine's report on ``data_file`` (N-Triples, N-Quads, Turtle or TriG).

    Quads are validated as the union of their graphs, as kzgraph's data graph is.
    """
    import shacl

    try:
        compiled = shacl.Shapes.from_file(str(shapes_file))
    except ValueError as exc:
        raise EngineRefusal(f"{shapes_file}: the shacl engine refuses the shapes: {exc}") from None
    try:
        report = compiled.validate_file(str(data_file), allow_warnings=True)
    except ValueError as exc:
        raise EngineRefusal(f"the shacl engine refuses the shapes: {exc}") from None
    return Graph().parse(data=report.serialize("ntriples"), format="nt")


def report_graph_of_graph(engine: str, data: Graph, shapes_file: Path) -> Graph:
    """Validate an rdflib graph with ``engine`` (``shacl`` or ``pyshacl``); the raw report."""
    if engine == "pyshacl":
        from pyshacl import validate

        shapes = Graph().parse(shapes_file)
        try:
            _conforms, report, _text = validate(
                data, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True
            )
        except Exception as exc:  # pyshacl raises bare Exceptions on shapes it cannot run
            raise EngineRefusal(f"pyshacl cannot run the shapes: {exc}") from None
        if not isinstance(report, Graph):  # pyshacl returns its refusals instead of raising
            raise EngineRefusal(f"pyshacl refuses the shapes: {report}")
        return report
    if engine != "shacl":
        raise KzgraphError(f"unknown SHACL engine {engine!r}")
    with tempfile.TemporaryDirectory(prefix="kzgraph-validate-") as folder:
        path = Path(folder) / "data.nt"
        data.serialize(path, format="nt", encoding="utf-8")
        return report_graph_from_shacl(shapes_file, path)


def report_graph_of_store(store: ox.Store | KzStore, shapes_file: Path) -> Graph:
    """Validate an Oxigraph store's default graph (kzgraph's merge) with the ``shacl`` engine.

    The store is dumped to N-Triples in a temporary folder beside the system's others and read
    back by the engine: about 2 s and no extra memory per million quads.
    """
    import pyoxigraph as ox

    inner = store if isinstance(store, ox.Store) else getattr(store, "store", None)
    if not isinstance(inner, ox.Store):
        raise KzgraphError("the shacl engine validates an embedded Oxigraph store only")
    folder = tempfile.mkdtemp(prefix=f"kzgraph-validate-{os.getpid()}-")
    path = Path(folder) / "data.nt"
    try:
        inner.dump(str(path), ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph())
        return report_graph_from_shacl(shapes_file, path)
    finally:
        path.unlink(missing_ok=True)
        os.rmdir(folder)


def check_shapes(engine: str, shapes_file: Path) -> None:
    """Refuse, before anything is read or written, shapes that ``engine`` cannot run.

    One :class:`EngineRefusal` line naming the shape and the feature; the command exits 2.
    """
    if engine == "sparql":
        from kzgraph.loading import load_shapes_file
        from kzgraph.shacl_sparql import problems

        found = problems(load_shapes_file(shapes_file))
        if found:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise EngineRefusal(
                f"{shapes_file}: the sparql engine cannot run {found[0]}{more}; use --engine shacl"
            )
    elif engine == "shacl":
        import shacl

        try:
            shacl.Shapes.from_file(str(shapes_file))
        except ValueError as exc:
            raise EngineRefusal(
                f"{shapes_file}: the shacl engine refuses the shapes: {exc}"
            ) from None
    elif engine != "pyshacl":
        raise KzgraphError(f"unknown SHACL engine {engine!r}")


def report_graph_of_files(shapes_file: Path, files: list[Path]) -> Graph:
    """The ``shacl`` engine's report on the union of RDF ``files``, read by Oxigraph's parser.

    The files' own lexical forms reach the engine (rdflib would rewrite an ill-typed
    ``"none"^^xsd:boolean`` as ``"false"``, hiding the very error the shape is there to catch).
    """
    import pyoxigraph as ox

    formats = {
        ".ttl": ox.RdfFormat.TURTLE,
        ".trig": ox.RdfFormat.TRIG,
        ".nt": ox.RdfFormat.N_TRIPLES,
        ".nq": ox.RdfFormat.N_QUADS,
        ".jsonld": ox.RdfFormat.JSON_LD,
    }
    with tempfile.TemporaryDirectory(prefix=f"kzgraph-validate-{os.getpid()}-") as folder:
        path = Path(folder) / "data.nt"
        with path.open("wb") as out:
            for file in files:
                triples = (
                    ox.Triple(q.subject, q.predicate, q.object)
                    for q in ox.parse(
                        path=str(file),
                        format=formats[file.suffix],
                        base_iri=file.resolve().as_uri(),
                    )
                )
                ox.serialize(triples, out, ox.RdfFormat.N_TRIPLES)
        return report_graph_from_shacl(shapes_file, path)

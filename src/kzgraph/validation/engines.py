"""Which SHACL engine judges the data, and how each is fed: files, an rdflib graph or a store.

Three engines, chosen from the figures in ``bench/RESULTS-shacl.txt`` (``bash bench/shacl.sh``):

- ``shacl`` (the default): the Rust engine published on PyPI as ``shacl``. It passes all 98
  W3C SHACL core tests (pyshacl: 97) and, with :func:`check_shapes` refusing the one form it
  would run though SHACL forbids it, all 22 SHACL-SPARQL ones; it finds what pyshacl finds on
  the project's shapes. It reads a file, so a store is first dumped to N-Triples beside it, and
  the SPARQL constraints it would evaluate once per focus node go to Oxigraph instead.
- ``pyshacl``: the reference, in Python; minutes per 100k quads, so for the seeded files and
  for checking the others.
- ``sparql``: the shapes compiled to SPARQL and run by Oxigraph
  (:mod:`kzgraph.validation.shacl_sparql`);
  fast and able to check only the nodes a write touched, so the server uses it as a pre-check on
  writes. It runs only the SHACL features it compiles faithfully and refuses a shapes graph
  using any other (:class:`UnsupportedShapeError`, one line naming the shape and the feature),
  so it never passes data silently.

Every engine's report is read into the same :class:`~kzgraph.validation.report.Report`, whose
verdict counts only ``sh:Violation`` results: a warning never fails the exit code on one engine and
passes on another.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from rdflib import BNode, Graph, Node, URIRef
from rdflib.namespace import SH

from kzgraph.core.errors import KzgraphError

if TYPE_CHECKING:
    import pyoxigraph as ox

    from kzgraph.store.engines import Store as KzStore
    from kzgraph.validation.shacl_scope import Violation

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
    text = report.serialize("ntriples")
    if data_file.suffix in (".nt", ".nq") and _ENGINE_BNODE.search(text):
        text = _restore_blank_nodes(text, data_file, _blank_nodes_in(shapes_file))
    # the data's blank-node labels kept as they are (rdflib would rename them while parsing)
    kept = {label: BNode(label) for label in _NT_BNODE.findall(text)}
    return Graph().parse(data=text, format="nt", bnode_context=kept)


#: How shacl 0.3.4 names the data's blank nodes in its report: ``_:0_b<n>``, one counter over
#: the shapes' blank nodes and then the data's, in order of first appearance (checked by
#: tests/test_cli.py, which reads a finding on a blank node by the label of what holds it).
_ENGINE_BNODE = re.compile(r"_:0_b(\d+)\b")
_NT_BNODE = re.compile(r"(?:^|\s)_:([A-Za-z0-9_.-]+)")


def _blank_nodes_in(shapes_file: Path) -> int:
    """How many distinct blank nodes the shapes file has (the engine numbers them first)."""
    import pyoxigraph as ox

    seen: set[str] = set()
    base = shapes_file.resolve().as_uri()
    for quad in ox.parse(path=str(shapes_file), format=ox.RdfFormat.TURTLE, base_iri=base):
        for term in (quad.subject, quad.object):
            if isinstance(term, ox.BlankNode):
                seen.add(term.value)
    return len(seen)


def _restore_blank_nodes(report: str, data_file: Path, offset: int) -> str:
    """The report with the data's own blank-node labels, so findings can name their owner."""
    wanted = {int(n) - offset + 1 for n in _ENGINE_BNODE.findall(report)}
    order: dict[str, int] = {}
    labels: dict[int, str] = {}
    with data_file.open(encoding="utf-8") as lines:
        for line in lines:
            if "_:" not in line:
                continue
            for label in _NT_BNODE.findall(_without_graph(line)):
                if label not in order:
                    order[label] = len(order) + 1
                    if order[label] in wanted:
                        labels[order[label]] = label
            if len(labels) == len(wanted):
                break

    def back(match: re.Match[str]) -> str:
        label = labels.get(int(match.group(1)) - offset + 1)
        return f"_:{label}" if label is not None else match.group(0)

    return _ENGINE_BNODE.sub(back, report)


def _without_graph(line: str) -> str:
    """An N-Triples or N-Quads line without its graph name, if it ends with a blank-node one.

    The engine validates the union of the graphs and does not number graph names among the
    data's blank nodes, so they are left out when its numbering is replayed. A line ends with a
    graph name when it has five terms or more and the last is not part of a literal: terms other
    than literals hold no spaces, and a literal is never followed by a blank node but as graph.

    >>> _without_graph('_:s <http://p> _:o _:g .')
    '_:s <http://p> _:o .'
    >>> _without_graph('_:s <http://p> _:o .')
    '_:s <http://p> _:o .'
    >>> _without_graph('_:s <http://p> "a b" _:g .')
    '_:s <http://p> "a b" .'
    """
    terms = line.split()
    if len(terms) >= 5 and terms[-1] == "." and terms[-2].startswith("_:"):
        return " ".join([*terms[:-2], "."])
    return line


def blank_node_owners(data_file: Path, labels: set[str]) -> dict[str, tuple[str, str]]:
    """For blank nodes of an N-Triples or N-Quads file, a subject and predicate pointing to each.

    A blank-node object is one term without spaces, the third of its line, whatever follows.
    """
    owners: dict[str, tuple[str, str]] = {}
    with data_file.open(encoding="utf-8") as lines:
        for line in lines:
            if "_:" not in line:
                continue
            terms = line.split(maxsplit=3)
            if len(terms) == 4 and terms[2].startswith("_:") and terms[2][2:] in labels:
                owners.setdefault(terms[2][2:], (terms[0], terms[1]))
    return owners


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


def report_graph_of_store(
    store: ox.Store | KzStore,
    shapes_file: Path,
    owners: Graph | None = None,
    shapes: Graph | None = None,
) -> Graph:
    """Validate an Oxigraph store's default graph (kzgraph's merge) with the default engine.

    The store is dumped to N-Triples in a temporary folder and read by the ``shacl`` engine,
    with the SPARQL constraints it would evaluate once per focus node (quadratic at scale:
    0.45 s at 100k quads, 43 s at 1M) handed to Oxigraph instead, one pass each, where
    :func:`kzgraph.validation.shacl_sparql.offloadable` vouches they mean the same there. What holds
    each blank focus node is added to ``owners``, so a report can name it. ``shapes``: the shapes
    file already parsed, if the caller has it.
    """
    import pyoxigraph as ox

    inner = store if isinstance(store, ox.Store) else getattr(store, "store", None)
    if not isinstance(inner, ox.Store):
        raise KzgraphError("the shacl engine validates an embedded Oxigraph store only")
    with tempfile.TemporaryDirectory(prefix=f"kzgraph-validate-{os.getpid()}-") as folder:
        path = Path(folder) / "data.nt"
        inner.dump(str(path), ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph())
        return _validate_dump(path, inner, shapes_file, owners, shapes)


def _validate_dump(
    data: Path,
    store: ox.Store,
    shapes_file: Path,
    owners: Graph | None,
    shapes: Graph | None = None,
) -> Graph:
    """The default engine on ``data`` (N-Triples), whose triples ``store`` also holds."""
    from kzgraph.graph.loading import load_shapes_file

    shapes = shapes if shapes is not None else load_shapes_file(shapes_file)
    with tempfile.TemporaryDirectory(prefix=f"kzgraph-shapes-{os.getpid()}-") as folder:
        core_file, pairs = _core_shapes(shapes, shapes_file, Path(folder))
        report = report_graph_from_shacl(core_file, data)
    return _complete(report, store, shapes, pairs, data, owners)


def _core_shapes(
    shapes: Graph, shapes_file: Path, folder: Path
) -> tuple[Path, list[tuple[URIRef, Node]]]:
    """The shapes file less the SPARQL constraints Oxigraph runs, and those constraints."""
    from kzgraph.validation.shacl_sparql import offloadable

    pairs = offloadable(shapes)
    if not pairs:
        return shapes_file, pairs
    core = Graph()
    for triple in shapes:
        core.add(triple)
    for shape, constraint in pairs:
        core.remove((shape, SH.sparql, constraint))
    core_file = folder / "shapes.ttl"
    core.serialize(core_file, format="turtle")
    return core_file, pairs


def _complete(
    report: Graph,
    store: ox.Store,
    shapes: Graph,
    pairs: list[tuple[URIRef, Node]],
    data: Path,
    owners: Graph | None,
) -> Graph:
    """The engine's report with the offloaded constraints' results, and blank nodes' owners."""
    from kzgraph.validation.shacl_sparql import validate_store as run_compiled

    if pairs:
        add_violations(report, run_compiled(store, shapes, only=pairs))
    blank = {str(f) for f in report.objects(None, SH.focusNode) if isinstance(f, BNode)}
    if blank and owners is not None:
        for label, (subject, predicate) in blank_node_owners(data, blank).items():
            owner = BNode(subject[2:]) if subject.startswith("_:") else URIRef(subject[1:-1])
            owners.add((owner, URIRef(predicate[1:-1]), BNode(label)))
    return report


class FileValidation:
    """The default engine run on a data file in a thread, while the store is loaded from it.

    ``kzgraph load`` of one N-Quads or N-Triples file into an empty store validates that very
    file (its lexical forms as written) at the same time as Oxigraph loads it: the engine is
    Rust and releases the interpreter, so on two cores the validation costs almost no wall
    time, where dumping the loaded store and validating the dump afterwards added 60% to the
    load at ten million quads. :meth:`finish` waits for it, runs the constraints Oxigraph
    answers on the loaded store, and re-raises anything the thread raised.
    """

    def __init__(self, shapes_file: Path, data_file: Path, shapes: Graph | None = None) -> None:
        import threading

        from kzgraph.graph.loading import load_shapes_file

        self.data_file = data_file
        self.shapes = shapes if shapes is not None else load_shapes_file(shapes_file)
        self._folder = tempfile.TemporaryDirectory(prefix=f"kzgraph-shapes-{os.getpid()}-")
        core_file, self.pairs = _core_shapes(self.shapes, shapes_file, Path(self._folder.name))
        self._report: Graph | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(core_file,), name="kzgraph-validate", daemon=True
        )
        self._thread.start()

    def _run(self, core_file: Path) -> None:
        try:
            self._report = report_graph_from_shacl(core_file, self.data_file)
        except BaseException as exc:  # handed to finish(), in the caller's thread
            self._error = exc

    def finish(self, store: ox.Store, owners: Graph | None = None) -> Graph:
        """The full report, once the engine is done and ``store`` holds the file's data."""
        self._thread.join()
        self._folder.cleanup()
        if self._error is not None:
            raise self._error
        assert self._report is not None
        return _complete(self._report, store, self.shapes, self.pairs, self.data_file, owners)


def add_violations(report: Graph, violations: list[Violation]) -> None:
    """The compiled engine's violations as SHACL results of ``report`` (made if it has none)."""
    from rdflib import Literal
    from rdflib.namespace import RDF

    node = report.value(None, RDF.type, SH.ValidationReport, any=True)
    if node is None:
        node = BNode()
        report.add((node, RDF.type, SH.ValidationReport))
    for v in violations:
        result = BNode()
        report.add((node, SH.result, result))
        report.add((result, RDF.type, SH.ValidationResult))
        report.add((result, SH.focusNode, v.focus))
        report.add((result, SH.resultMessage, Literal(v.message)))
        report.add((result, SH.resultSeverity, SH[v.severity]))
        report.add((result, SH.sourceShape, v.source))
        report.add((result, SH.sourceConstraintComponent, v.component))
        if v.path is not None:
            report.add((result, SH.resultPath, v.path))
        if v.value is not None:
            report.add((result, SH.value, v.value))


def check_shapes(engine: str, shapes_file: Path) -> None:
    """Refuse, before anything is read or written, shapes that ``engine`` cannot run.

    One :class:`EngineRefusal` line naming the shape and the feature; the command exits 2.
    """
    if engine == "sparql":
        from kzgraph.graph.loading import load_shapes_file
        from kzgraph.validation.shacl_scope import problems

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
        forbidden = _subquery_constraints(shapes_file)
        if forbidden:
            raise EngineRefusal(
                f"{shapes_file}: the shacl engine refuses the shapes: {forbidden[0]}'s SPARQL "
                "constraint has a subquery that does not return $this, which SHACL's pre-binding "
                "does not allow (SHACL 5.2.1)"
            )
    elif engine != "pyshacl":
        raise KzgraphError(f"unknown SHACL engine {engine!r}")


def report_graph_of_files(
    shapes_file: Path, files: list[Path], owners: Graph | None = None
) -> Graph:
    """The default engine's report on the union of RDF ``files``, read by Oxigraph's parser.

    The files' own lexical forms reach the engine (rdflib would rewrite an ill-typed
    ``"none"^^xsd:boolean`` as ``"false"``, hiding the very error the shape is there to catch).
    """
    import pyoxigraph as ox

    from kzgraph.store.bulk import format_of

    store = ox.Store()
    with tempfile.TemporaryDirectory(prefix=f"kzgraph-validate-{os.getpid()}-") as folder:
        path = Path(folder) / "data.nt"
        with path.open("wb") as out:
            for file in files:  # every graph's triples, as parsed, are the data graph
                quads = ox.parse(
                    path=str(file), format=format_of(file), base_iri=file.resolve().as_uri()
                )
                triples = [ox.Triple(q.subject, q.predicate, q.object) for q in quads]
                # written as parsed: a store would turn "300"^^xsd:byte into an xsd:integer
                ox.serialize(triples, out, ox.RdfFormat.N_TRIPLES)
                store.bulk_extend(ox.Quad(t.subject, t.predicate, t.object) for t in triples)
        return _validate_dump(path, store, shapes_file, owners)


def _subquery_constraints(shapes_file: Path) -> list[str]:
    """Shapes whose sh:select nests a SELECT that does not return ``$this`` (SHACL forbids it).

    The engine refuses the other forbidden forms (MINUS, VALUES, SERVICE, re-binding) itself and
    runs this one; the W3C suite expects a refusal (``unsupported-sparql-004``).
    """
    from kzgraph.graph.loading import load_shapes_file

    shapes = load_shapes_file(shapes_file)
    found = []
    for holder, select in shapes.subject_objects(SH.select):
        where = str(select).split("{", 1)[1] if "{" in str(select) else ""
        # a subquery must return the pre-bound variables (SELECT * or one naming $this)
        heads = re.findall(r"\bSELECT\b(.*?)(?:\bWHERE\b|\{)", where, re.IGNORECASE | re.DOTALL)
        if any("*" not in h and not re.search(r"[$?]this\b", h) for h in heads):
            shape = next(iter(shapes.subjects(SH.sparql, holder)), holder)
            found.append(shape.n3(shapes.namespace_manager))
    return found

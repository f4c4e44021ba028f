"""SHACL validation of the dataset, with a report grouped by focus node and told in labels.

Which engine runs is :mod:`kzgraph.validation.engines`' business (the Rust ``shacl`` engine by
default, pyshacl as the reference, the SPARQL-compiled pre-check); every engine's report is read
here into one :class:`Report`, whose verdict counts ``sh:Violation`` results only, so warnings
and infos are listed but never fail the exit code on any engine.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyoxigraph as ox
from pyshacl import validate as shacl_validate
from rdflib import BNode, Dataset, Graph, Literal, Node, URIRef
from rdflib.namespace import RDF, RDFS, SH, SKOS

from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import bind_prefixes
from kzgraph.core.settings import Settings
from kzgraph.graph.loading import data_files, load, load_shapes, ontology_files
from kzgraph.validation.engines import (
    DEFAULT_ENGINE,
    EngineRefusal,
    add_violations,
    report_graph_of_files,
    report_graph_of_graph,
    report_graph_of_store,
)

if TYPE_CHECKING:
    from kzgraph.store.engines import Store as KzStore
    from kzgraph.validation.engines import FileValidation


@dataclass(frozen=True)
class Finding:
    """One SHACL result, with labels so a reader needs no IRIs to follow it."""

    severity: str
    focus: str
    focus_label: str
    path: str | None
    value: str | None
    message: str
    shape: str
    component: str = ""  # the constraint component, e.g. sh:MinCountConstraintComponent


@dataclass
class Report:
    """The outcome of a validation run."""

    conforms: bool
    findings: list[Finding] = field(default_factory=list)
    graph: Graph | None = None

    @classmethod
    def from_results(cls, results: Graph, data: Graph) -> Report:
        """A report from an engine's SHACL results graph.

        ``conforms`` (the exit code's verdict) means no Violation; the report graph keeps the
        standard's ``sh:conforms``, false on any result, warnings included.
        """
        findings = _findings(results, data)
        conforms = not any(f.severity == "Violation" for f in findings)
        for node in results.subjects(RDF.type, SH.ValidationReport):
            results.set((node, SH.conforms, Literal(not findings)))
        return cls(conforms=conforms, findings=findings, graph=results)

    def by_focus(self) -> dict[str, list[Finding]]:
        """Findings grouped by the node they are about, in a stable order."""
        groups: dict[str, list[Finding]] = defaultdict(list)
        for f in sorted(self.findings, key=lambda f: (f.focus_label, f.focus, f.message)):
            groups[f.focus].append(f)
        return dict(groups)

    def to_text(self) -> str:
        """A report for people: one block per focus node, one line per finding."""
        if not self.findings:
            return "Conforms: the graph satisfies every shape."
        head = "Conforms, with" if self.conforms else "Does not conform:"
        lines = [f"{head} {len(self.findings)} finding(s) on {len(self.by_focus())} node(s)."]
        for focus, findings in self.by_focus().items():
            lines.append("")
            lines.append(f"{findings[0].focus_label} <{focus}>")
            for f in findings:
                detail = f"  {f.severity}: {f.message}"
                if f.path:
                    detail += f" [path {f.path}]"
                if f.value is not None:
                    detail += f" [value {f.value}]"
                lines.append(detail)
        return "\n".join(lines)

    def to_json(self) -> str:
        """The findings as JSON, for scripts and CI annotations."""
        return json.dumps(
            {"conforms": self.conforms, "findings": [asdict(f) for f in self.findings]},
            indent=2,
            ensure_ascii=False,
        )

    def to_turtle(self) -> str:
        """The raw SHACL validation report."""
        assert self.graph is not None
        bind_prefixes(self.graph)
        return self.graph.serialize(format="turtle")


def _short(node: Node | None, data: Graph) -> str | None:
    if node is None:
        return None
    if isinstance(node, Literal):
        return (
            repr(str(node)) if node.datatype is None else f"{node!s} ({data.qname(node.datatype)})"
        )
    if isinstance(node, URIRef):
        try:
            return data.qname(node)
        except (ValueError, KeyError):
            return str(node)
    return "(blank node)"


def _label(node: Node, data: Graph) -> str:
    """A readable name for ``node``; for a blank node, the label of whatever points to it."""
    for predicate in (RDFS.label, SKOS.prefLabel):
        for label in data.objects(node, predicate):
            if isinstance(label, Literal) and label.language in (None, "en"):
                return str(label)
    if isinstance(node, BNode):
        for parent, link in data.subject_predicates(node):
            return f"{_label(parent, data)} → {_short(link, data)}"
    return _short(node, data) or str(node)


def _findings(results: Graph, data: Graph) -> list[Finding]:
    findings = []
    # the report's own results; those nested under sh:detail explain them and are not counted
    for result in set(results.objects(None, SH.result)):
        focus = results.value(result, SH.focusNode)
        severity = results.value(result, SH.resultSeverity)
        assert focus is not None
        findings.append(
            Finding(
                severity=str(severity).rsplit("#", 1)[-1] if severity else "Violation",
                focus=str(focus) if not isinstance(focus, BNode) else f"_:{focus}",
                focus_label=_label(focus, data),
                path=_short(results.value(result, SH.resultPath), data),
                value=_short(results.value(result, SH.value), data),
                message=str(results.value(result, SH.resultMessage) or "constraint violated"),
                shape=_short(results.value(result, SH.sourceShape), data) or "",
                component=_short(results.value(result, SH.sourceConstraintComponent), data) or "",
            )
        )
    return findings


def validate_graph(data: Graph, shapes: Graph, engine: str = "pyshacl") -> Report:
    """Validate an rdflib graph against shapes; the graph must carry the ontology it uses."""
    if engine == "pyshacl":
        try:
            _conforms, results, _text = shacl_validate(
                data,
                shacl_graph=shapes,
                inference="none",
                advanced=True,
                allow_warnings=True,
            )
        except Exception as exc:  # pyshacl raises bare Exceptions on shapes it cannot run
            raise EngineRefusal(f"pyshacl cannot run the shapes: {exc}") from None
        if not isinstance(results, Graph):
            raise EngineRefusal(f"pyshacl refuses the shapes: {results}")
        return Report.from_results(results, data)
    with tempfile.TemporaryDirectory(prefix="kzgraph-shapes-") as folder:
        shapes_file = Path(folder) / "shapes.ttl"
        shapes.serialize(shapes_file, format="turtle")
        return Report.from_results(report_graph_of_graph(engine, data, shapes_file), data)


def with_source_checks(report: Report, settings: Settings) -> Report:
    """The report with the source checks' errors added as violations (see :mod:`lint_sources`).

    Shapes cannot see a source's text; a quotation not in its article or a ``kz:value`` its own
    words contradict ("$190 million" stored as 19000000) is as wrong as a missing unit, so
    ``kzgraph validate`` fails on it as ``kzgraph lint`` does, naming the file and line.
    """
    from kzgraph.sources.checks import SOURCE_CHECKS
    from kzgraph.validation.lint import ERROR, lint

    extra = [f for f in lint(settings) if f.check in SOURCE_CHECKS and f.severity == ERROR]
    if not extra:
        return report
    component = URIRef("https://w3id.org/kzgraph/shapes#SourceCheck")
    findings = list(report.findings)
    graph = report.graph
    for f in extra:
        findings.append(
            Finding(
                severity="Violation",
                focus=f.term,
                focus_label=f.term,
                path=None,
                value=None,
                message=f"{f.check}: {f.message} ({f.file})",
                shape="",
                component="kzsh:SourceCheck",
            )
        )
        if graph is not None:
            node = BNode()
            graph.add((node, RDF.type, SH.ValidationResult))
            graph.add((node, SH.focusNode, URIRef(f.term) if "://" in f.term else Literal(f.term)))
            graph.add((node, SH.resultSeverity, SH.Violation))
            graph.add((node, SH.sourceConstraintComponent, component))
            graph.add((node, SH.resultMessage, Literal(f"{f.check}: {f.message} ({f.file})")))
            for report_node in graph.subjects(RDF.type, SH.ValidationReport):
                graph.add((report_node, SH.result, node))
                graph.set((report_node, SH.conforms, Literal(False)))
    return Report(conforms=False, findings=findings, graph=graph)


def union_graph(ds: Dataset) -> Graph:
    """All named graphs in one Graph, since SHACL validates a single data graph."""
    g = bind_prefixes(Graph())
    for quad in ds.quads((None, None, None, None)):
        g.add(quad[:3])
    return g


def validate(
    settings: Settings | None = None,
    dataset: Dataset | None = None,
    engine: str = DEFAULT_ENGINE,
) -> Report:
    """Validate the seeded dataset (or ``dataset``) against the project's shapes.

    >>> validate().conforms
    True
    """
    settings = settings or Settings.discover()
    ds = dataset if dataset is not None else load(settings)
    if engine == "sparql":
        from kzgraph.store.engines import OxigraphStore

        store = OxigraphStore()
        store.load_dataset(ds)
        return validate_store(store.store, load_shapes(settings), engine="sparql")
    data = union_graph(ds)
    if engine == "pyshacl":
        return validate_graph(data, load_shapes(settings), engine="pyshacl")
    if dataset is None:  # the files as written, lexical forms and all
        files = [*ontology_files(settings), *data_files(settings)]
        results = report_graph_of_files(settings.shapes_file, files, owners=data)
        return with_source_checks(Report.from_results(results, data), settings)
    return Report.from_results(report_graph_of_graph(engine, data, settings.shapes_file), data)


def validate_store(
    store: ox.Store | KzStore,
    shapes: Graph,
    focus: Iterable[str] | None = None,
    threads: int = 1,
    engine: str = "sparql",
    shapes_file: Path | None = None,
    running: FileValidation | None = None,
) -> Report:
    """Validate a store (its default graph, kzgraph's merge) with ``engine``.

    ``sparql``: the shapes compiled to SPARQL, one pass per constraint inside the store, and with
    ``focus`` only those nodes (and the blank nodes under them): what an update touched. It
    refuses shapes it cannot run (:class:`~kzgraph.validation.shacl_scope.UnsupportedShapeError`).
    ``shacl``: the default engine, on the store dumped to N-Triples (``shapes_file`` is read),
    or, with ``running``, on the file the store was just loaded from, already under way.
    """
    # Long on purpose (61 lines): the engine's report read into findings with labels and blank-node
    # owners, one step after another.
    if engine != "sparql":
        if shapes_file is None:
            raise KzgraphError("the shacl engine reads the shapes from a file")
        if not isinstance(store, ox.Store) and not hasattr(store, "store"):
            raise KzgraphError(f"the {engine} engine validates an embedded store only")
        owners = Graph()
        if running is not None:
            inner = store if isinstance(store, ox.Store) else store.store
            results = running.finish(inner, owners)
        else:
            results = report_graph_of_store(store, shapes_file, owners, shapes)
        iris = _focus_iris(results) | {str(s) for s in owners.subjects() if isinstance(s, URIRef)}
        labels = _store_labels(store, iris)
        names = bind_prefixes(Graph())
        for owner, link, node in owners:  # a blank focus node, named by what holds it
            name = labels.get(str(owner)) or _short(owner, names) or str(owner)
            labels[f"_:{node}"] = f"{name} → {_short(link, names)}"
        return _report_with_labels(results, labels)
    from kzgraph.validation.shacl_sparql import validate_store as run

    violations = run(store, shapes, focus, threads)
    labels = _store_labels(store, {str(v.focus) for v in violations if isinstance(v.focus, URIRef)})
    results = bind_prefixes(Graph())
    report_node = BNode()
    results.add((report_node, RDF.type, SH.ValidationReport))
    add_violations(results, violations)
    findings = []
    for v in violations:
        focus = str(v.focus) if isinstance(v.focus, URIRef) else f"_:{v.focus}"
        findings.append(
            Finding(
                severity=v.severity,
                focus=focus,
                focus_label=labels.get(focus, _short(v.focus, results) or focus),
                path=_short(v.path, results),
                value=_short(v.value, results),
                message=v.message,
                shape=_short(v.source, results) or v.shape,
                component=_short(v.component, results) or "",
            )
        )
    conforms = not any(f.severity == "Violation" for f in findings)
    results.set((report_node, SH.conforms, Literal(not findings)))  # the standard's verdict
    return Report(conforms=conforms, findings=findings, graph=results)


def _focus_iris(results: Graph) -> set[str]:
    return {str(f) for f in results.objects(None, SH.focusNode) if isinstance(f, URIRef)}


def _report_with_labels(results: Graph, labels: dict[str, str]) -> Report:
    """A report whose focus nodes are named by ``labels`` (the data is not at hand)."""
    report = Report.from_results(results, bind_prefixes(Graph()))
    named = [
        Finding(**{**asdict(f), "focus_label": labels.get(f.focus, f.focus_label)})
        for f in report.findings
    ]
    return Report(conforms=report.conforms, findings=named, graph=results)


def _store_labels(store: ox.Store | KzStore, iris: set[str]) -> dict[str, str]:
    """English (or plain) labels of ``iris`` from the store, fetched in one query per 500."""
    labels: dict[str, str] = {}
    ordered = sorted(iris)
    for start in range(0, len(ordered), 500):
        values = " ".join(f"<{i}>" for i in ordered[start : start + 500])
        query = (
            "SELECT ?s ?l WHERE { VALUES ?s { " + values + " } "
            "?s <http://www.w3.org/2000/01/rdf-schema#label> ?l . "
            'FILTER(LANG(?l) = "en" || LANG(?l) = "") }'
        )
        from kzgraph.validation.shacl_sparql import select

        for row in select(store, query):
            labels[str(row["s"])] = str(row["l"])
    return labels

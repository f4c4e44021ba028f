"""SHACL validation of the dataset, with a report grouped by focus node and told in labels.

Two engines give the same findings: pyshacl over an rdflib graph (the reference; pyshacl over an
Oxigraph-backed graph reports false ``sh:in`` violations and is far slower), and the shapes
compiled to SPARQL and run by Oxigraph (:mod:`kzgraph.shacl_sparql`), for graphs too big for
pyshacl and for checking only the nodes a write touched.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import pyoxigraph as ox
from pyshacl import validate as shacl_validate
from rdflib import BNode, Dataset, Graph, Literal, Node, URIRef
from rdflib.namespace import RDF, RDFS, SH, SKOS

from kzgraph.loading import load, load_shapes
from kzgraph.namespaces import bind_prefixes
from kzgraph.settings import Settings

if TYPE_CHECKING:
    from kzgraph.store import Store as KzStore


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


@dataclass
class Report:
    """The outcome of a validation run."""

    conforms: bool
    findings: list[Finding] = field(default_factory=list)
    graph: Graph | None = None

    def by_focus(self) -> dict[str, list[Finding]]:
        """Findings grouped by the node they are about, in a stable order."""
        groups: dict[str, list[Finding]] = defaultdict(list)
        for f in sorted(self.findings, key=lambda f: (f.focus_label, f.focus, f.message)):
            groups[f.focus].append(f)
        return dict(groups)

    def to_text(self) -> str:
        """A report for people: one block per focus node, one line per finding."""
        if self.conforms:
            return "Conforms: the graph satisfies every shape."
        lines = [
            f"Does not conform: {len(self.findings)} finding(s) on {len(self.by_focus())} node(s)."
        ]
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
    for result in results.subjects(RDF.type, SH.ValidationResult):
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
            )
        )
    return findings


def validate_graph(data: Graph, shapes: Graph) -> Report:
    """Validate an rdflib graph against shapes; the graph must carry the ontology it uses."""
    conforms, results, _text = shacl_validate(
        data,
        shacl_graph=shapes,
        inference="none",
        advanced=True,
        allow_warnings=True,
    )
    assert isinstance(results, Graph)
    return Report(conforms=bool(conforms), findings=_findings(results, data), graph=results)


def union_graph(ds: Dataset) -> Graph:
    """All named graphs in one Graph, since SHACL validates a single data graph."""
    g = bind_prefixes(Graph())
    for quad in ds.quads((None, None, None, None)):
        g.add(quad[:3])
    return g


def validate(settings: Settings | None = None, dataset: Dataset | None = None) -> Report:
    """Validate the seeded dataset (or ``dataset``) against the project's shapes.

    >>> validate().conforms
    True
    """
    settings = settings or Settings.discover()
    ds = dataset if dataset is not None else load(settings)
    return validate_graph(union_graph(ds), load_shapes(settings))


def validate_store(
    store: ox.Store | KzStore,
    shapes: Graph,
    focus: Iterable[str] | None = None,
    threads: int = 1,
) -> Report:
    """Validate an Oxigraph store (its default graph) with the SPARQL-compiled engine.

    For graphs pyshacl is too slow for: the same findings as :func:`validate_graph` (the tests
    compare them), computed by Oxigraph in one pass per constraint. With ``focus``, only those
    nodes (and the blank nodes under them) are checked: what an update touched.
    """
    from kzgraph.shacl_sparql import validate_store as run

    violations = run(store, shapes, focus, threads)
    labels = _store_labels(store, {str(v.focus) for v in violations if isinstance(v.focus, URIRef)})
    results = bind_prefixes(Graph())
    report_node = BNode()
    results.add((report_node, RDF.type, SH.ValidationReport))
    results.add((report_node, SH.conforms, Literal(not violations)))
    findings = []
    for v in violations:
        node = BNode()
        results.add((report_node, SH.result, node))
        results.add((node, RDF.type, SH.ValidationResult))
        results.add((node, SH.focusNode, v.focus))
        results.add((node, SH.resultMessage, Literal(v.message)))
        results.add((node, SH.resultSeverity, SH[v.severity]))
        results.add((node, SH.sourceShape, URIRef(v.shape)))
        if v.path is not None:
            results.add((node, SH.resultPath, v.path))
        if v.value is not None:
            results.add((node, SH.value, v.value))
        focus = str(v.focus) if isinstance(v.focus, URIRef) else f"_:{v.focus}"
        findings.append(
            Finding(
                severity=v.severity,
                focus=focus,
                focus_label=labels.get(focus, _short(v.focus, results) or focus),
                path=_short(v.path, results),
                value=_short(v.value, results),
                message=v.message,
                shape=_short(URIRef(v.shape), results) or v.shape,
            )
        )
    return Report(conforms=not violations, findings=findings, graph=results)


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
        from kzgraph.shacl_sparql import select

        for row in select(store, query):
            labels[str(row["s"])] = str(row["l"])
    return labels

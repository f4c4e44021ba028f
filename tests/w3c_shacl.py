"""The W3C SHACL core test suite: its cases, and a comparison of a report with the expected one.

Shared by the conformance test (``tests/test_w3c_shacl.py``, every engine through the command
line) and the engine benchmark (``bench/shacl_engines.py``, every engine through its Python API),
so both judge a report by the same rule.

The rule follows the suite's own: ``sh:conforms`` must agree, and the results must be the same
multiset of (focus node, path, severity, constraint component, source shape, value), messages
ignored. Blank nodes are compared by shape where the suite gives it (a path is compared as its
structure, ``[sh:inversePath ex:p]``) and otherwise match any blank node, since the expected
report cannot name the data's blank nodes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, SH
from rdflib.term import Node

SUITES = {
    "core": Path(__file__).parent / "w3c" / "shacl-core",
    "sparql": Path(__file__).parent / "w3c" / "shacl-sparql",
}
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
SHT = Namespace("http://www.w3.org/ns/shacl-test#")

#: How a report's results are compared: one key per result.
RESULT_TERMS = (
    SH.focusNode,
    SH.resultPath,
    SH.resultSeverity,
    SH.sourceConstraintComponent,
    SH.sourceShape,
    SH.value,
)


@dataclass(frozen=True)
class Case:
    """One validation test of the suite."""

    name: str  # e.g. "node/closed-001"
    data: Path
    shapes: Path
    conforms: bool
    expected: frozenset[tuple[tuple[str, ...], int]]  # result keys with their counts
    failure: bool = False  # the suite expects the engine to refuse the shapes (sht:Failure)


def _path_text(graph: Graph, node: Node) -> str:
    """A path as text, from its structure, so two graphs' blank-node paths compare."""
    if isinstance(node, URIRef):
        return f"<{node}>"
    if (node, RDF.first, None) in graph:
        return "(" + " / ".join(_path_text(graph, n) for n in Collection(graph, node)) + ")"
    for predicate, word in (
        (SH.inversePath, "^"),
        (SH.alternativePath, "|"),
        (SH.zeroOrMorePath, "*"),
        (SH.oneOrMorePath, "+"),
        (SH.zeroOrOnePath, "?"),
    ):
        inner = graph.value(node, predicate)
        if inner is not None:
            if predicate == SH.alternativePath:
                parts = [_path_text(graph, n) for n in Collection(graph, inner)]
                return "(" + " | ".join(parts) + ")"
            return f"{word}{_path_text(graph, inner)}"
    return "_:"


def _term(graph: Graph, predicate: URIRef, node: Node | None) -> str:
    if node is None:
        return "-"
    if predicate == SH.resultPath:
        return _path_text(graph, node)
    if isinstance(node, BNode):
        return "_:"
    if isinstance(node, Literal):
        return node.n3()
    return f"<{node}>"


def result_keys(report: Graph) -> Counter[tuple[str, ...]]:
    """The results of a SHACL validation report (``sh:result``), one comparable key each."""
    keys: Counter[tuple[str, ...]] = Counter()
    # only the report's own results: nested ones under sh:detail are not compared
    for result in report.objects(None, SH.result):
        keys[tuple(_term(report, p, report.value(result, p)) for p in RESULT_TERMS)] += 1
    return keys


def report_conforms(report: Graph) -> bool | None:
    """The report's ``sh:conforms``, or None when it has none."""
    for value in report.objects(None, SH.conforms):
        return bool(value.toPython())
    return None


def _entries(manifest: Path) -> list[tuple[Path, Graph, Node]]:
    graph = Graph().parse(manifest, format="turtle", publicID=manifest.resolve().as_uri())
    found: list[tuple[Path, Graph, Node]] = []
    for included in graph.objects(None, MF.include):
        found.extend(_entries(Path(str(included).removeprefix("file://"))))
    for lst in graph.objects(None, MF.entries):
        for entry in Collection(graph, lst):
            found.append((manifest, graph, entry))
    return found


def cases(suite: str = "core") -> list[Case]:
    """Every ``sht:Validate`` case of a suite (``core`` or ``sparql``), in manifest order."""
    root = SUITES[suite]
    found = []
    for manifest, graph, entry in _entries(root / "manifest.ttl"):
        if (entry, RDF.type, SHT.Validate) not in graph:
            continue
        action = graph.value(entry, MF.action)
        result = graph.value(entry, MF.result)
        rel = manifest.parent.relative_to(root)
        name = f"{rel}/{str(entry).rsplit('/', 1)[-1]}"
        data = Path(str(graph.value(action, SHT.dataGraph)).removeprefix("file://"))
        shapes = Path(str(graph.value(action, SHT.shapesGraph)).removeprefix("file://"))
        if result == SHT.Failure:
            found.append(Case(name, data, shapes, False, frozenset(), failure=True))
            continue
        expected = Graph()
        for triple in _closure(graph, result):
            expected.add(triple)
        conforms = report_conforms(expected)
        found.append(
            Case(
                name=name,
                data=data,
                shapes=shapes,
                conforms=bool(conforms),
                expected=frozenset(result_keys(expected).items()),
            )
        )
    return found


def _closure(graph: Graph, node: Node) -> list[tuple[Node, Node, Node]]:
    """The triples reachable from ``node`` through blank nodes (an inline report)."""
    out: list[tuple[Node, Node, Node]] = []
    stack, seen = [node], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        for p, o in graph.predicate_objects(current):
            out.append((current, p, o))
            if isinstance(o, BNode):
                stack.append(o)
    return out


def judge(case: Case, report: Graph | None) -> str:
    """``pass``, ``silent pass`` (conforms where the data violates), or ``wrong report``.

    ``report`` is None when the engine refused the shapes: a pass exactly where the suite
    expects a refusal (``sht:Failure``), otherwise ``refused``.
    """
    if report is None:
        return "pass" if case.failure else "refused"
    conforms = report_conforms(report)
    if case.failure:
        return "silent pass" if conforms else "wrong report"
    if conforms is None:
        return "no report"
    if conforms and not case.conforms:
        return "silent pass"
    if conforms != case.conforms:
        return "wrong report"
    if frozenset(result_keys(report).items()) != case.expected:
        return "wrong report"
    return "pass"


def difference(case: Case, report: Graph) -> str:
    """What a wrong report has too many and too few of, for a readable failure."""
    got = result_keys(report)
    want = Counter(dict(case.expected))
    extra = got - want
    missing = want - got
    lines = [f"  extra  : {k}" for k in sorted(extra)] + [
        f"  missing: {k}" for k in sorted(missing)
    ]
    return "\n".join(lines)

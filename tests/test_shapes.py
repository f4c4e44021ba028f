"""Every shape passes its valid fixture and fails its invalid one with the message it promises."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import BNode, Graph, URIRef
from rdflib.namespace import RDF, SH

from kzgraph.core.namespaces import KZ, KZSH, ONTOLOGY_GRAPH, PREFIXES, STATUS
from kzgraph.validation.report import validate_graph

FIXTURES = Path(__file__).parent / "fixtures" / "shapes"
HEADER = "".join(f"@prefix {p}: <{iri}> .\n" for p, iri in PREFIXES.items())
HEADER += "@prefix ex: <http://example.org/> .\n"

SHAPE_IDS = sorted(
    str(s).split("#")[-1]
    for s in Graph()
    .parse(Path(__file__).parent.parent / "ontology" / "shapes.ttl")
    .subjects(RDF.type, SH.NodeShape)
    if isinstance(s, URIRef)
)


def _fixture(path: Path) -> tuple[str, str | None]:
    text = path.read_text(encoding="utf-8")
    first = text.splitlines()[0]
    expect = first.removeprefix("# expect:").strip() if first.startswith("# expect:") else None
    return text, expect


def _shape_closure(shapes: Graph, shape: URIRef) -> set:
    """The node shape and every shape nested in it (property shapes, sh:or members...)."""
    seen: set = set()
    todo = [shape]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        for _p, o in shapes.predicate_objects(node):
            if isinstance(o, BNode):
                todo.append(o)
                todo.extend(x for x in shapes.items(o) if isinstance(x, BNode))
    return seen


def _data(fixture: Path, ontology: Graph) -> Graph:
    text, _ = _fixture(fixture)
    data = Graph()
    data.parse(data=HEADER + text, format="turtle")
    for triple in ontology:
        data.add(triple)
    return data


def _results_for(shape_id: str, fixture: Path, shapes: Graph, ontology: Graph) -> list[str]:
    data = _data(fixture, ontology)
    report = validate_graph(data, shapes)
    closure = _shape_closure(shapes, KZSH[shape_id])
    assert report.graph is not None
    messages = []
    for result in report.graph.subjects(RDF.type, SH.ValidationResult):
        if report.graph.value(result, SH.sourceShape) in closure:
            messages.append(str(report.graph.value(result, SH.resultMessage)))
    return messages


@pytest.fixture(scope="module")
def ontology(dataset) -> Graph:
    return dataset.graph(ONTOLOGY_GRAPH)


def test_every_shape_has_both_fixtures():
    assert len(SHAPE_IDS) >= 40
    for shape_id in SHAPE_IDS:
        for kind in ("valid", "invalid"):
            assert (FIXTURES / f"{shape_id}-{kind}.ttl").exists(), f"{shape_id}-{kind}.ttl"


@pytest.mark.parametrize("shape_id", SHAPE_IDS)
def test_valid_fixture_passes(shape_id, shapes, ontology):
    # The fixture must hold a node the shape targets, or passing would prove nothing.
    data = _data(FIXTURES / f"{shape_id}-valid.ttl", ontology)
    targets = list(shapes.objects(KZSH[shape_id], SH.targetClass))
    focus = [
        row
        for target in targets
        for row in data.query(
            "SELECT ?x WHERE { ?x a/rdfs:subClassOf* ?t }", initBindings={"t": target}
        )
    ]
    assert focus, f"{shape_id}-valid.ttl has no node of {targets}"
    messages = _results_for(shape_id, FIXTURES / f"{shape_id}-valid.ttl", shapes, ontology)
    assert messages == []


@pytest.mark.parametrize("shape_id", SHAPE_IDS)
def test_invalid_fixture_fails_with_its_message(shape_id, shapes, ontology):
    path = FIXTURES / f"{shape_id}-invalid.ttl"
    _, expect = _fixture(path)
    assert expect, f"{path.name} must start with '# expect: <message>'"
    messages = _results_for(shape_id, path, shapes, ontology)
    assert any(expect in m for m in messages), f"expected {expect!r}, got {messages}"


def test_seeded_graph_conforms(union, shapes):
    report = validate_graph(union, shapes)
    assert report.conforms, report.to_text()


def test_project_status_must_be_the_most_advanced_stated_stage(shapes, ontology):
    # The rule on kz:statusStatement: a project stated as both planned and under way is under way.
    text = """
    ex:q a kz:AgriculturalProject ; kz:sector sector:agro-processing ;
        kz:status status:planned ; kz:statusStatedAs "plans to invest" ;
        kz:statusStatement ex:s1, ex:s2 .
    ex:s1 a kz:StatusStatement ; kz:status status:planned ; kz:statusStatedAs "plans to invest" ;
        prov:qualifiedDerivation ex:d .
    ex:s2 a kz:StatusStatement ; kz:status status:under-construction ; kz:statusStatedAs "is underway" ;
        prov:qualifiedDerivation ex:d .
    ex:d a prov:Derivation ; prov:entity ex:a ; kz:quotation "x" .
    """
    data = Graph().parse(data=HEADER + text, format="turtle")
    for triple in ontology:
        data.add(triple)
    rule = "is not the most advanced of its kz:statusStatement stages"
    assert rule in validate_graph(data, shapes).to_text()
    data.set((URIRef("http://example.org/q"), KZ.status, STATUS["under-construction"]))
    assert rule not in validate_graph(data, shapes).to_text()

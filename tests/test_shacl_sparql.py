"""The SPARQL-compiled SHACL engine gives pyshacl's report: on the seeded graph, on every shape
fixture, on random edits of the seeded graph, and when limited to the nodes an edit touched."""

from __future__ import annotations

import random
from decimal import Decimal

import pyoxigraph as ox
import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, SH

from kzgraph.validation.report import validate_graph
from kzgraph.validation.shacl_scope import UnsupportedShapeError, Violation
from kzgraph.validation.shacl_sparql import validate_store

from .test_shapes import FIXTURES, HEADER, SHAPE_IDS


def _key(node: object) -> str:
    """Blank nodes are anonymous; literals compare by value (engines differ in lexical form)."""
    if isinstance(node, BNode):
        return "_:b"
    if isinstance(node, Literal):
        value = node.toPython()
        if isinstance(value, Decimal):
            value = value.normalize()
        return f"{value}|{node.datatype}|{node.language}"
    return str(node)


def pyshacl_results(data: Graph, shapes: Graph) -> set[tuple[str, str, str, str]]:
    report = validate_graph(data, shapes)
    assert report.graph is not None
    out = set()
    for r in report.graph.subjects(RDF.type, SH.ValidationResult):
        out.add(
            (
                _key(report.graph.value(r, SH.focusNode)),
                _key(report.graph.value(r, SH.resultPath)),
                _key(report.graph.value(r, SH.value)),
                str(report.graph.value(r, SH.resultMessage)),
            )
        )
    return out


def to_store(data: Graph) -> ox.Store:
    store = ox.Store()
    store.load(data.serialize(format="nt").encode(), format=ox.RdfFormat.N_TRIPLES)
    return store


def engine_results(
    data: Graph | ox.Store, shapes: Graph, focus: set[str] | None = None
) -> set[tuple[str, str, str, str]]:
    store = data if isinstance(data, ox.Store) else to_store(data)
    return {_as_key(v) for v in validate_store(store, shapes, focus)}


def _as_key(v: Violation) -> tuple[str, str, str, str]:
    return (_key(v.focus), _key(v.path), _key(v.value), v.message)


def test_seeded_graph_conforms_on_both_engines(union, shapes):
    assert pyshacl_results(union, shapes) == engine_results(union, shapes) == set()


@pytest.mark.parametrize("kind", ["valid", "invalid"])
@pytest.mark.parametrize("shape_id", SHAPE_IDS)
def test_fixture_gives_the_same_report(shape_id, kind, shapes, dataset):
    from kzgraph.core.namespaces import ONTOLOGY_GRAPH

    data = Graph()
    data.parse(data=HEADER + (FIXTURES / f"{shape_id}-{kind}.ttl").read_text(), format="turtle")
    for triple in dataset.graph(ONTOLOGY_GRAPH):
        data.add(triple)
    expected = pyshacl_results(data, shapes)
    if kind == "invalid":
        assert expected, "an invalid fixture must give pyshacl something to report"
    assert engine_results(data, shapes) == expected


def _edits(union: Graph, rng: random.Random, n: int) -> tuple[Graph, set[str]]:
    """A copy of ``union`` with ``n`` random edits, and the IRIs the edits touched."""
    edited = Graph()
    for triple in union:
        edited.add(triple)
    triples = sorted(
        (t for t in union if not isinstance(t[0], BNode) or rng.random() < 0.5), key=str
    )
    touched: set[str] = set()
    for _ in range(n):
        s, p, o = rng.choice(triples)
        choice = rng.randrange(4)
        if choice == 0:  # drop a statement
            edited.remove((s, p, o))
        elif choice == 1:  # a wrong-typed value
            edited.set((s, p, Literal("not a number")))
        elif choice == 2:  # a second, different value
            edited.add((s, p, URIRef("https://w3id.org/kzgraph/id/x/intruder")))
        else:  # retype the subject
            edited.add(
                (s, RDF.type, rng.choice(sorted(set(union.objects(None, RDF.type)), key=str)))
            )
        for node in (s, o):
            if isinstance(node, URIRef):
                touched.add(str(node))
            elif isinstance(node, BNode):  # a blank node's owner is what a write names
                touched.update(str(x) for x in union.subjects(None, node) if isinstance(x, URIRef))
    return edited, touched


@pytest.mark.parametrize("seed", range(6))
def test_random_edits_give_the_same_report(union, shapes, seed):
    edited, _ = _edits(union, random.Random(seed), 8)
    expected = pyshacl_results(edited, shapes)
    assert expected, "eight random edits should break something"
    assert engine_results(edited, shapes) == expected


@pytest.mark.parametrize("seed", range(6))
def test_incremental_validation_equals_a_full_one(union, shapes, seed):
    # Before: the seeded graph conforms. After an edit, checking only the touched nodes (and the
    # nodes that point to them) finds what a full run finds.
    edited, touched = _edits(union, random.Random(100 + seed), 3)
    store = to_store(edited)
    full = engine_results(store, shapes)
    pointing = {
        str(s) for t in touched for s in edited.subjects(None, URIRef(t)) if isinstance(s, URIRef)
    }
    assert engine_results(store, shapes, touched | pointing) == full


def test_a_wide_focus_gives_what_a_narrow_one_gives(union, shapes):
    # Above FOCUS_LIMIT nodes the engine validates everything once and keeps the focus nodes'
    # findings; the answer must be the one the focused queries give.
    from kzgraph.validation.shacl_sparql import FOCUS_LIMIT

    for seed in range(300, 340):  # edits whose touched nodes a focused run can take
        edited, touched = _edits(union, random.Random(seed), 4)
        pointing = {
            str(s)
            for t in touched
            for s in edited.subjects(None, URIRef(t))
            if isinstance(s, URIRef)
        }
        narrow = touched | pointing
        if len(narrow) <= FOCUS_LIMIT:
            break
    assert len(narrow) <= FOCUS_LIMIT
    store = to_store(edited)
    full = engine_results(store, shapes)
    assert full
    named = sorted({str(s) for s in edited.subjects() if isinstance(s, URIRef)})
    untouched = [n for n in named if n not in narrow]
    assert engine_results(store, shapes, narrow) == full  # the focused queries
    wide = narrow | set(untouched[: FOCUS_LIMIT + 50])
    assert engine_results(store, shapes, wide) == full  # one full pass, filtered
    assert engine_results(store, shapes, set(untouched[: FOCUS_LIMIT + 50])) < full
    assert engine_results(store, shapes, set(named)) == full


@pytest.mark.parametrize("seed", range(3))
def test_checks_run_side_by_side_give_the_same_report(union, shapes, seed):
    edited, _ = _edits(union, random.Random(200 + seed), 8)
    store = to_store(edited)
    one = validate_store(store, shapes)
    assert one, "eight random edits should break something"
    assert validate_store(store, shapes, threads=4) == one


def test_an_uncompiled_feature_is_refused_by_name(shapes):
    extra = Graph()
    for triple in shapes:
        extra.add(triple)
    shape = URIRef("https://w3id.org/kzgraph/shapes#ProjectShape")
    extra.add((shape, SH.closed, Literal(True)))
    with pytest.raises(UnsupportedShapeError, match=r"ProjectShape.*closed"):
        validate_store(ox.Store(), extra)

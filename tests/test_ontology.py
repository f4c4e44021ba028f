"""The ontology is complete and coherent: every term documented, every class shaped, and every
term the data and shapes use declared (a typo in an IRI fails here)."""

from __future__ import annotations

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SH, SKOS

from kzgraph.core.namespaces import BASE, KZ, ONTOLOGY_GRAPH, ONTOLOGY_IRI

OWN = (str(KZ), BASE + "vocab/")


@pytest.fixture(scope="module")
def ontology(dataset) -> Graph:
    return dataset.graph(ONTOLOGY_GRAPH)


def _terms(ontology: Graph, kind: URIRef) -> list[URIRef]:
    return sorted(t for t in ontology.subjects(RDF.type, kind) if str(t).startswith(str(KZ)))


def test_ontology_header(ontology):
    for predicate in (
        OWL.versionIRI,
        OWL.versionInfo,
        DCTERMS.title,
        DCTERMS.description,
        DCTERMS.license,
        DCTERMS.modified,
    ):
        assert ontology.value(ONTOLOGY_IRI, predicate) is not None, predicate
    version = str(ontology.value(ONTOLOGY_IRI, OWL.versionInfo))
    assert str(ontology.value(ONTOLOGY_IRI, OWL.versionIRI)).endswith("/" + version)


@pytest.mark.parametrize(
    "kind",
    [OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty],
    ids=["class", "object-property", "datatype-property"],
)
def test_every_term_has_label_and_definition(ontology, kind):
    terms = _terms(ontology, kind)
    assert terms
    undocumented = [
        t
        for t in terms
        if ontology.value(t, RDFS.label) is None
        or (ontology.value(t, SKOS.definition) is None and ontology.value(t, RDFS.comment) is None)
    ]
    assert not undocumented


def test_required_classes_exist(ontology):
    required = [
        "Company",
        "GovernmentBody",
        "Person",
        "Country",
        "Region",
        "City",
        "Place",
        "Project",
        "Facility",
        "MonetaryAmount",
        "Agreement",
        "Event",
        "Forum",
        "Corridor",
        "TradeFlow",
        "Commodity",
        "Quantity",
        "SourceDocument",
    ]
    for name in required:
        assert (KZ[name], RDF.type, OWL.Class) in ontology, name


def test_every_class_has_a_shape(ontology, shapes):
    targeted = set(shapes.objects(None, SH.targetClass))
    missing = [c for c in _terms(ontology, OWL.Class) if c not in targeted]
    assert not missing, f"classes without a NodeShape: {missing}"


def test_domains_and_ranges_are_declared(ontology):
    declared = set(ontology.subjects(RDF.type, OWL.Class))
    for predicate in (RDFS.domain, RDFS.range):
        for term, cls in ontology.subject_objects(predicate):
            if str(cls).startswith(str(KZ)):
                assert cls in declared, f"{term} {predicate} {cls} is not a declared class"


def _declared(ontology: Graph) -> set[URIRef]:
    return {s for s in ontology.subjects() if isinstance(s, URIRef)}


def test_every_term_the_data_uses_is_declared(dataset, ontology):
    declared = _declared(ontology)
    used = set()
    for _s, p, o, g in dataset.quads((None, None, None, None)):
        if g == ONTOLOGY_GRAPH:
            continue
        used.add(p)
        if p == RDF.type or str(o).startswith(OWN):
            used.add(o)
    unknown = sorted(t for t in used if str(t).startswith(OWN) and t not in declared)
    assert not unknown, f"terms used in graph/ but not declared in ontology/: {unknown}"


def test_every_term_the_shapes_use_is_declared(ontology, shapes):
    declared = _declared(ontology)
    used = set(shapes.objects(None, SH.path)) | set(shapes.objects(None, SH.targetClass))
    used |= set(shapes.objects(None, SH["class"])) | set(shapes.objects(None, SH.hasValue))
    for lst in shapes.objects(None, SH["in"]):
        used |= set(shapes.items(lst))
    unknown = sorted(
        t for t in used if isinstance(t, URIRef) and str(t).startswith(OWN) and t not in declared
    )
    assert not unknown, unknown


def test_isic_codes_only_on_leaf_or_exact_sectors(ontology):
    codes = list(ontology.subject_objects(KZ.isicRev4))
    assert codes
    assert len({str(c) for _, c in codes}) == len(codes), "two sectors claim one ISIC class"

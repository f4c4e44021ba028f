"""Both stores hold the same data and give the same answers; bindings are RDF terms."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Literal, URIRef

from kzgraph.core.namespaces import entity
from kzgraph.store.engines import OxigraphStore, QuerySyntaxError, open_store

QUERIES = [
    "SELECT ?firm ?label WHERE { ?p kz:investor|kz:developer|kz:partner ?firm . ?firm rdfs:label ?label . FILTER(lang(?label) = 'en') } ORDER BY ?firm ?label",
    "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g",
    "SELECT ?flow ?v WHERE { ?flow a kz:TradeFlow ; kz:amount/kz:value ?v } ORDER BY ?flow",
    "SELECT ?r ?code WHERE { ?r a kz:Region ; kz:iso3166_2Code ?code } ORDER BY ?code",
]


def test_same_size(stores):
    assert len(stores["rdflib"]) == len(stores["oxigraph"])


@pytest.mark.parametrize("query", QUERIES)
def test_same_answers(stores, query):
    a = stores["rdflib"].query(query)
    b = stores["oxigraph"].query(query)
    assert a.variables == b.variables

    # Oxigraph writes decimals in canonical form (95000000000, not 95000000000.0): compare values.
    def values(rows):
        return [tuple(v.toPython() if isinstance(v, Literal) else v for v in row) for row in rows]

    assert values(a.rows) == values(b.rows)
    assert a.rows


def test_ask_and_construct(stores):
    for store in stores.values():
        assert store.query("ASK { company:tbea a kz:Company }").boolean is True
        graph = store.query("CONSTRUCT { company:tbea ?p ?o } WHERE { company:tbea ?p ?o }").graph
        assert graph is not None and len(graph) >= 3


@pytest.mark.parametrize(
    "hostile",
    [
        'x" } UNION { ?s ?p ?o } #',
        "'} ; DROP ALL ; {",
        'Fufeng Group" . } SELECT * WHERE { ?a ?b ?c',
        "}}}}",
    ],
)
def test_bindings_are_terms_not_text(stores, hostile):
    query = "SELECT ?thing ?label WHERE { ?thing rdfs:label ?label }"
    for store in stores.values():
        rows = store.query(query, {"label": Literal(hostile, lang="en")}).rows
        assert rows == []
        genuine = store.query(query, {"label": Literal("Fufeng Group", lang="en")}).rows
        assert [r[0] for r in genuine] == [entity("company", "fufeng-group")]


def test_iri_binding(stores):
    for store in stores.values():
        rows = store.query(
            "SELECT ?x ?l WHERE { ?x rdfs:label ?l }", {"x": URIRef(entity("company", "tbea"))}
        ).rows
        assert [str(r[1]) for r in rows] == ["TBEA Company Limited"]


def test_syntax_errors_are_reported(stores):
    for store in stores.values():
        with pytest.raises(QuerySyntaxError, match="SPARQL syntax error"):
            store.query("SELECT ?x WHERE { ?x ?y }")


def test_on_disk_store_keeps_its_data_across_opens(tmp_path: Path, dataset):
    path = tmp_path / "store"
    first = open_store("oxigraph", path, dataset=dataset)
    size = len(first)
    assert isinstance(first, OxigraphStore)
    first.store.update("INSERT DATA { GRAPH <urn:test> { <urn:a> <urn:b> <urn:c> } }")
    first.store.flush()
    del first
    reopened = open_store("oxigraph", path)
    assert len(reopened) == size + 1


def test_unknown_engine_is_refused():
    from kzgraph.core.errors import KzgraphError

    with pytest.raises(KzgraphError, match="unknown store engine"):
        open_store("virtuoso")


def _quads_without_blank_labels(store: OxigraphStore) -> set[tuple[str, ...]]:
    import pyoxigraph as ox

    return {
        tuple("_" if isinstance(t, ox.BlankNode) else str(t) for t in quad) for quad in store.store
    }


def test_oxigraph_reads_the_project_as_rdflib_does(settings, dataset):
    """The fast path (Oxigraph's parsers) holds the quads the rdflib loader gives, graph by graph."""
    fast = OxigraphStore()
    fast.load_project(settings)
    reference = OxigraphStore()
    reference.load_dataset(dataset)
    assert len(fast) == len(reference) == len(list(dataset.quads((None, None, None, None))))
    assert _quads_without_blank_labels(fast) == _quads_without_blank_labels(reference)


def test_labels_of_a_result_match_the_full_label_map(stores):
    from kzgraph.queries.running import label_map, labels_of

    for store in stores.values():
        result = store.query("SELECT ?p ?r WHERE { ?p kz:region ?r }")
        terms = [t for row in result.rows for t in row]
        full = label_map(store)
        wanted = {t: full[t] for t in terms if t in full}
        assert labels_of(store, terms) == wanted
        assert wanted  # the seeded data names its firms and projects

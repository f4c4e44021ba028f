"""The safety reader decides on structure: SPARQL's terminals, prefixes expanded, brackets matched."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kzgraph.core.namespaces import PREFIXES
from kzgraph.core.sparql_text import MAX_CHAIN, MAX_DEPTH, scan
from kzgraph.endpoint.http.protocol import ProtocolError
from kzgraph.endpoint.safety.rules import check_query, check_update

KEYWORDS = st.sampled_from(["SERVICE", "LOAD", "FROM", "INSERT", "service", "Load"])
TARGET = "http://127.0.0.1:9/"

#: Spellings of SERVICE that a keyword scan missed (issue 10) and more of the same families.
SERVICE_FORMS = [
    f"SELECT ?x WHERE {{ # c\rSERVICE <{TARGET}> {{ ?x ?p ?o }} }}",
    f"SELECT ?x WHERE {{ # c\r\nSERVICE <{TARGET}> {{ ?x ?p ?o }} }}",
    f"PREFIX : <{TARGET}> SELECT ?x WHERE {{ SERVICE:glued {{ ?x ?p ?o }} }}",
    f"PREFIX : <{TARGET}> SELECT ?x WHERE {{ service:glued {{ ?x ?p ?o }} }}",
    f"PREFIX a: <http://x/#> SELECT ?x WHERE {{ ?s a a:.SERVICE <{TARGET}> {{ ?x ?p ?o }} }}",
    f"SELECT ?x WHERE {{ sErViCe <{TARGET}> {{ ?x ?p ?o }} }}",
    f"SELECT ?x WHERE {{ SERVICE SILENT <{TARGET}> {{ ?x ?p ?o }} }}",
    f"SELECT ?x WHERE {{ {{ {{ OPTIONAL {{ SERVICE <{TARGET}> {{ ?x ?p ?o }} }} }} }} }}",
    f"SELECT ?x WHERE {{ BIND(<{TARGET}> AS ?e) SERVICE ?e {{ ?x ?p ?o }} }}",
    f'SELECT ?x WHERE {{ ?s ?p "x" . SERVICE <{TARGET}> {{ ?x ?p ?o }} }}',
    f"SELECT ?x WHERE {{ ?s ?p 1.SERVICE <{TARGET}> {{ ?x ?p ?o }} }}",
    f"BASE <{TARGET}> SELECT ?x WHERE {{ SERVICE <> {{ ?x ?p ?o }} }}",
    f"SELECT ?x WHERE {{ FILTER EXISTS {{ SERVICE <{TARGET}> {{ ?x ?p ?o }} }} }}",
    f"ASK {{ SERVICE <{TARGET}> {{ ?x ?p ?o }} }}",
    f"CONSTRUCT {{ ?x ?p ?o }} WHERE {{ SERVICE <{TARGET}> {{ ?x ?p ?o }} }}",
    f"DESCRIBE ?x WHERE {{ SERVICE <{TARGET}> {{ ?x ?p ?o }} }}",
    f"SELECT * {{ SELECT ?x {{ SERVICE <{TARGET}> {{ ?x ?p ?o }} }} }}",
    # codepoint escapes, which engines other than Oxigraph replace before parsing
    rf"SELECT ?x WHERE {{ S\u0045RVICE <{TARGET}> {{ ?x ?p ?o }} }}",
    rf"SELECT ?x WHERE {{ \U00000053ervice SILENT <{TARGET}> {{ ?x ?p ?o }} }}",
]

LOAD_FORMS = [
    f"INSERT DATA {{ GRAPH <urn:g> {{ <urn:a> <urn:b> <urn:c> }} }} ; # c\rLOAD <{TARGET}>",
    f"PREFIX : <{TARGET}> LOAD:x",
    f"load <{TARGET}> INTO GRAPH <urn:g>",
    f"LOAD SILENT <{TARGET}>",
    f"WITH <urn:g> DELETE {{ ?s ?p ?o }} WHERE {{ SERVICE <{TARGET}> {{ ?s ?p ?o }} }}",
    f"INSERT {{ GRAPH <urn:g> {{ ?s ?p ?o }} }} WHERE {{ SERVICE <{TARGET}> {{ ?s ?p ?o }} }}",
    rf"L\u004fAD <{TARGET}>",
    rf"INSERT DATA {{ GRAPH <urn:g> {{ <urn:a> <urn:b> <urn:c> }} }} ; \u004coad <{TARGET}>",
]


@given(st.text(max_size=300))
def test_scan_never_fails(text):
    result = scan(text, PREFIXES, "http://127.0.0.1:7878/sparql")
    assert isinstance(result.keywords, set)


@given(st.text(alphabet="<>[]:/?#@!$&'()*+,;=%abc1 \r\n{}", max_size=60))
def test_from_targets_never_break_the_reader(iri):
    scan(f"SELECT * FROM <{iri}> WHERE {{}}", PREFIXES, "http://127.0.0.1:7878/sparql")
    scan(f"BASE <{iri}> SELECT * FROM <g> WHERE {{}}", PREFIXES)


@given(KEYWORDS, st.text(alphabet=st.characters(blacklist_characters='"\\\n\r'), max_size=20))
def test_keywords_inside_strings_iris_and_comments_do_not_count(word, filler):
    query = f'SELECT * WHERE {{ ?s <http://ex.org/{word}> "{filler} {word}" }} # {word}\n'
    found = scan(query)
    assert word.upper() not in found.keywords
    assert found.form == "SELECT"
    assert not found.service


@pytest.mark.parametrize("query", SERVICE_FORMS)
def test_every_spelling_of_service_is_refused(query):
    with pytest.raises(ProtocolError, match="SERVICE is refused"):
        check_query(query, [])


@pytest.mark.parametrize("update", LOAD_FORMS)
def test_load_and_service_in_updates_are_refused(update):
    with pytest.raises(ProtocolError, match=r"(LOAD|SERVICE) is refused"):
        check_update(update)


def test_a_comment_ends_at_a_carriage_return():
    assert scan("SELECT * WHERE { # x\r?s ?p ?o }").keywords == {"SELECT", "WHERE"}
    assert scan("SELECT * WHERE { # x SERVICE\n?s ?p ?o }").service is False


def test_prefixed_names_and_variables_are_not_keywords():
    found = scan("PREFIX ex: <http://ex/> SELECT ?service ?load WHERE { ?service ex:LOAD ex:from }")
    assert not found.service and not found.load
    assert found.from_iris == []


def test_from_names_are_expanded_and_checked():
    found = scan("SELECT * FROM <urn:a> FROM NAMED <urn:b> WHERE { ?s ?p ?o }")
    assert found.from_iris == ["urn:a", "urn:b"]
    with pytest.raises(ProtocolError, match="never fetched"):
        check_query("SELECT * FROM <urn:a> WHERE { ?s ?p ?o }", ["urn:b"])
    with pytest.raises(ProtocolError, match="file:///etc/passwd"):
        check_query("PREFIX f: <file:///etc/> SELECT * FROM f:passwd WHERE { ?s ?p ?o }", [])
    with pytest.raises(ProtocolError, match="FROM must be followed by an IRI"):
        check_query("SELECT * FROM\u00a0<file:///etc/passwd> WHERE { ?s ?p ?o }", [])
    graph = "https://w3id.org/kzgraph/graph/iso4217"
    assert check_query("SELECT * FROM kzg:iso4217 { ?s ?p ?o }", [graph]).from_iris == [graph]
    relative = check_query("BASE <http://ex/> SELECT * FROM <g> {}", ["http://ex/g"])
    assert relative.from_iris == ["http://ex/g"]


@pytest.mark.parametrize(
    "update",
    [
        "INSERT DATA { <urn:a> <urn:b> <urn:c> }",
        "DELETE DATA { <urn:a> <urn:b> <urn:c> }",
        "INSERT { ?s <urn:b> 1 } WHERE { ?s ?p ?o }",
        "DELETE WHERE { ?s <urn:b> ?o }",
        "INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> <urn:c> } <urn:x> <urn:y> <urn:z> }",
        "CLEAR DEFAULT",
        "DROP DEFAULT",
        "COPY <urn:a> TO DEFAULT",
        "MOVE DEFAULT TO <urn:a>",
        "INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> <urn:c> } } ; DELETE DATA { <urn:a> <urn:b> <urn:c> }",
    ],
)
def test_default_graph_writes_are_refused(update):
    with pytest.raises(ProtocolError, match="writes the default graph"):
        check_update(update)


@pytest.mark.parametrize(
    "update",
    [
        "INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> <urn:c> } }",
        "WITH <urn:g> INSERT { ?s <urn:b> 1 } WHERE { ?s ?p ?o }",
        "DELETE { GRAPH <urn:g> { ?s ?p ?o } } WHERE { GRAPH <urn:g> { ?s ?p ?o } }",
        "CLEAR GRAPH <urn:g>",
        "CLEAR ALL",
        "COPY DEFAULT TO <urn:a>",
        "PREFIX x: <urn:x:> INSERT DATA { GRAPH x:g { x:a x:b x:c } } ; PREFIX y: <urn:y:> DELETE DATA { GRAPH y:g { y:a y:b y:c } }",
    ],
)
def test_named_graph_writes_pass(update):
    check_update(update)


def test_using_graph_uri_conflicts_with_using_and_with():
    with pytest.raises(ProtocolError, match="USING or WITH"):
        check_update("WITH <urn:g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }", using=True)
    with pytest.raises(ProtocolError, match="USING or WITH"):
        check_update(
            "DELETE { GRAPH <urn:g> { ?s ?p ?o } } USING <urn:g> WHERE { ?s ?p ?o }", using=True
        )


@pytest.mark.parametrize(
    ("opener", "closer"), [("(", ")"), ("{", "}"), ("[", "]")], ids=["paren", "brace", "bracket"]
)
def test_nesting_is_bounded(opener, closer):
    deep = "SELECT * WHERE { ?s ?p " + opener * (MAX_DEPTH + 5) + closer * (MAX_DEPTH + 5) + " }"
    with pytest.raises(ProtocolError, match="nest"):
        check_query(deep, [])
    ok = "SELECT * WHERE { FILTER(" + "(" * 10 + "1" + ")" * 10 + ") }"
    check_query(ok, [])


@pytest.mark.parametrize("op", ["||", "&&", "+", "/", "|", "UNION"])
def test_operator_chains_are_bounded(op):
    term = "{ ?s ?p ?o }" if op == "UNION" else "1"
    chain = f" {op} ".join([term] * (MAX_CHAIN + 10))
    query = (
        f"SELECT * WHERE {{ {chain} }}"
        if op == "UNION"
        else f"SELECT * WHERE {{ FILTER({chain}) }}"
    )
    with pytest.raises(ProtocolError, match="operators"):
        check_query(query, [])

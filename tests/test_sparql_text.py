"""The safety scanner reads keywords only where SPARQL has them, whatever the input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kzgraph.endpoint.protocol import ProtocolError
from kzgraph.endpoint.safety import check_query, check_update
from kzgraph.endpoint.sparql_text import scan

KEYWORDS = st.sampled_from(["SERVICE", "LOAD", "FROM", "INSERT", "service", "Load"])


@given(st.text(max_size=300))
def test_scan_never_fails(text):
    result = scan(text)
    assert isinstance(result.keywords, set)


@given(KEYWORDS, st.text(alphabet=st.characters(blacklist_characters='"\\\n\r'), max_size=20))
def test_keywords_inside_strings_iris_and_comments_do_not_count(word, filler):
    query = f'SELECT * WHERE {{ ?s <http://ex.org/{word}> "{filler} {word}" }} # {word}\n'
    found = scan(query)
    assert word.upper() not in found.keywords
    assert found.form == "SELECT"


@given(st.sampled_from(["SERVICE", "service", "Service"]))
def test_service_is_found_in_any_case(word):
    with pytest.raises(ProtocolError, match="SERVICE is refused"):
        check_query(f"SELECT * WHERE {{ {word} <http://ex.org/sparql> {{ ?s ?p ?o }} }}", [])


def test_prefixed_names_and_variables_are_not_keywords():
    found = scan("PREFIX ex: <http://ex/> SELECT ?service ?load WHERE { ?service ex:LOAD ex:from }")
    assert not {"SERVICE", "LOAD"} & found.keywords
    assert found.from_iris == []


def test_from_named_collects_the_graphs():
    found = scan("SELECT * FROM <urn:a> FROM NAMED <urn:b> WHERE { ?s ?p ?o }")
    assert found.from_iris == ["urn:a", "urn:b"]
    with pytest.raises(ProtocolError, match="never fetched"):
        check_query("SELECT * FROM <urn:a> WHERE { ?s ?p ?o }", ["urn:b"])


def test_load_is_refused_in_updates():
    with pytest.raises(ProtocolError, match="LOAD is refused"):
        check_update("LOAD <file:///etc/passwd> INTO GRAPH <urn:x>")
    check_update('INSERT DATA { <urn:a> <urn:b> "load" }')

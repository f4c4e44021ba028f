"""`kzgraph push FILE...` against a real Oxigraph server of its own (not the shared one the
parity tests compare with): a user's files land graph by graph, a project push leaves them alone,
bad input changes nothing on the store."""

from __future__ import annotations

import gzip

import pytest

from kzgraph.core.namespaces import GRAPH
from kzgraph.remote.push import LOADED
from kzgraph.remote.stores import Backend, RemoteStore, graph_counts

from .server_process import kzgraph, oxigraph_server

TURTLE = """@prefix ex: <http://example.org/> .
ex:a ex:knows ex:b , ex:c .
ex:b ex:name "B" .
"""
NQUADS = """<http://example.org/x> <http://example.org/p> "1" <http://example.org/g1> .
<http://example.org/y> <http://example.org/p> "2" <http://example.org/g1> .
<http://example.org/x> <http://example.org/p> "3" <http://example.org/g2> .
<http://example.org/z> <http://example.org/p> "in the file's default graph" .
"""


@pytest.fixture
def oxigraph(tmp_path):
    """An empty Oxigraph server on loopback; yields its query URL."""
    with oxigraph_server(tmp_path / "store") as url:
        yield url


def counts(url: str) -> dict[str, int]:
    return graph_counts(RemoteStore(Backend(url)))


def test_files_land_graph_by_graph_and_a_project_push_leaves_them(oxigraph, tmp_path):
    ttl = tmp_path / "people.ttl"
    ttl.write_text(TURTLE, encoding="utf-8")
    nq = tmp_path / "more.nq.gz"
    nq.write_bytes(gzip.compress(NQUADS.encode()))
    out = kzgraph("push", "--backend", oxigraph, str(ttl), str(nq))
    assert out.returncode == 0, out.stderr
    assert "all counts match" in out.stdout
    expected = {
        f"{LOADED}people": 3,  # a triples file: kzgraph load's default graph
        "http://example.org/g1": 2,
        "http://example.org/g2": 1,
        f"{LOADED}more": 1,  # the quad file's default-graph triple
    }
    assert counts(oxigraph) == expected
    merged = RemoteStore(Backend(oxigraph)).query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    assert int(str(merged.rows[0][0])) == sum(expected.values())

    # again: the same store; then the project push adds its graphs and drops none of these
    assert kzgraph("push", "--backend", oxigraph, str(ttl), str(nq)).returncode == 0
    assert counts(oxigraph) == expected
    out = kzgraph("push", "--backend", oxigraph)
    assert out.returncode == 0, out.stderr
    after = counts(oxigraph)
    assert {g: after[g] for g in expected} == expected
    assert "dropped" not in out.stdout
    assert any(g.startswith(GRAPH) and not g.startswith(LOADED) for g in after)


def test_graph_option_names_where_triples_go(oxigraph, tmp_path):
    ttl = tmp_path / "people.ttl"
    ttl.write_text(TURTLE, encoding="utf-8")
    out = kzgraph("push", "--backend", oxigraph, "--graph", "urn:my:people", str(ttl))
    assert out.returncode == 0, out.stderr
    assert counts(oxigraph) == {"urn:my:people": 3}


def test_a_syntax_error_in_any_file_sends_nothing(oxigraph, tmp_path):
    good = tmp_path / "good.ttl"
    good.write_text(TURTLE, encoding="utf-8")
    bad = tmp_path / "bad.ttl"
    bad.write_text(TURTLE + "ex:c ex:name 'unterminated .\n", encoding="utf-8")
    out = kzgraph("push", "--backend", oxigraph, str(good), str(bad))
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "bad.ttl: syntax error" in out.stderr and "line 4" in out.stderr, out.stderr
    assert counts(oxigraph) == {}


def test_a_graph_the_project_push_owns_is_refused(oxigraph, tmp_path):
    trig = tmp_path / "mine.trig"
    trig.write_text(f"<{GRAPH}000_x> {{ <urn:a> <urn:b> <urn:c> }}\n", encoding="utf-8")
    out = kzgraph("push", "--backend", oxigraph, str(trig))
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert f"graph <{GRAPH}000_x> is in kzgraph's own graph namespace" in out.stderr
    assert counts(oxigraph) == {}


def test_graph_without_files_is_a_usage_error(oxigraph):
    out = kzgraph("push", "--backend", oxigraph, "--graph", "urn:x")
    assert out.returncode == 2 and "--graph names where FILES go" in out.stderr

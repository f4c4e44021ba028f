"""Writes do what they say: each takes effect atomically and durably, or is refused with a 4xx.

The default graph is the merge of the named graphs, derived after every write; operations that
would write it directly are refused (400). Tested against a real server with an on-disk store,
with curl (HTTP/2 upgrade), Java's HttpClient, SPARQLWrapper, and kill -9.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from .hostile import Listener, load_forms
from .server_process import Server

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {"Accept": "application/sparql-results+json"}


@pytest.fixture(scope="module")
def writable(tmp_path_factory):
    store = tmp_path_factory.mktemp("writes") / "db"
    s = Server("--store", str(store), "--allow-updates", "--workers", "1", "--no-validate",
               env={"KZGRAPH_TOKEN": TOKEN})  # fmt: skip
    yield s
    s.stop()


@pytest.fixture()
def client(writable):
    with httpx.Client(base_url=writable.url, timeout=60) as c:
        yield c


def update(client: httpx.Client, text: str, **params: str) -> httpx.Response:
    return client.post("/sparql", data={"update": text, **params}, headers=AUTH)


def ask(client: httpx.Client, query: str) -> bool:
    r = client.get("/sparql", params={"query": query}, headers=JSON)
    assert r.status_code == 200, r.text
    return bool(r.json()["boolean"])


def count(client: httpx.Client) -> int:
    r = client.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }"}, headers=JSON)  # fmt: skip
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


@pytest.mark.parametrize(
    "text",
    [
        "INSERT DATA { <urn:w:a> <urn:w:b> <urn:w:c> }",
        "DELETE DATA { <https://w3id.org/kzgraph/id/company/tbea> a <https://w3id.org/kzgraph/ontology#Company> }",
        "CLEAR DEFAULT",
        "INSERT DATA { GRAPH <urn:w:g> { <urn:w:a> <urn:w:b> <urn:w:c> } } ; INSERT DATA { <urn:w:x> <urn:w:y> <urn:w:z> }",
    ],
)
def test_default_graph_writes_are_refused_and_change_nothing(client, text):
    before = count(client)
    r = update(client, text)
    assert r.status_code == 400 and "default graph" in r.text
    assert count(client) == before
    assert not ask(client, "ASK { GRAPH <urn:w:g> { ?s ?p ?o } }")


def test_a_later_operation_sees_an_earlier_one(client):
    r = update(
        client,
        "INSERT DATA { GRAPH <urn:w:two> { <urn:w:s> <urn:w:p> 1 } } ;"
        "INSERT { GRAPH <urn:w:two> { ?s <urn:w:seen> true } } WHERE { ?s <urn:w:p> 1 }",
    )
    assert r.status_code == 204, r.text
    assert ask(client, "ASK { <urn:w:s> <urn:w:seen> true }")  # through the default graph too


def test_a_failing_operation_undoes_the_whole_request(client):
    r = update(
        client,
        "INSERT DATA { GRAPH <urn:w:atomic> { <urn:w:a> <urn:w:b> 1 } } ; CLEAR GRAPH <urn:w:missing>",
    )
    assert r.status_code == 400
    assert not ask(client, "ASK { GRAPH <urn:w:atomic> { ?s ?p ?o } }")


def test_load_and_service_never_leave_the_host(client):
    listener = Listener()
    try:
        for text in load_forms(listener.url):
            r = update(client, text)
            assert r.status_code == 400, (text, r.text)
        assert listener.contacts == 0
    finally:
        listener.close()


def test_updates_are_post_only(client):
    r = client.get("/sparql", params={"update": "CLEAR ALL"}, headers=AUTH)
    assert r.status_code == 405
    assert count(client) > 6000


def test_an_update_only_in_the_url_of_an_empty_form_is_refused(client):
    """The W3C runner's bad_update_form_body_missing: a form POST whose body is empty and whose
    URL says update=CLEAR ALL is a malformed request, answered 400, and clears nothing."""
    before = count(client)
    form = {**AUTH, "Content-Type": "application/x-www-form-urlencoded"}
    r = client.post("/sparql", params={"update": "CLEAR ALL"}, content=b"", headers=form)
    assert r.status_code == 400 and "in its body" in r.text
    r = client.post("/sparql", params={"query": "ASK {}"}, content=b"", headers=form)
    assert r.status_code == 400
    assert count(client) == before > 6000


def test_using_graph_uri(client):
    assert update(client, "INSERT DATA { GRAPH <urn:w:src> { <urn:w:in> <urn:w:p> 1 } GRAPH <urn:w:other> { <urn:w:out> <urn:w:p> 1 } }").status_code == 204  # fmt: skip
    text = "INSERT { GRAPH <urn:w:dst> { ?s <urn:w:picked> true } } WHERE { ?s <urn:w:p> 1 }"
    assert update(client, text, **{"using-graph-uri": "urn:w:src"}).status_code == 204
    assert ask(client, "ASK { GRAPH <urn:w:dst> { <urn:w:in> <urn:w:picked> true } }")
    assert not ask(client, "ASK { GRAPH <urn:w:dst> { <urn:w:out> <urn:w:picked> true } }")
    clash = "WITH <urn:w:dst> INSERT { ?s <urn:w:q> 1 } WHERE { ?s ?p ?o }"
    r = update(client, clash, **{"using-graph-uri": "urn:w:src"})
    assert r.status_code == 400 and "USING or WITH" in r.text


def test_relative_iris_resolve_against_the_service(client, writable):
    r = client.get("/sparql", params={"query": "CONSTRUCT { <s> <p> 1 } WHERE {}"}, headers={"Accept": "application/n-triples"})  # fmt: skip
    assert r.status_code == 200
    assert r.text.startswith(f'<{writable.url}s> <{writable.url}p> "1"^^')
    assert update(client, "INSERT DATA { GRAPH <rel-g> { <rel-s> <rel-p> 1 } }").status_code == 204
    assert ask(client, f"ASK {{ GRAPH <{writable.url}rel-g> {{ <{writable.url}rel-s> ?p 1 }} }}")


def test_charsets_other_than_utf8_are_refused(client):
    r = client.post("/sparql", content="ASK {}", headers={"Content-Type": "application/sparql-query; charset=ISO-8859-1"})  # fmt: skip
    assert r.status_code == 415


def test_graph_store_json_ld_post_location_and_allow(client):
    r = client.put("/store", params={"graph": "urn:w:jsonld"}, headers={**AUTH, "Content-Type": "application/ld+json"},
                   content='{"@id": "urn:w:j", "urn:w:p": "v"}')  # fmt: skip
    assert r.status_code == 201, r.text
    assert ask(client, 'ASK { GRAPH <urn:w:jsonld> { <urn:w:j> <urn:w:p> "v" } }')
    r = client.post(
        "/store",
        headers={**AUTH, "Content-Type": "text/turtle"},
        content="<urn:w:new> <urn:w:p> 1 .",
    )
    # Location is the new graph's IRI (Graph Store Protocol §5.5), read back at /store?graph=
    assert r.status_code == 201 and r.headers["Location"].startswith("https://w3id.org/kzgraph/")
    got = client.get(
        "/store",
        params={"graph": r.headers["Location"]},
        headers={"Accept": "application/n-triples"},
    )
    assert "<urn:w:new>" in got.text
    r = client.request("PATCH", "/store", params={"graph": "urn:w:jsonld"})
    assert r.status_code == 405
    assert set(r.headers["Allow"].replace(" ", "").split(",")) == {
        "GET",
        "HEAD",
        "PUT",
        "POST",
        "DELETE",
    }


def test_rdf_xml_entity_expansion_is_refused(client):
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "' + "a" * 1000 + '">'
        + "".join(f'<!ENTITY {c} "{("&" + p + ";") * 10}">' for p, c in zip("abcdef", "bcdefg", strict=True))
        + ']><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="urn:w:s"><rdf:value>&g;</rdf:value></rdf:Description></rdf:RDF>'
    )  # fmt: skip
    r = client.put("/store", params={"graph": "urn:w:bomb"}, headers={**AUTH, "Content-Type": "application/rdf+xml"}, content=bomb)  # fmt: skip
    assert r.status_code == 400 and "entity" in r.text
    assert not ask(client, "ASK { GRAPH <urn:w:bomb> { ?s ?p ?o } }")


def test_head_on_sparql(client):
    r = client.head("/sparql", params={"query": "ASK {}"}, headers=JSON)
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "application/sparql-results+json"
    )
    assert r.content == b""


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_http2_upgrade_keeps_the_body(client, writable):
    """`curl --http2` asks for an h2c upgrade; the body must still reach the store."""
    out = subprocess.run(
        ["curl", "-sS", "--http2", "-X", "PUT", "-o", "/dev/null", "-w", "%{http_code}",
         "-H", f"Authorization: Bearer {TOKEN}", "-H", "Content-Type: text/turtle",
         "--data-binary", "<urn:w:h2> <urn:w:p> 2 .", f"{writable.url}store?graph=urn:w:h2"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.stdout in ("201", "204"), out
    assert ask(client, "ASK { GRAPH <urn:w:h2> { <urn:w:h2> <urn:w:p> 2 } }")
    out = subprocess.run(
        ["curl", "-sS", "--http2", "-o", "/dev/null", "-w", "%{http_code}", "-H", f"Authorization: Bearer {TOKEN}",
         "--data-urlencode", "update=INSERT DATA { GRAPH <urn:w:h2u> { <urn:w:u> <urn:w:p> 3 } }", f"{writable.url}sparql"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.stdout == "204", out
    assert ask(client, "ASK { GRAPH <urn:w:h2u> { <urn:w:u> <urn:w:p> 3 } }")


JAVA_CLIENT = """
import java.net.URI;
import java.net.http.*;
public class Put {
  public static void main(String[] a) throws Exception {
    HttpClient c = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
    HttpRequest put = HttpRequest.newBuilder(URI.create(a[0] + "store?graph=urn:w:java"))
      .header("Authorization", "Bearer " + a[1]).header("Content-Type", "text/turtle")
      .PUT(HttpRequest.BodyPublishers.ofString("<urn:w:java> <urn:w:p> 4 .")).build();
    System.out.println(c.send(put, HttpResponse.BodyHandlers.ofString()).statusCode());
    HttpRequest q = HttpRequest.newBuilder(URI.create(a[0] + "sparql"))
      .header("Content-Type", "application/sparql-query").header("Accept", "text/csv")
      .POST(HttpRequest.BodyPublishers.ofString("SELECT ?o WHERE { GRAPH <urn:w:java> { ?s ?p ?o } }")).build();
    System.out.println(c.send(q, HttpResponse.BodyHandlers.ofString()).body().trim().replace("\\r\\n", "|"));
  }
}
"""


@pytest.mark.skipif(shutil.which("java") is None, reason="no Java runtime on this machine")
def test_java_httpclient_h2c_upgrade(writable, tmp_path):
    """Java's HttpClient (what Jena uses) sends Upgrade: h2c with every request."""
    source = tmp_path / "Put.java"
    source.write_text(JAVA_CLIENT)
    out = subprocess.run(
        ["java", str(source), writable.url, TOKEN], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    status, rows = out.stdout.split()
    assert status in ("201", "204") and rows == "o|4"


@pytest.mark.parametrize(
    ("form", "query"),
    [
        ("SELECT", "SELECT ?c WHERE { ?c a <https://w3id.org/kzgraph/ontology#Company> } LIMIT 3"),
        ("ASK", "ASK { ?c a <https://w3id.org/kzgraph/ontology#Company> }"),
        (
            "CONSTRUCT",
            "CONSTRUCT { ?c a <https://w3id.org/kzgraph/ontology#Company> } WHERE { ?c a <https://w3id.org/kzgraph/ontology#Company> } LIMIT 3",
        ),
        ("DESCRIBE", "DESCRIBE <https://w3id.org/kzgraph/id/company/tbea>"),
    ],
)
def test_sparqlwrapper_every_return_format(writable, form, query):
    """SPARQLWrapper sends format= (sometimes twice, sometimes names the server lacks)."""
    import SPARQLWrapper as sw

    formats = [sw.JSON, sw.XML, sw.CSV, sw.TSV] if form in ("SELECT", "ASK") else [
        sw.XML, sw.RDFXML, sw.TURTLE, sw.N3, sw.JSONLD, sw.RDF, sw.JSON]  # fmt: skip
    for fmt in formats:
        client = sw.SPARQLWrapper(writable.url + "sparql")
        client.setQuery(query)
        client.setReturnFormat(fmt)
        result = client.query()
        assert result.response.status == 200, (form, fmt)
        converted = result.convert()
        assert converted, (form, fmt)
        if (
            form in ("CONSTRUCT", "DESCRIBE")
            and hasattr(converted, "__len__")
            and not isinstance(converted, (bytes, str, dict))
        ):
            assert len(converted) > 0, (form, fmt)


def test_kill_9_during_writes_loses_no_acknowledged_write(tmp_path: Path):
    """Writes to named graphs (and refused default-graph writes) while the server is killed."""
    store = tmp_path / "db"
    server = Server("--store", str(store), "--allow-updates", "--workers", "1", "--no-validate",
                    env={"KZGRAPH_TOKEN": TOKEN})  # fmt: skip
    acknowledged: list[int] = []
    refused_default: list[int] = []
    stop = threading.Event()

    def writer() -> None:
        with httpx.Client(base_url=server.url, timeout=10, headers=AUTH) as c:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    if i % 3 == 0:
                        r = c.post(
                            "/sparql",
                            data={"update": f"INSERT DATA {{ <urn:k:{i}> <urn:k:p> {i} }}"},
                        )
                        if r.status_code == 400:
                            refused_default.append(i)
                        continue
                    if i % 3 == 1:
                        r = c.post(
                            "/sparql",
                            data={
                                "update": f"INSERT DATA {{ GRAPH <urn:k:g{i % 5}> {{ <urn:k:{i}> <urn:k:p> {i} }} }}"
                            },
                        )
                    else:
                        r = c.put("/store", params={"graph": f"urn:k:put{i}"}, content=f"<urn:k:{i}> <urn:k:p> {i} .",
                                  headers={"Content-Type": "text/turtle"})  # fmt: skip
                    if r.status_code in (201, 204):
                        acknowledged.append(i)
                except httpx.HTTPError:
                    return

    thread = threading.Thread(target=writer)
    thread.start()
    deadline = time.monotonic() + 90
    while len(acknowledged) < 15 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(server.process.pid, signal.SIGKILL)  # in the middle of the next write
    server.process.wait()
    stop.set()
    thread.join()
    assert len(acknowledged) >= 15 and refused_default
    again = Server("--store", str(store), "--workers", "1", "--no-validate")
    try:
        with httpx.Client(base_url=again.url, timeout=60) as c:
            values = c.get(
                "/sparql",
                params={"query": "SELECT ?v { GRAPH ?g { ?s <urn:k:p> ?v } }"},
                headers=JSON,
            )
            present = {int(b["v"]["value"]) for b in values.json()["results"]["bindings"]}
            assert set(acknowledged) <= present
            assert not present & set(refused_default)
            # derived state: the default graph is exactly the merge of the named graphs
            assert not ask(c, "ASK { GRAPH ?g { ?s ?p ?o } FILTER NOT EXISTS { ?s ?p ?o } }")
            assert not ask(c, "ASK { ?s ?p ?o FILTER NOT EXISTS { GRAPH ?g { ?s ?p ?o } } }")
            void = c.get("/.well-known/void", headers={"Accept": "application/n-triples"}).text
            assert "triples" in void
            assert c.get("/id/company/tbea", headers={"Accept": "text/turtle"}).status_code == 200
    finally:
        again.stop()


SLOW_COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?a a ?t . ?d a ?u }"


def test_a_kept_answer_never_outlives_a_write(client):
    """Repeated slow queries come from the answer cache until a write changes the data."""
    first = client.get("/sparql", params={"query": SLOW_COUNT}, headers=JSON)
    again = client.get("/sparql", params={"query": SLOW_COUNT}, headers=JSON)
    assert again.headers["X-Kzgraph-Cache"] == "hit" and again.content == first.content
    before = int(first.json()["results"]["bindings"][0]["n"]["value"])
    r = update(
        client,
        "INSERT DATA { GRAPH <https://w3id.org/kzgraph/graph/cache-test> "
        "{ <urn:x:firm> a <https://w3id.org/kzgraph/ontology#Company> } }",
    )
    assert r.status_code == 204, r.text
    after = client.get("/sparql", params={"query": SLOW_COUNT}, headers=JSON)
    assert after.headers["X-Kzgraph-Cache"] == "miss"
    assert int(after.json()["results"]["bindings"][0]["n"]["value"]) > before
    update(client, "DROP GRAPH <https://w3id.org/kzgraph/graph/cache-test>")


def test_clients_that_only_send_basic_credentials_update_with_the_token_as_password(writable):
    """SPARQLWrapper's setCredentials (and Jena's rupdate) send HTTP Basic: the token as the
    password is accepted under the same rules, a wrong one is refused, and the 401 challenges
    Basic first (Jena 4.5 failed on a lone Bearer challenge)."""
    from SPARQLWrapper import POST, SPARQLWrapper
    from SPARQLWrapper.SPARQLExceptions import Unauthorized

    graph = "urn:w:basic"
    client = SPARQLWrapper(writable.url + "sparql", updateEndpoint=writable.url + "sparql")
    client.setMethod(POST)
    client.setCredentials("anyone", "wrong")
    client.setQuery(f"INSERT DATA {{ GRAPH <{graph}> {{ <urn:w:b> <urn:w:p> 1 }} }}")
    with pytest.raises(Unauthorized):
        client.query()
    client.setCredentials("anyone", TOKEN)
    client.setQuery(f"INSERT DATA {{ GRAPH <{graph}> {{ <urn:w:b> <urn:w:p> 1 }} }}")
    client.query()
    with httpx.Client(base_url=writable.url, timeout=60) as c:
        assert ask(c, f"ASK {{ GRAPH <{graph}> {{ <urn:w:b> <urn:w:p> 1 }} }}")
        refused = c.post("/sparql", data={"update": "CLEAR ALL"})
        challenges = refused.headers.get_list("www-authenticate")
        assert refused.status_code == 401 and challenges[0].startswith("Basic")
        assert any(ch.startswith("Bearer") for ch in challenges)
        bad = c.post(
            "/sparql", data={"update": "CLEAR ALL"}, headers={"Authorization": "Basic %%%"}
        )
        assert bad.status_code == 401
        assert update(c, f"DROP GRAPH <{graph}>").status_code == 204


def test_concurrent_puts_of_a_new_graph_create_it_once(writable):
    """Whether the graph existed is read under the write lock: of concurrent PUTs of one new
    graph exactly one answers 201 (7 of 45 existing-graph PUTs used to answer 201 too)."""
    from concurrent.futures import ThreadPoolExecutor

    target = {"graph": "urn:w:raced"}
    headers = {**AUTH, "Content-Type": "application/n-triples"}

    def put(i: int) -> int:
        with httpx.Client(base_url=writable.url, timeout=60) as c:
            body = f'<urn:w:r> <urn:w:p> "{i}" .\n'.encode()
            return c.put("/store", params=target, content=body, headers=headers).status_code

    for _round in range(3):
        with ThreadPoolExecutor(12) as pool:
            codes = list(pool.map(put, range(24)))
        assert sorted(set(codes)) == [201, 204] and codes.count(201) == 1, codes
        with httpx.Client(base_url=writable.url, timeout=60) as c:
            assert c.delete("/store", params=target, headers=AUTH).status_code == 204
            assert c.delete("/store", params=target, headers=AUTH).status_code == 404

"""Writes through ``kzgraph serve --backend --allow-updates`` to a real Oxigraph server.

SPARQL Update and Graph Store writes go to the store's Update service with the merge kept in
the same request, behind the same token as the embedded endpoint; each one takes effect (seen
through the proxy and at the store itself) or is refused with a 4xx, or a 502 when the store
fails: never a 2xx for a write that did not happen.
"""

from __future__ import annotations

import time

import httpx
import pytest

from .server_process import Server, kzgraph, oxigraph_server

TOKEN = {"Authorization": "Bearer s3cret"}
G = "https://w3id.org/kzgraph/graph/loaded/test-writes"
TRIPLE = '<https://example.org/a> <https://example.org/p> "written through the proxy"'


def ask(url: str, query: str, **kw) -> bool:
    r = httpx.post(
        url, data={"query": query}, headers={"Accept": "application/sparql-results+json"}, **kw
    )
    assert r.status_code == 200, r.text
    return bool(r.json()["boolean"])


def count(url: str) -> int:
    r = httpx.post(
        url,
        data={"query": "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"},
        headers={"Accept": "application/sparql-results+json"},
    )
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


@pytest.fixture(scope="module")
def writable(tmp_path_factory):
    """(store query URL, proxy server) over an Oxigraph server of its own."""
    with oxigraph_server(tmp_path_factory.mktemp("writes") / "store") as url:
        out = kzgraph("push", "--backend", url)
        assert out.returncode == 0, out.stderr
        server = Server("--backend", url, "--allow-updates", "--token", "s3cret")
        try:
            yield url, server
        finally:
            server.stop()


def test_an_update_takes_effect_at_the_store_with_its_merge(writable):
    store, server = writable
    assert httpx.get(server.url + "healthz").json()["updates"] is True
    before = count(store)
    update = f"INSERT DATA {{ GRAPH <{G}> {{ {TRIPLE} }} }}"
    assert server.update(update, None).status_code == 401  # no token
    assert count(store) == before
    r = server.update(update, "s3cret")
    assert r.status_code == 204, r.text
    assert r.headers["X-Kzgraph-Conforms"] == "true"
    assert count(store) == before + 1
    # the store's default graph (the merge) has it, and so do queries through the proxy
    assert ask(store, f"ASK {{ {TRIPLE} }}")
    assert ask(server.url + "sparql", f"ASK {{ {TRIPLE} }}")
    assert ask(server.url + "sparql", f"ASK {{ GRAPH <{G}> {{ {TRIPLE} }} }}")
    r = server.update(f"DELETE DATA {{ GRAPH <{G}> {{ {TRIPLE} }} }}", "s3cret")
    assert r.status_code == 204 and count(store) == before
    assert not ask(store, f"ASK {{ {TRIPLE} }}")
    assert not ask(server.url + "sparql", f"ASK {{ {TRIPLE} }}")


def test_a_refused_update_changes_nothing(writable):
    store, server = writable
    before = count(store)
    r = server.update(f"INSERT DATA {{ GRAPH <{G}> {{ {TRIPLE} ", "s3cret")  # unterminated
    assert r.status_code == 400 and count(store) == before
    for service in ("SERVICE <http://127.0.0.1:9/> { ?s ?p ?o }",):
        r = server.update(
            f"INSERT {{ GRAPH <{G}> {{ ?s ?p ?o }} }} WHERE {{ {service} }}", "s3cret"
        )
        assert r.status_code in (400, 403) and count(store) == before


def test_graph_store_writes_through_the_proxy(writable):
    store, server = writable
    body = f"{TRIPLE} .\n".encode()
    # a graph of its own: the store keeps G, emptied by the test before, as an empty graph
    params = {"graph": G + "-gsp"}
    nt = {"Content-Type": "application/n-triples", **TOKEN}
    r = httpx.put(server.url + "store", params=params, content=body, headers=nt, timeout=120)
    assert r.status_code == 201, r.text
    got = httpx.get(
        server.url + "store", params=params, headers={"Accept": "application/n-triples"}
    )
    assert got.status_code == 200 and "written through the proxy" in got.text
    assert ask(store, f"ASK {{ {TRIPLE} }}")
    r = httpx.delete(server.url + "store", params=params, headers=TOKEN, timeout=120)
    assert r.status_code == 204
    assert not ask(store, f"ASK {{ GRAPH <{G}-gsp> {{ ?s ?p ?o }} }}")
    assert not ask(store, f"ASK {{ {TRIPLE} }}")  # gone from the merge too


def test_a_push_keeps_the_graphs_users_posted_through_the_endpoint(writable):
    """A Graph Store POST without ?graph makes a graph in the users' part of the namespace; the
    next project push replaces and drops only the project's graphs, so the posted one stays
    (it was named posted-<uuid> inside the push's namespace and dropped as 'no longer in the
    source')."""
    store, server = writable
    body = b"<urn:test:posted> <urn:test:p> <urn:test:o> .\n"
    nt = {"Content-Type": "application/n-triples", **TOKEN}
    r = httpx.post(server.url + "store", content=body, headers=nt, timeout=120)
    assert r.status_code == 201, r.text
    posted = r.headers["Location"]  # the new graph's IRI
    assert posted.startswith("https://w3id.org/kzgraph/graph/user/posted-")
    pushed = kzgraph("push", "--backend", store)
    assert pushed.returncode == 0, pushed.stderr
    assert posted not in pushed.stdout  # not dropped
    assert ask(
        store, f"ASK {{ GRAPH <{posted}> {{ <urn:test:posted> <urn:test:p> <urn:test:o> }} }}"
    )


def test_a_write_that_breaks_a_shape_is_applied_and_reported(writable):
    _, server = writable
    kz = "https://w3id.org/kzgraph/ontology#"
    bad = f'<https://w3id.org/kzgraph/id/region/zhambyl> <{kz}divisionType> "province"'
    r = server.update(f"INSERT DATA {{ GRAPH <{G}> {{ {bad} }} }}", "s3cret")
    assert r.status_code == 204
    assert r.headers["X-Kzgraph-Conforms"] == "false" and int(r.headers["X-Kzgraph-Findings"]) >= 1
    health = httpx.get(server.url + "healthz").json()["validation"]
    # a ground update on a conforming store: only the nodes it names, and those pointing to them
    assert health["conforms"] is False and health["scope"].endswith("node(s)"), health
    r = server.update(f"DROP GRAPH <{G}>", "s3cret")
    assert r.status_code == 204 and r.headers["X-Kzgraph-Conforms"] == "true"
    assert httpx.get(server.url + "healthz").json()["validation"]["scope"] == "full"


def test_writes_need_an_update_url():
    out = kzgraph(
        "serve", "--backend", "http://127.0.0.1:9/sparql", "--allow-updates", "--token", "t"
    )
    assert out.returncode != 0 and "--backend-update" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_write_to_a_store_that_has_gone_is_a_502_not_a_success(tmp_path):
    with oxigraph_server(tmp_path / "store") as url:
        assert kzgraph("push", "--backend", url).returncode == 0
        server = Server("--backend", url, "--allow-updates", "--token", "s3cret", "--no-validate")
    try:  # the store has stopped: the write cannot have happened, and is not reported as done
        r = server.update(f"INSERT DATA {{ GRAPH <{G}> {{ {TRIPLE} }} }}", "s3cret")
        assert r.status_code == 502, r.text
        assert "update service" in r.text
        health = httpx.get(server.url + "healthz", timeout=10)  # a load balancer sees it too
        assert health.status_code == 503
        assert health.json()["backend"]["reachable"] is False
        assert "did not answer" in health.json()["backend"]["error"]
    finally:
        server.stop()


def test_an_empty_graph_made_by_put_is_found_through_the_proxy(writable):
    """PUT with an empty body makes an empty named graph (201); the proxy finds it as the store
    does: GET answers 200 with no triples, DELETE 204 (both answered 404)."""
    _store, server = writable
    params = {"graph": "urn:w:empty"}
    nt = {"Content-Type": "application/n-triples", **TOKEN}
    r = httpx.put(server.url + "store", params=params, content=b"", headers=nt, timeout=120)
    assert r.status_code == 201, r.text
    got = httpx.get(
        server.url + "store", params=params, headers={"Accept": "application/n-triples"}
    )
    assert got.status_code == 200 and got.text.strip() == ""
    assert (
        httpx.delete(server.url + "store", params=params, headers=TOKEN, timeout=120).status_code
        == 204
    )
    gone = httpx.get(
        server.url + "store", params=params, headers={"Accept": "application/n-triples"}
    )
    assert gone.status_code == 404


@pytest.mark.parametrize("after", [0.05, 0.3, 1.0])
def test_kill_9_of_the_proxy_mid_write_leaves_the_store_whole(tmp_path, after):
    """A write through the proxy is one request to the store with its merge; kill -9 of kzgraph
    at any moment leaves that write applied whole (graph and merge) or not at all."""
    import os
    import signal
    import threading

    graph = "https://w3id.org/kzgraph/graph/loaded/killed-write"
    n = 20_000
    data = " ".join(f'<https://example.org/k{i}> <https://example.org/p> "{i}" .' for i in range(n))
    with oxigraph_server(tmp_path / "store") as url:
        assert kzgraph("push", "--backend", url).returncode == 0
        server = Server("--backend", url, "--allow-updates", "--token", "s3cret", "--no-validate")
        try:
            sent = threading.Thread(
                target=lambda: _quietly(
                    lambda: server.update(
                        f"INSERT DATA {{ GRAPH <{graph}> {{ {data} }} }}", "s3cret"
                    )
                )
            )
            sent.start()
            time.sleep(after)
            os.kill(server.process.pid, signal.SIGKILL)
            sent.join()
        finally:
            server.stop()
        deadline = time.monotonic() + 30  # the store finishes a request it had whole
        in_graph = in_merge = -1
        while time.monotonic() < deadline:
            in_graph = _count(url, f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
            in_merge = _count(url, "SELECT (COUNT(*) AS ?n) { ?s <https://example.org/p> ?o }")
            if in_graph == in_merge:
                break
            time.sleep(0.5)
        assert in_graph in (0, n) and in_merge == in_graph, (in_graph, in_merge)


def _quietly(call) -> None:
    try:
        call()
    except httpx.HTTPError:
        pass


def _count(url: str, query: str) -> int:
    r = httpx.post(
        url, data={"query": query}, headers={"Accept": "application/sparql-results+json"}
    )
    return int(r.json()["results"]["bindings"][0]["n"]["value"])

"""``kzgraph serve --backend``: the same pages, API answers and network over a remote store.

Two real servers side by side: ``kzgraph serve`` on the embedded store, and ``kzgraph serve
--backend`` on an Oxigraph server (the binary from PyPI) that ``kzgraph push`` filled. Every
saved query, network answer, graph, dump and entity page is compared between them. The proxy's
own limits (deadline, row cap, queue) are pushed past against real HTTP servers.
"""

from __future__ import annotations

import asyncio
import collections
import io
import json
import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from rdflib import BNode, Dataset, Graph
from rdflib.compare import isomorphic
from rdflib.query import Result

from kzgraph.endpoint.execution.remote_pool import RemotePool
from kzgraph.endpoint.execution.worker_process import Job
from kzgraph.endpoint.execution.workers import PoolBusyError, QueryTimeoutError
from kzgraph.endpoint.safety.gateway import Gateway
from kzgraph.queries.catalogue import load_catalogue
from kzgraph.remote.stores import Backend
from kzgraph.store.engines import QueryResult

from .hostile import Listener, corpus
from .server_process import Server, kzgraph, oxigraph_server
from .test_remote import comparable, concatenated


@pytest.fixture(scope="module")
def servers(oxigraph):
    """(embedded, backend): two running kzgraph servers over the same data."""
    embedded = Server("--no-validate")
    try:
        backend = Server("--backend", oxigraph)
        try:
            yield embedded, backend
        finally:
            backend.stop()
    finally:
        embedded.stop()


def rows(body: bytes) -> QueryResult:
    """A SPARQL JSON answer as the store interface's result, for :func:`comparable`."""
    parsed = Result.parse(io.BytesIO(body), format="json")
    names = list(parsed.vars or [])
    return QueryResult(
        "select", [str(v) for v in names], [tuple(b.get(v) for v in names) for b in parsed.bindings]
    )


def test_the_backend_server_is_sandboxed_validated_and_read_only(servers):
    _, backend = servers
    health = httpx.get(backend.url + "healthz").json()
    assert health["sandbox"] is True  # the relay is its only way out
    assert health["backend"]["reachable"] is True and health["backend"]["error"] is None
    assert health["validation"]["conforms"] is True  # validated on the store at start-up
    assert health["updates"] is False
    assert "validation: the backend conforms" in backend.output()
    update = httpx.post(
        backend.url + "sparql",
        data={"update": "INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> 1 } }"},
    )
    assert update.status_code == 403
    put = httpx.put(
        backend.url + "store",
        params={"graph": "urn:g"},
        content=b"<urn:a> <urn:b> <urn:c> .\n",
        headers={"Content-Type": "application/n-triples"},
    )
    assert put.status_code == 403


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }",
        r"SELECT * { S\u0045RVICE <http://127.0.0.1:9/> { ?s ?p ?o } }",
        r"SELECT * { \u0053ERVICE SILENT <http://127.0.0.1:9/> { ?s ?p ?o } }",
    ],
)
def test_service_is_refused_before_the_store_sees_it(servers, query):
    _, backend = servers
    r = httpx.post(backend.url + "sparql", data={"query": query})
    assert r.status_code == 400 and "SERVICE is refused" in r.text


def test_every_saved_query_answers_the_same_through_both_servers(servers):
    embedded, backend = servers
    different, compared = [], 0
    for name, saved in load_catalogue().items():
        params = {
            p.name: saved.defaults[p.name] for p in saved.parameters if p.name in saved.defaults
        }
        if any(p.required and p.name not in params for p in saved.parameters):
            continue
        here = httpx.get(f"{embedded.url}api/queries/{name}", params=params, timeout=60)
        there = httpx.get(f"{backend.url}api/queries/{name}", params=params, timeout=60)
        assert here.status_code == there.status_code == 200, (name, there.text[:300])
        concat = concatenated(saved.text)
        if comparable(rows(here.content), concat) != comparable(rows(there.content), concat):
            different.append(name)
        compared += 1
    assert compared >= 40 and not different


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv"])
def test_sparql_answers_in_every_result_format_match(servers, fmt):
    embedded, backend = servers
    query = "SELECT ?c ?label WHERE { ?c a kz:Company ; rdfs:label ?label } ORDER BY ?c ?label"
    here = httpx.get(embedded.url + "sparql", params={"query": query, "format": fmt})
    there = httpx.get(backend.url + "sparql", params={"query": query, "format": fmt})
    assert there.status_code == 200
    assert there.headers["content-type"] == here.headers["content-type"]
    assert there.content == here.content  # ordered, no blank nodes: byte for byte


def test_construct_ask_and_parameters_match(servers):
    embedded, backend = servers
    construct = "CONSTRUCT { ?p kz:region ?r } WHERE { ?p kz:region ?r }"
    graphs = []
    for server in (embedded, backend):
        r = httpx.get(
            server.url + "sparql", params={"query": construct}, headers={"Accept": "text/turtle"}
        )
        assert r.status_code == 200
        graphs.append(Graph().parse(data=r.text, format="turtle"))
    assert len(graphs[0]) > 10 and isomorphic(graphs[0], graphs[1])
    ask = "ASK { ?c a kz:Company }"
    assert httpx.get(backend.url + "sparql", params={"query": ask}).json()["boolean"] is True
    # a saved query's parameter is bound on the store: another value gives other rows
    name, firm = "investments-by-firm", {"firm": "company:tbea"}
    here = httpx.get(f"{embedded.url}api/queries/{name}", params=firm)
    there = httpx.get(f"{backend.url}api/queries/{name}", params=firm)
    other = httpx.get(f"{backend.url}api/queries/{name}", params={"firm": "company:fufeng-group"})
    assert comparable(rows(here.content)) == comparable(rows(there.content))
    assert rows(there.content).rows and comparable(rows(other.content)) != comparable(
        rows(there.content)
    )


def test_a_syntax_error_points_at_the_users_line(servers):
    _, backend = servers
    r = httpx.get(backend.url + "sparql", params={"query": "SELECT * WHERE {\n ?s ?p \n}"})
    assert r.status_code == 400
    assert "at 3:" in r.text  # the user's third line, not the prefixes the proxy put in front


def canonical(value: object) -> object:
    """``value`` with every list sorted: for answers whose order the engine decides."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def undirected(network: dict) -> dict:
    """A Cytoscape network whose undirected edges have their ends in a fixed order.

    Which end an undirected edge names first follows the order the store gave the rows in,
    which differs between two stores holding the same triples.
    """
    if not network.get("directed"):
        for edge in network["elements"]["edges"]:
            data = edge["data"]
            data["source"], data["target"] = sorted((data["source"], data["target"]))
    return network


def test_network_answers_match(servers):
    embedded, backend = servers
    paths = [
        "api/network/summary",
        "api/network/rank?measure=degree&projection=company-project&top=10",
        "api/network/communities?projection=company-project",
        "api/network/projection/company-project",
    ]
    for path in paths:
        here = httpx.get(embedded.url + path, timeout=60)
        there = httpx.get(backend.url + path, timeout=60)
        assert here.status_code == there.status_code == 200, (path, there.text[:300])
        if "projection/" in path:  # a network's elements, in whatever order the rows came
            assert canonical(undirected(here.json())) == canonical(undirected(there.json())), path
        else:
            assert here.json() == there.json(), path


def test_graphs_dumps_and_pages_match(servers, dataset: Dataset):
    embedded, backend = servers
    graph = "https://w3id.org/kzgraph/graph/sources"
    got = []
    for server in (embedded, backend):
        r = httpx.get(
            server.url + "store",
            params={"graph": graph},
            headers={"Accept": "application/n-triples"},
        )
        assert r.status_code == 200
        got.append(Graph().parse(data=r.text, format="nt"))
    assert len(got[0]) > 0 and isomorphic(got[0], got[1])
    dumps = []
    for server in (embedded, backend):
        r = httpx.get(server.url + "dumps/kzgraph.nq", timeout=60)
        assert r.status_code == 200
        ds = Dataset()
        ds.parse(data=r.text, format="nquads")
        dumps.append(collections.Counter(str(c.identifier) for c in ds.contexts() for _ in c))
    assert dumps[0] == dumps[1] and sum(dumps[0].values()) > 6000
    for path in ("id/company/tbea", "id/region/atyrau", "graph/sources"):
        here = httpx.get(embedded.url + path, headers={"Accept": "text/html"})
        there = httpx.get(backend.url + path, headers={"Accept": "text/html"})
        assert here.status_code == there.status_code == 200, path
        assert there.text == here.text, path
        turtle = [
            Graph().parse(
                data=httpx.get(s.url + path, headers={"Accept": "text/turtle"}).text,
                format="turtle",
            )
            for s in (embedded, backend)
        ]
        ground = [{t for t in g if not any(isinstance(x, BNode) for x in t)} for g in turtle]
        assert ground[0] and ground[0] == ground[1], path
    for path in ("", "api/map", ".well-known/void", "api/labels", "network", "map"):
        assert httpx.get(backend.url + path, timeout=60).status_code == 200, path


def test_options_that_cannot_apply_to_a_backend_are_refused_clearly(oxigraph, tmp_path):
    for extra, words in (
        (
            ["--allow-updates", "--token", "t", "--store", str(tmp_path / "s")],
            "--backend or --store",
        ),
        (["--allow-updates"], "updates need a token"),
        (["--processes", "2"], "not --processes"),
    ):
        out = kzgraph("serve", "--backend", oxigraph, "--port", "1", *extra)
        assert out.returncode != 0 and words in out.stderr, out.stderr
        assert "Traceback" not in out.stderr


def test_an_unreachable_backend_is_named_at_start_up():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        out = kzgraph("serve", "--backend", f"http://127.0.0.1:{port}/query", "--port", "0")
    assert out.returncode != 0
    assert f"127.0.0.1:{port}/query cannot be reached" in out.stderr
    assert "Traceback" not in out.stderr


class _Slow(BaseHTTPRequestHandler):
    """A SPARQL endpoint that takes 20 s to answer, or answers endless rows."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.server.mode == "slow":  # type: ignore[attr-defined]
            time.sleep(20)
            return
        if self.server.mode == "json":  # type: ignore[attr-defined]
            self.send_response(200)
            self.send_header("Content-Type", "application/sparql-results+json")
            self.end_headers()
            row = b'{"n": {"type": "literal", "value": "x"}},'
            try:
                self.wfile.write(b'{"head": {"vars": ["n"]}, "results": {"bindings": [')
                self.wfile.write(row * 100_000 + b'{"n": {"type": "literal", "value": "x"}}]}}')
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/tab-separated-values")
        self.end_headers()
        try:
            self.wfile.write(b"?n\n")
            for i in range(10_000_000):
                self.wfile.write(f'"{i}"\n'.encode())
        except (BrokenPipeError, ConnectionResetError):
            self.server.cut = True  # type: ignore[attr-defined]

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_store():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.daemon_threads = True
    server.mode = "slow"  # type: ignore[attr-defined]
    server.cut = False  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_the_deadline_stops_a_slow_store_and_the_queue_is_bounded(fake_store):
    url = f"http://127.0.0.1:{fake_store.server_address[1]}/query"
    pool = RemotePool(Backend(url), None, size=1, max_queue=1)

    async def scenario() -> tuple[float, list[object]]:
        started = time.monotonic()
        first = asyncio.create_task(pool.run(Job("SELECT * {}"), 2.0))
        await asyncio.sleep(0.2)
        second = asyncio.create_task(pool.run(Job("SELECT * {}"), 2.0))
        await asyncio.sleep(0.2)
        outcomes: list[object] = []
        try:  # one running, one waiting: a third is refused at once
            await pool.run(Job("SELECT * {}"), 2.0)
        except PoolBusyError as exc:
            outcomes.append(exc)
        for task in (first, second):
            try:
                await task
            except QueryTimeoutError as exc:
                outcomes.append(exc)
        return time.monotonic() - started, outcomes

    took, outcomes = asyncio.run(scenario())
    assert [type(o) for o in outcomes] == [PoolBusyError, QueryTimeoutError, QueryTimeoutError]
    # it does not claim the store stopped: an Oxigraph server works on after a hang-up
    assert "was stopped" not in str(outcomes[1]) and "closed its connection" in str(outcomes[1])
    assert took < 10  # the store would have taken 20 s
    assert pool.waiting == 0 and pool.running == 0


def test_the_row_cap_stops_reading_an_endless_answer(fake_store):
    fake_store.mode = "endless"
    url = f"http://127.0.0.1:{fake_store.server_address[1]}/query"
    pool = RemotePool(Backend(url), None, max_rows=1000)
    answer = asyncio.run(pool.run(Job("SELECT ?n {}", select_format="csv"), 30.0))
    assert answer.ok and answer.truncated
    assert answer.body.decode().splitlines() == ["n", *[str(i) for i in range(1000)]]
    deadline = time.monotonic() + 10
    while not fake_store.cut and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fake_store.cut  # the proxy hung up; the store stopped writing


def test_an_answer_read_whole_past_the_byte_cap_is_refused_not_kept(fake_store):
    fake_store.mode = "json"  # a store that ignores the proxy's wish for TSV
    url = f"http://127.0.0.1:{fake_store.server_address[1]}/query"
    pool = RemotePool(Backend(url), None, max_bytes=100_000)
    answer = asyncio.run(pool.run(Job("SELECT ?n {}"), 30.0))
    assert not answer.ok and "longer than 100000 bytes" in answer.message
    whole = asyncio.run(RemotePool(Backend(url), None).run(Job("SELECT ?n {}"), 30.0))
    # within the bytes, the row cap (100,000 by default) still applies
    assert whole.ok and whole.truncated and whole.body.count(b'"value":"x"') == 100_000


def test_the_relay_reaches_its_one_store_and_ends_with_its_server(oxigraph):
    host, port = oxigraph.split("/")[2].split(":")
    gateway = Gateway.start(host, int(port))
    try:
        with httpx.Client(transport=httpx.HTTPTransport(uds=gateway.socket_path)) as client:
            # whatever host the request names, the relay connects to the store's
            r = client.get("http://elsewhere.example/query", params={"query": "ASK { ?s ?p ?o }"})
            assert r.status_code == 200 and r.json()["boolean"] is True
        # the relay killed is started again by its keeper, on the same socket
        relays = Path(f"/proc/{gateway.process.pid}/task/{gateway.process.pid}/children")
        [relay_pid] = [int(p) for p in relays.read_text().split()]
        os.kill(relay_pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while True:
            try:
                with httpx.Client(transport=httpx.HTTPTransport(uds=gateway.socket_path)) as client:
                    r = client.get("http://x/query", params={"query": "ASK { ?s ?p ?o }"})
                if r.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the relay was not started again"
            time.sleep(0.2)
        assert [int(p) for p in relays.read_text().split()] != [relay_pid]
    finally:
        gateway.close()
    assert not gateway.alive
    # a relay whose server died without closing it notices its closed stdin and exits
    orphan = Gateway.start(host, int(port))
    assert orphan.process.stdin is not None
    orphan.process.stdin.close()
    orphan.process.wait(timeout=10)
    # and removes its socket's directory itself: a server killed with -9 never calls close()
    assert not Path(orphan.directory).exists()
    orphan.close()


@pytest.mark.parametrize("writes", [False, True], ids=["read-only", "allow-updates"])
def test_hostile_corpus_through_the_proxy(tmp_path, writes):
    """The hardening corpus against serve --backend: no 5xx but 503, the listener never reached.

    The store here runs SERVICE for anyone who reaches it, so a request that slipped past the
    proxy's rules would show as a contact. It has its own 5 s query limit, as a store facing
    the proxy should: a client hanging up does not stop an aggregate at the store. With
    --allow-updates every probe carries the write token (one that does not bring its own), so
    the update rules are what stands between a writer and LOAD, SERVICE or the default graph.
    """
    token = {"Authorization": "Bearer hostile-t"} if writes else {}
    extra = ["--allow-updates", "--token", "hostile-t"] if writes else []
    listener = Listener()
    try:
        with oxigraph_server(tmp_path / "store", timeout_s=5) as url:
            assert kzgraph("push", "--backend", url).returncode == 0
            server = Server(
                "--backend", url, "--workers", "2", "--timeout", "3", "--max-queue", "6",
                "--max-rows", "500", "--max-answer-bytes", "200000", "--header-timeout", "2",
                "--body-timeout", "2", "--no-validate", *extra,
            )  # fmt: skip
            try:
                probes = corpus(seed=11, size=1000, target=listener.url)
                statuses: collections.Counter[int] = collections.Counter()
                failures: list[str] = []

                def send(probe: object) -> None:
                    try:
                        with httpx.Client(base_url=server.url, timeout=30) as c:
                            r = c.request(
                                probe.method, probe.path, params=probe.params,  # type: ignore[attr-defined]
                                headers={**token, **{k: v.encode() for k, v in probe.headers.items()}},  # type: ignore[attr-defined]
                                content=probe.body,  # type: ignore[attr-defined]
                            )  # fmt: skip
                    except httpx.HTTPError as exc:
                        failures.append(f"{probe.family}: {type(exc).__name__}")  # type: ignore[attr-defined]
                        return
                    statuses[r.status_code] += 1
                    if r.status_code >= 500 and r.status_code != 503:
                        failures.append(f"{probe.family} {probe.params!r:.200} -> {r.status_code}")  # type: ignore[attr-defined]

                with ThreadPoolExecutor(8) as pool:
                    list(pool.map(send, probes))
                assert not failures, failures[:20]
                assert sum(statuses.values()) == len(probes)
                assert listener.contacts == 0
                ask = httpx.get(server.url + "sparql", params={"query": "ASK { ?s ?p ?o }"})
                assert ask.status_code == 200 and ask.json()["boolean"] is True
            finally:
                server.stop()
    finally:
        listener.close()


def test_healthz_while_the_store_is_gone_is_the_documented_503_json(tmp_path):
    """The store stops under a running proxy after a write (which drops the cached graph list
    and count): /healthz answers 503 with its JSON (it answered 502 in plain text), and the
    background count logs no traceback."""
    with oxigraph_server(tmp_path / "store") as url:
        assert kzgraph("push", "--backend", url).returncode == 0
        server = Server("--backend", url, "--no-validate", "--allow-updates", "--token", "t")
        written = server.update("INSERT DATA { GRAPH <urn:h:g> { <urn:h:s> <urn:h:p> 1 } }", "t")
        assert written.status_code == 204, written.text
    try:  # the store has stopped now; /healthz asks it at most every 5 s
        deadline = time.monotonic() + 15
        while httpx.get(server.url + "healthz", timeout=30).status_code == 200:
            assert time.monotonic() < deadline, "healthz never noticed the store had gone"
            time.sleep(0.5)
        for _ in range(3):
            r = httpx.get(server.url + "healthz", timeout=30)
            assert r.status_code == 503, r.text
            body = r.json()
            assert body["status"] == "unavailable" and body["backend"]["reachable"] is False
        assert "Traceback" not in server.output()
    finally:
        server.stop()


def test_no_kept_answer_is_served_while_the_store_is_known_to_be_gone(tmp_path):
    """A kept answer used to be served 200 through a whole outage while /healthz said the
    store was gone; once the proxy knows the store cannot be reached, it says so instead."""
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s a ?t }"
    json_accept = {"Accept": "application/sparql-results+json"}
    with oxigraph_server(tmp_path / "store") as url:
        assert kzgraph("push", "--backend", url).returncode == 0
        server = Server("--backend", url, "--no-validate")
        with httpx.Client(base_url=server.url, timeout=60) as c:
            assert c.get("/sparql", params={"query": query}, headers=json_accept).status_code == 200
            kept = c.get("/sparql", params={"query": query}, headers=json_accept)
            assert kept.headers["X-Kzgraph-Cache"] == "hit"
    try:  # the store has stopped; the next request that reaches for it fails
        with httpx.Client(base_url=server.url, timeout=60) as c:
            other = c.get("/sparql", params={"query": "ASK { ?s ?p 42 }"}, headers=json_accept)
            assert other.status_code == 502, other.text
            again = c.get("/sparql", params={"query": query}, headers=json_accept)
            assert again.status_code == 502 and "cannot be reached" in again.text
    finally:
        server.stop()


def test_answers_from_a_remote_store_are_kept_a_stated_while_and_say_their_age(tmp_path):
    """A write the proxy cannot see (straight to the store) shows through it within
    REMOTE_ANSWER_SECONDS; until then the kept answer carries HTTP's Age (it was kept 60 s+)."""
    from kzgraph.endpoint.execution.state import REMOTE_ANSWER_SECONDS

    slow = "SELECT (COUNT(*) AS ?n) WHERE { ?a a ?t . ?d a ?u }"
    json_accept = {"Accept": "application/sparql-results+json"}
    with oxigraph_server(tmp_path / "store") as url:
        assert kzgraph("push", "--backend", url).returncode == 0
        server = Server("--backend", url, "--no-validate")
        try:
            with httpx.Client(base_url=server.url, timeout=60) as c:
                first = c.get("/sparql", params={"query": slow}, headers=json_accept)
                again = c.get("/sparql", params={"query": slow}, headers=json_accept)
                assert again.headers["X-Kzgraph-Cache"] == "hit" and "age" in again.headers
                # a quick answer too: each one is a request to the store (the proxy served light
                # queries at 0.08-0.4x the store's own rate when it asked the store every time)
                quick = {"query": "ASK { ?s a kz:Company }"}
                c.get("/sparql", params=quick, headers=json_accept)
                kept = c.get("/sparql", params=quick, headers=json_accept)
                assert kept.headers["X-Kzgraph-Cache"] == "hit"
                before = first.json()["results"]["bindings"][0]["n"]["value"]
                # another writer adds a typed node at the store itself
                base = url.rsplit("/", 1)[0]
                added = httpx.post(
                    base + "/update", data={"update": "INSERT DATA { <urn:t:x> a <urn:t:T> }"}
                )
                assert added.status_code == 204, added.text
                time.sleep(REMOTE_ANSWER_SECONDS + 1)
                fresh = c.get("/sparql", params={"query": slow}, headers=json_accept)
                assert fresh.headers["X-Kzgraph-Cache"] == "miss"
                assert fresh.json()["results"]["bindings"][0]["n"]["value"] != before
        finally:
            server.stop()

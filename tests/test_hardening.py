"""The endpoint as an attacker meets it: a real server, a seeded hostile corpus, a live listener.

Each test starts from an ordinary server process; none reaches into its internals. What is
checked is what a client or an operator can see: status codes, /healthz, the worker PIDs it
reports, whether a listener on loopback was ever contacted, and whether the server still answers.
"""

from __future__ import annotations

import collections
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from .hostile import RUNAWAY, Listener, closed_after_slow_headers, corpus
from .server_process import Server

ASK = "ASK { ?s ?p ?o }"
JSON = {"Accept": "application/sparql-results+json"}


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@pytest.fixture(scope="module")
def listener():
    lst = Listener()
    yield lst
    lst.close()


@pytest.fixture(scope="module")
def server():
    s = Server(
        "--workers", "2", "--timeout", "3", "--max-queue", "6", "--max-rows", "500",
        "--max-answer-bytes", "200000", "--header-timeout", "2", "--body-timeout", "2",
        "--no-validate",
    )  # fmt: skip
    yield s
    s.stop()


@pytest.fixture()
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def health(client: httpx.Client) -> dict:
    return client.get("/healthz").json()


def test_the_server_runs_in_its_network_sandbox(client):
    assert health(client)["sandbox"] is True


def test_the_sandbox_alone_stops_service_whatever_the_parser_says(listener):
    """Without any parser in front, pyoxigraph's SERVICE cannot reach the listener."""
    code = f"""
from kzgraph.endpoint.safety.sandbox import deny_network
import pyoxigraph as ox
deny_network()
try:
    list(ox.Store().query("SELECT * WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}"))
    print("answered")
except OSError as exc:
    print("refused", exc)
"""
    before = listener.contacts
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "refused" in out.stdout, out.stdout + out.stderr
    assert listener.contacts == before


def test_hostile_corpus(server, client, listener):
    """Thousands of seeded hostile requests: no 5xx but 503, no contact, no lost worker."""
    start = health(client)
    server_rss = rss_kb(server.process.pid)
    probes = corpus(seed=10, size=2500, target=listener.url)
    statuses: collections.Counter[int] = collections.Counter()
    failures: list[str] = []

    def send(probe) -> None:
        try:
            with httpx.Client(base_url=server.url, timeout=30) as c:
                r = c.request(
                    probe.method, probe.path, params=probe.params, headers={k: v.encode() for k, v in probe.headers.items()},
                    content=probe.body,
                )  # fmt: skip
        except httpx.HTTPError as exc:
            failures.append(f"{probe.family}: {type(exc).__name__}")
            return
        statuses[r.status_code] += 1
        if r.status_code >= 500 and r.status_code != 503:
            failures.append(
                f"{probe.family} {probe.method} {probe.path} {probe.params!r:.200} -> {r.status_code}"
            )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, probes))
    assert not failures, failures[:20]
    assert sum(statuses.values()) == len(probes)
    assert listener.contacts == 0
    time.sleep(2)  # let replacements for timed-out workers finish starting
    end = health(client)
    assert end["status"] == "ok" and end["pool"]["alive"] == 2
    # workers are only ever replaced after a time-out (each one answered 503)
    assert end["pool"]["respawns"] - start["pool"]["respawns"] <= statuses[503]
    r = client.get("/sparql", params={"query": ASK}, headers=JSON)
    assert r.status_code == 200 and r.json()["boolean"] is True
    assert rss_kb(server.process.pid) < server_rss * 1.5 + 100_000


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0", "abc", "1e309", ""])
def test_bad_timeouts_are_400_and_leave_the_pool_whole(client, value):
    pids = health(client)["pool"]["pids"]
    for _ in range(4):  # more than there are workers
        r = client.get("/sparql", params={"query": ASK, "timeout": value})
        assert r.status_code == 400 and "timeout" in r.text
    assert health(client)["pool"]["pids"] == pids
    assert client.get("/sparql", params={"query": ASK}, headers=JSON).json()["boolean"]


@pytest.mark.parametrize(
    ("name", "value"),
    [("default-graph-uri", "x y"), ("named-graph-uri", "<>"), ("default-graph-uri", "urn:nope")],
)
def test_dataset_iris_are_checked_before_a_worker_sees_them(client, name, value):
    pids = health(client)["pool"]["pids"]
    r = client.get("/sparql", params={"query": ASK, name: value})
    assert r.status_code == 400 and name in r.text
    assert health(client)["pool"]["pids"] == pids


def test_queue_time_counts_toward_the_deadline_and_a_full_queue_is_503(server, client):
    """Runaway queries fill both workers; a polite query is told 503 within its own deadline."""
    pids = health(client)["pool"]["pids"]
    results: list[httpx.Response] = []

    def runaway() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            results.append(c.get("/sparql", params={"query": RUNAWAY}))

    threads = [threading.Thread(target=runaway) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    started = time.monotonic()
    # a query not asked before: a repeated one is a kept answer and needs no worker at all
    fresh = 'ASK { ?s ?p "asked once, while the workers are busy" }'
    polite = client.get("/sparql", params={"query": fresh, "timeout": "1"})
    waited = time.monotonic() - started
    for t in threads:
        t.join()
    assert polite.status_code == 503
    assert waited < 3  # the server's own limit is 3 s: the client's 1 s bound the wait
    busy = [r for r in results if "busy" in r.text]
    assert busy and all(r.status_code == 503 and r.headers["Retry-After"] for r in busy)
    assert all(r.status_code == 503 for r in results)
    time.sleep(2.5)
    after = health(client)
    assert after["pool"]["alive"] == 2 and after["pool"]["pids"] != pids  # replaced, not lost
    assert client.get("/sparql", params={"query": ASK}, headers=JSON).json()["boolean"]


def test_healthz_answers_while_workers_restart(client, server):
    """A time-out replaces a worker in a thread; the event loop keeps answering meanwhile."""
    for _ in range(3):
        client.get("/sparql", params={"query": RUNAWAY, "timeout": "0.2"})
    seen = []
    for _ in range(10):
        r = client.get("/healthz")
        seen.append(r.json()["pool"]["starting"])
    assert max(seen) >= 1  # we saw replacements in progress while /healthz answered
    time.sleep(2.5)
    assert health(client)["pool"]["alive"] == 2


def test_answers_are_capped_by_rows_triples_and_bytes(client):
    small = "FILTER(!isLiteral(?o) || STRLEN(STR(?o)) < 200)"  # the WKT outlines hit bytes first
    r = client.get(
        "/sparql",
        params={"query": f"SELECT * WHERE {{ ?s ?p ?o {small} }}"},
        headers={"Accept": "text/tab-separated-values"},
    )
    assert r.status_code == 200 and r.headers["X-Kzgraph-Truncated"] == "true"
    assert len(r.text.strip().splitlines()) == 501
    r = client.get(
        "/sparql",
        params={"query": f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o {small} }}"},
        headers={"Accept": "application/n-triples"},
    )
    assert r.headers["X-Kzgraph-Truncated"] == "true" and len(r.text.strip().splitlines()) == 500
    long = 'SELECT ?s (CONCAT(STR(?s), "' + "x" * 2000 + '") AS ?pad) WHERE { ?s ?p ?o }'
    r = client.get("/sparql", params={"query": long}, headers=JSON)
    assert r.headers["X-Kzgraph-Truncated"] == "true" and len(r.content) <= 200_000
    assert r.json()["results"]["bindings"]  # still a valid, non-empty answer


def test_slow_headers_are_cut_off(server):
    """Slowloris: connections that never finish their headers are closed after --header-timeout."""
    assert closed_after_slow_headers(server.port, 50, 3.5) == 50


def test_a_short_body_gets_408(server):
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(
        b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
        b"Content-Length: 100\r\n\r\nASK {"
    )
    sock.settimeout(10)
    data = sock.recv(1000)
    sock.close()
    assert data.startswith(b"HTTP/1.1 408")


@pytest.mark.parametrize(
    "path",
    [
        "/resolve?iri=abc",
        "/id/%22",
        "/vocab/%3Cscript%3E",
        "/graph/%7F",
        "/ontology/" + "a" * 300,
        "/ontology/a%00b",
        "/ontology/" + "\U0001f600" * 64,  # 64 characters, 256 bytes: past a file name's limit
        "/ontology/" + "\U0001f600" * 50 + "/" + "\u00e9" * 130,
    ],
)
def test_bad_input_is_4xx(client, path):
    assert 400 <= client.get(path).status_code < 500


def test_network_measures_work_with_defaults(client):
    r = client.get("/api/network/rank", params={"measure": "eigenvector"})
    assert r.status_code == 200 and r.json()


@pytest.mark.parametrize("accept", [",,,,", ";;;"])
@pytest.mark.parametrize(
    "path",
    [
        "/sparql?query=ASK%7B%7D",
        "/id/company/tbea",
        "/resolve?iri=https://w3id.org/kzgraph/id/company/tbea",
        "/ontology",
    ],
)
def test_garbage_accept_is_406(client, accept, path):
    assert client.get(path, headers={"Accept": accept}).status_code in (303, 406)


def test_a_client_that_disconnects_leaves_no_traceback(server):
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(
        b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
        b"Content-Length: 100\r\n\r\nASK"
    )
    sock.close()
    time.sleep(0.5)
    assert "Traceback" not in server.output()


def test_kill_a_worker_under_load(server, client):
    """At most the in-flight request fails; the pool refills itself within about a second."""
    victim = health(client)["pool"]["pids"][0]
    errors = collections.Counter()
    stop = threading.Event()

    asked = itertools.count(1_000)

    def load() -> None:  # every query new, so each one goes to a worker (none is a kept answer)
        with httpx.Client(base_url=server.url, timeout=30) as c:
            while not stop.is_set():
                query = f"SELECT ?c WHERE {{ ?c a kz:Company }} LIMIT {next(asked)}"
                r = c.get("/sparql", params={"query": query}, headers=JSON)
                errors[r.status_code] += 1

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    os.kill(victim, signal.SIGKILL)
    time.sleep(2)
    stop.set()
    for t in threads:
        t.join()
    failed = sum(n for status, n in errors.items() if status != 200)
    assert failed <= 1, errors
    after = health(client)["pool"]
    assert after["alive"] == 2 and victim not in after["pids"]


def test_sigterm_stops_the_server_after_abuse(listener):
    s = Server("--workers", "1", "--timeout", "2", "--no-validate")
    with httpx.Client(base_url=s.url, timeout=30) as c:
        for value in ("nan", "inf", "-1"):
            c.get("/sparql", params={"query": ASK, "timeout": value})
        c.get("/sparql", params={"query": RUNAWAY, "timeout": "0.5"})
    s.process.send_signal(signal.SIGTERM)
    assert s.process.wait(timeout=20) is not None


def test_healthz_reports_a_pool_that_cannot_answer_and_the_pool_recovers():
    s = Server("--workers", "2", "--timeout", "5", "--no-validate")
    try:
        with httpx.Client(base_url=s.url, timeout=30) as c:
            for pid in health(c)["pool"]["pids"]:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
            r = c.get("/healthz")
            assert r.status_code == 503 and r.json()["status"] == "unavailable"
            answer = c.get("/sparql", params={"query": ASK}, headers=JSON)
            assert answer.status_code == 200 and answer.json()["boolean"] is True
            time.sleep(2)
            assert health(c)["pool"]["alive"] == 2
    finally:
        s.stop()

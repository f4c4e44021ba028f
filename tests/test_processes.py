"""``serve --processes N``: several processes serve HTTP and answer queries themselves.

Real servers on loopback, as clients meet them: the supervisor hands connections round, a
runaway query gets its 503 and its process is replaced, a killed process is replaced, SIGTERM
stops every process, the limits and the sandbox of the single-process server hold, and the
answers are the saved queries' answers on the seeded graph.
"""

from __future__ import annotations

import collections
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

from kzgraph.core.namespaces import sparql_prologue
from kzgraph.endpoint.execution.inline import GRACE, Deadlines
from kzgraph.queries.catalogue import load_catalogue

from .hostile import RUNAWAY, Listener, closed_after_slow_headers, corpus
from .server_process import Server

ASK = "ASK { ?s ?p ?o }"
JSON = {"Accept": "application/sparql-results+json"}
PROLOGUE = sparql_prologue()


@pytest.fixture(scope="module")
def multi():
    s = Server(
        "--processes", "2", "--timeout", "2", "--max-rows", "500",
        "--max-answer-bytes", "200000", "--header-timeout", "2", "--body-timeout", "2",
        "--no-validate",
    )  # fmt: skip
    yield s
    s.stop()


def pids_seen(url: str, tries: int = 12) -> set[int]:
    """The serving processes that answered /healthz on fresh connections."""
    seen: set[int] = set()
    for _ in range(tries):
        r = httpx.get(url + "healthz", timeout=10)
        seen.update(r.json()["pool"]["pids"])
    return seen


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def wait_for(predicate, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_connections_are_handed_round_both_processes(multi):
    seen = pids_seen(multi.url)
    assert len(seen) == 2 and multi.process.pid not in seen
    health = httpx.get(multi.url + "healthz").json()
    assert health["sandbox"] is True and health["updates"] is False


def test_keep_alive_clients_are_spread_over_the_processes(multi):
    """Four kept-alive clients: two per process, not all four on whichever woke first."""
    clients = [httpx.Client(base_url=multi.url, timeout=10) for _ in range(4)]
    try:
        owners = collections.Counter(c.get("/healthz").json()["pool"]["pids"][0] for c in clients)
    finally:
        for c in clients:
            c.close()
    assert sorted(owners.values()) == [2, 2]


def test_every_saved_query_answers_as_in_process(multi, run):
    for name, saved in load_catalogue().items():
        if any(p.required for p in saved.parameters):
            continue
        r = httpx.post(
            multi.url + "sparql", data={"query": PROLOGUE + saved.text}, headers=JSON, timeout=30
        )
        assert r.status_code == 200, (name, r.text[:300])
        assert len(r.json()["results"]["bindings"]) == len(run(name)), name


def test_limits_hold_in_every_process(multi):
    small = "FILTER(!isLiteral(?o) || STRLEN(STR(?o)) < 200)"
    for _ in range(4):  # fresh connections: both processes answer
        r = httpx.get(
            multi.url + "sparql",
            params={"query": f"SELECT * WHERE {{ ?s ?p ?o {small} }}"},
            headers={"Accept": "text/tab-separated-values"},
        )
        assert r.headers["X-Kzgraph-Truncated"] == "true"
        assert len(r.text.strip().splitlines()) == 501
    r = httpx.post(multi.url + "sparql", data={"update": "CLEAR ALL"})
    assert r.status_code == 403


def test_a_runaway_query_gets_503_and_its_process_is_replaced(multi):
    before = pids_seen(multi.url)
    started = time.monotonic()
    r = httpx.get(multi.url + "sparql", params={"query": RUNAWAY, "timeout": "1"}, timeout=30)
    took = time.monotonic() - started
    assert r.status_code == 503 and "ran longer than 1 s" in r.text and r.headers["Retry-After"]
    assert took < 2.5
    assert wait_for(lambda: len(pids_seen(multi.url) - before) >= 1)
    assert len(pids_seen(multi.url)) == 2
    r = httpx.get(multi.url + "sparql", params={"query": ASK}, headers=JSON)
    assert r.json()["boolean"] is True


def test_queries_waiting_behind_a_runaway_get_503_within_their_own_deadline(multi):
    results: list[httpx.Response] = []

    def ask(query: str, timeout: str) -> None:
        with httpx.Client(base_url=multi.url, timeout=30) as c:
            results.append(c.get("/sparql", params={"query": query, "timeout": timeout}))

    threads = [threading.Thread(target=ask, args=(RUNAWAY, "2")) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    started = time.monotonic()
    with httpx.Client(base_url=multi.url, timeout=30) as c:
        polite = c.get("/sparql", params={"query": ASK, "timeout": "1"}, headers=JSON)
    waited = time.monotonic() - started
    for t in threads:
        t.join()
    assert polite.status_code in (200, 503) and waited < 2.5
    assert all(r.status_code == 503 for r in results)
    assert wait_for(lambda: len(pids_seen(multi.url)) == 2)


def test_kill_a_serving_process_under_load(multi):
    """Only the victim's connections fail; the supervisor starts a replacement at once."""
    victim = sorted(pids_seen(multi.url))[0]
    outcomes: collections.Counter[str] = collections.Counter()
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                with httpx.Client(base_url=multi.url, timeout=10) as c:
                    while not stop.is_set():
                        r = c.post("/sparql", data={"query": "ASK { ?s a kz:Company }"})
                        outcomes[str(r.status_code)] += 1
            except httpx.HTTPError:
                outcomes["dropped"] += 1

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    os.kill(victim, signal.SIGKILL)
    time.sleep(2)
    stop.set()
    for t in threads:
        t.join()
    assert outcomes["200"] > 100
    assert outcomes["dropped"] <= 4, outcomes  # at most the connections the victim held
    assert set(outcomes) <= {"200", "dropped"}
    assert wait_for(lambda: len(pids_seen(multi.url)) == 2 and victim not in pids_seen(multi.url))


def test_slow_headers_are_cut_off_in_the_serving_processes(multi):
    assert closed_after_slow_headers(multi.port, 20, 3.5) == 20


def test_hostile_corpus_against_several_processes(multi):
    _hostile_corpus(multi, seed=11)


def test_hostile_corpus_against_processes_with_two_threads_each():
    """The review's set-up, ``--processes 2 --workers 2``, takes the corpus whole. (It exited 33 s
    into a 10,791-request corpus when runaways held every deadline slot; that exact race is
    pinned by test_every_slot_held_by_ending_processes_delays_a_replacement_not_the_supervisor,
    which this 800-probe run does not reach.)"""
    s = Server(
        "--processes", "2", "--workers", "2", "--timeout", "2", "--max-rows", "500",
        "--max-answer-bytes", "200000", "--header-timeout", "2", "--body-timeout", "2",
        "--no-validate",
    )  # fmt: skip
    try:
        _hostile_corpus(s, seed=29)
    finally:
        s.stop()


def _hostile_corpus(multi: Server, seed: int) -> None:
    listener = Listener()
    try:
        probes = corpus(seed=seed, size=800, target=listener.url)
        statuses: collections.Counter[int] = collections.Counter()
        failures: list[str] = []

        def send(probe) -> None:
            try:
                with httpx.Client(base_url=multi.url, timeout=30) as c:
                    r = c.request(
                        probe.method, probe.path, params=probe.params,
                        headers={k: v.encode() for k, v in probe.headers.items()},
                        content=probe.body,
                    )  # fmt: skip
            except httpx.HTTPError as exc:
                failures.append(f"{probe.family}: {type(exc).__name__}")
                return
            statuses[r.status_code] += 1
            if r.status_code >= 500 and r.status_code != 503:
                failures.append(f"{probe.family} {probe.path} -> {r.status_code}")

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(send, probes))
        assert not failures, failures[:20]
        assert sum(statuses.values()) == len(probes)
        assert listener.contacts == 0
    finally:
        listener.close()
    assert wait_for(lambda: len(pids_seen(multi.url)) == 2)
    r = httpx.get(multi.url + "sparql", params={"query": ASK}, headers=JSON)
    assert r.json()["boolean"] is True


def test_sigterm_stops_every_process():
    s = Server("--processes", "2", "--no-validate")
    children = pids_seen(s.url)
    assert len(children) == 2
    s.process.send_signal(signal.SIGTERM)
    assert s.process.wait(timeout=30) == 0
    assert wait_for(lambda: not any(alive(pid) for pid in children), 10)


def test_processes_auto_uses_every_cpu():
    s = Server("--processes", "auto", "--no-validate")
    try:
        expected = len(os.sched_getaffinity(0))
        assert len(pids_seen(s.url, tries=4 * expected)) == expected
    finally:
        s.stop()


def test_an_on_disk_store_is_served_from_one_snapshot(tmp_path):
    store = tmp_path / "store"
    out = subprocess.run(
        [sys.executable, "-m", "kzgraph", "build", "--store", str(store)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    s = Server("--store", str(store), "--processes", "2", "--no-validate")
    try:
        assert len(pids_seen(s.url)) == 2
        snapshots = list(Path(f"{store}.snapshots").iterdir())
        assert len(snapshots) == 1  # both processes read the same published checkpoint
        count = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
        answers = {
            httpx.get(s.url + "sparql", params={"query": count}, headers=JSON).json()["results"][
                "bindings"
            ][0]["n"]["value"]
            for _ in range(4)
        }
        assert len(answers) == 1 and int(answers.pop()) > 6000
    finally:
        s.stop()
    assert not list(Path(f"{store}.snapshots").glob("*"))


@pytest.mark.parametrize(
    "args",
    [
        ["--processes", "2", "--allow-updates", "--token", "t", "--store", "STORE"],
        ["--processes", "0"],
        ["--processes", "many"],
    ],
)
def test_bad_process_counts_and_writes_are_refused_clearly(tmp_path, args):
    args = [str(tmp_path / "s") if a == "STORE" else a for a in args]
    out = subprocess.run(
        [sys.executable, "-m", "kzgraph", "serve", "--port", "1", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    assert "--processes" in out.stderr and "Traceback" not in out.stderr


def test_deadlines_are_shared_across_fork():
    deadlines = Deadlines(2)
    pid = os.fork()
    if pid == 0:  # the child writes, the parent reads
        deadlines.set(1, 12345.5)
        os._exit(0)
    os.waitpid(pid, 0)
    assert deadlines.get(1) == 12345.5 and deadlines.get(0) == 0
    assert not deadlines.overdue(1, 12345.5 + GRACE - 1)
    assert deadlines.overdue(1, 12345.5 + GRACE + 1)
    deadlines.set(1, 0.0)
    assert not deadlines.overdue(1, 1e12)


def test_deadlines_of_a_process_s_threads():
    """A process is idle while one of its threads is; overdue when any query is."""
    deadlines = Deadlines(2, threads=3)
    assert list(deadlines.of(1)) == [3, 4, 5]
    deadlines.set(3, 100.0)
    deadlines.set(4, 100.0)
    assert deadlines.idle(1) and deadlines.idle(0)
    deadlines.set(5, 50.0)
    assert not deadlines.idle(1) and deadlines.idle(0)
    assert deadlines.any_overdue(1, 50.0 + GRACE + 1) and not deadlines.any_overdue(0, 1e12)
    deadlines.clear(1)
    assert deadlines.idle(1) and not deadlines.any_overdue(1, 1e12)


def test_one_process_answers_several_queries_at_once_with_threads():
    """--workers 2 with --processes: a second query is answered while the first still runs."""
    s = Server("--processes", "1", "--workers", "2", "--timeout", "4", "--no-validate")
    try:
        before = httpx.get(s.url + "healthz").json()["pool"]
        assert (before["size"], before["idle"], len(before["pids"])) == (2, 2, 1)  # one process
        runaway: list[httpx.Response] = []
        thread = threading.Thread(
            target=lambda: runaway.append(
                httpx.get(s.url + "sparql", params={"query": RUNAWAY, "timeout": "4"}, timeout=30)
            )
        )
        thread.start()
        assert wait_for(lambda: httpx.get(s.url + "healthz").json()["pool"]["idle"] == 1)
        during = httpx.get(s.url + "sparql", params={"query": ASK}, headers=JSON)
        assert during.json()["boolean"] is True
        assert not runaway  # answered while the other thread still ran the runaway query
        thread.join()
        assert runaway[0].status_code == 503
        assert wait_for(lambda: httpx.get(s.url + "sparql", params={"query": ASK}).is_success)
    finally:
        s.stop()


def test_each_process_keeps_its_slow_answers(multi):
    slow = "SELECT (COUNT(*) AS ?n) WHERE { ?a a ?t . ?d a ?u }"
    with httpx.Client(base_url=multi.url, timeout=30) as c:  # one connection: one process
        answers = [c.get("/sparql", params={"query": slow}, headers=JSON) for _ in range(3)]
        kept = c.get("/healthz").json()["answers"]
    assert [r.headers["X-Kzgraph-Cache"] for r in answers] == ["miss", "hit", "hit"]
    assert len({r.content for r in answers}) == 1
    assert kept["hits"] >= 2 and kept["entries"] >= 1


def test_the_answer_cache_can_be_switched_off():
    s = Server("--processes", "2", "--answer-cache-mb", "0", "--no-validate")
    try:
        slow = "SELECT (COUNT(*) AS ?n) WHERE { ?a a ?t . ?d a ?u }"
        with httpx.Client(base_url=s.url, timeout=30) as c:
            seen = {
                c.get("/sparql", params={"query": slow}, headers=JSON).headers["X-Kzgraph-Cache"]
                for _ in range(3)
            }
            assert seen == {"miss"} and c.get("/healthz").json()["answers"]["entries"] == 0
    finally:
        s.stop()


def test_a_query_past_the_memory_limit_ends_only_its_process():
    """Five memory bombs in a row: each ends its process, none stops the server."""
    s = Server("--processes", "2", "--worker-memory-mb", "300", "--no-validate")
    bomb = "SELECT * WHERE { ?s ?p ?o . ?a ?b ?c } ORDER BY ?o ?c LIMIT 1"
    try:
        for _ in range(5):
            try:
                r = httpx.get(s.url + "sparql", params={"query": bomb}, timeout=60)
                assert r.status_code in (400, 503)  # if the engine reports it instead
            except httpx.HTTPError:
                pass  # the process died under the query: its connection closed
        assert s.process.poll() is None
        assert wait_for(lambda: len(pids_seen(s.url)) == 2)
        r = httpx.get(s.url + "sparql", params={"query": ASK}, headers=JSON)
        assert r.json()["boolean"] is True
        assert "ended (signal" in s.output()
    finally:
        s.stop()


def test_the_processes_share_their_slow_answers(multi):
    """An answer one process computed is a hit in the other (they share a directory)."""
    slow = "SELECT (COUNT(*) AS ?n) WHERE { ?a a ?t . ?d a ?u FILTER(?a != ?d) }"
    seen = []
    for _ in range(4):  # fresh connections: handed round both processes
        with httpx.Client(base_url=multi.url, timeout=30) as c:
            r = c.get("/sparql", params={"query": slow}, headers=JSON)
            seen.append((c.get("/healthz").json()["pool"]["pids"][0], r.headers["X-Kzgraph-Cache"]))
    assert len({pid for pid, _ in seen}) == 2
    assert [hit for _, hit in seen] == ["miss", "hit", "hit", "hit"]


def test_a_kept_alive_client_of_a_retiring_process_moves_to_a_healthy_one(multi):
    """After its runaway query, the client's next request is answered, not told "restarting"."""
    with httpx.Client(base_url=multi.url, timeout=30) as c:
        r = c.get("/sparql", params={"query": RUNAWAY, "timeout": "1"})
        assert r.status_code == 503
        # said, not only done: a client that reuses the connection first would meet a reset
        assert r.headers["connection"] == "close"
        answers = [c.get("/sparql", params={"query": ASK}, headers=JSON) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert wait_for(lambda: len(pids_seen(multi.url)) == 2)


def test_connections_that_reach_a_retiring_process_come_back_to_the_supervisor():
    """The hand-back protocol: nothing handed over while a process retires is lost."""
    from kzgraph.endpoint.serving.processes import _Children

    children = _Children(1)
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    children.channels[4242], children.slots[4242] = ours, 0
    theirs.send(b"r")  # the process retires ...
    client, handed = socket.socketpair()
    assert children.hand(handed)  # ... while the supervisor still hands it a connection
    _, fds, _, _ = socket.recv_fds(theirs, 64, 64)
    socket.send_fds(theirs, [b"b"], fds)  # the process gives it back
    returned: list[socket.socket] = []
    stopped: list[int] = []
    for _ in range(10):
        s, r = children.poll_channels()
        stopped += s
        returned += r
        if returned:
            break
        time.sleep(0.05)
    assert stopped == [4242] and 4242 not in children.channels
    assert b"k" in theirs.recv(16)  # acknowledged: the process may close its channel
    client.sendall(b"ping")
    assert returned[0].recv(4) == b"ping"  # the very connection, ready to hand to another
    theirs.close()
    assert children.poll_channels() == ([], []) and not children.retiring


def requests_counted(client: httpx.Client, route: str) -> float:
    """Requests to ``route`` in /metrics as the process behind ``client`` reports them."""
    total = 0.0
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("kzgraph_http_requests_total{") and f'route="{route}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_count_every_process_s_requests(multi):
    """/metrics sums the processes' figures: the same total whichever process answers."""
    clients = [httpx.Client(base_url=multi.url, timeout=10) for _ in range(4)]
    try:
        owners = {c.get("/healthz").json()["pool"]["pids"][0]: c for c in clients}
        assert len(owners) == 2  # kept-alive clients are spread over both processes
        before = requests_counted(clients[0], "/api/queries")
        for client in clients:
            for _ in range(5):
                assert client.get("/api/queries").status_code == 200
        assert wait_for(
            lambda: all(requests_counted(c, "/api/queries") == before + 20 for c in owners.values())
        ), [requests_counted(c, "/api/queries") for c in owners.values()]
    finally:
        for c in clients:
            c.close()


def test_every_slot_held_by_ending_processes_delays_a_replacement_not_the_supervisor():
    """Unit: with every deadline slot held by a process still ending, no slot is handed out
    (it used to raise StopIteration inside spawn() and end the supervisor)."""
    from kzgraph.endpoint.serving.processes import _Children

    children = _Children(1)
    children.slots.update({4242: 0, 4343: 1})
    assert children.free_slot() is None
    del children.slots[4242]
    assert children.free_slot() == 0

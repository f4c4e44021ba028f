"""Slow answers kept beside an on-disk store survive a restart, and never outlive their data.

A saved query at a million quads takes seconds; a server restarted on unchanged data should not
compute it again. The answers live in ``DIR.answers``, keyed on the store's content id and on
what shapes an answer (caps, engine, code). Tested against real servers on a real store.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from .server_process import Server, free_port

JSON = {"Accept": "application/sparql-results+json"}
TOKEN = "s3cret"
#: Slow enough on the seeded graph (a cross product of the typed nodes) to be kept.
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a a ?t . ?d a ?u }"
SLOW_TOO = "SELECT (COUNT(*) AS ?n) WHERE { ?a a ?t . ?d a ?u FILTER(?a != ?d) }"


def ask_twice(server: Server, query: str = SLOW) -> list[httpx.Response]:
    with httpx.Client(base_url=server.url, timeout=60) as c:  # one connection, one process
        return [c.get("/sparql", params={"query": query}, headers=JSON) for _ in range(2)]


def cache_of(responses: list[httpx.Response]) -> list[str]:
    return [r.headers["X-Kzgraph-Cache"] for r in responses]


#: One port for every server here: the service's URL is the base IRI of a query, so it is part
#: of what an answer is kept under (a server restarted at another address computes afresh).
PORT = free_port()


def served(store: Path, *args: str) -> Server:
    return Server(
        "--store", str(store), "--no-validate", *args, env={"KZGRAPH_TOKEN": TOKEN}, port=PORT
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A store filled from the files by a first start, then stopped."""
    path = tmp_path_factory.mktemp("kept") / "db"
    served(path, "--workers", "1").stop()
    return path


@pytest.mark.parametrize(
    "mode", [("--workers", "1"), ("--processes", "2")], ids=["pool", "processes"]
)
def test_a_restart_on_unchanged_data_answers_from_the_kept_answers(store: Path, mode):
    shutil.rmtree(store.with_name("db.answers"), ignore_errors=True)
    first = served(store, *mode)
    try:
        before = ask_twice(first)
    finally:
        first.stop()
    assert cache_of(before) == ["miss", "hit"]
    assert list(store.with_name("db.answers").glob("*.answer"))
    again = served(store, *mode)
    try:
        after = ask_twice(again)
    finally:
        again.stop()
    assert cache_of(after) == ["hit", "hit"]  # the first request after the restart too
    assert after[0].content == before[0].content


def test_other_caps_or_another_address_compute_afresh(store: Path):
    """An answer kept under one --max-rows, or one base IRI, is not served under another."""
    first = served(store, "--workers", "1")
    try:
        assert cache_of(ask_twice(first, SLOW_TOO))[1] == "hit"
    finally:
        first.stop()
    other = served(store, "--workers", "1", "--max-rows", "5000")
    try:
        assert cache_of(ask_twice(other, SLOW_TOO)) == ["miss", "hit"]
    finally:
        other.stop()
    elsewhere = Server("--store", str(store), "--no-validate", "--workers", "1")
    try:
        assert cache_of(ask_twice(elsewhere, SLOW_TOO)) == ["miss", "hit"]
    finally:
        elsewhere.stop()


def test_a_kept_answer_never_outlives_a_write_even_restored_from_a_copy(tmp_path: Path):
    """The key, not only the emptying of the folder on a write, keeps an old answer out."""
    store = tmp_path / "db"
    first = served(store, "--workers", "1", "--allow-updates")
    try:
        old = ask_twice(first)
        copy = tmp_path / "old-answers"
        shutil.copytree(store.with_name("db.answers"), copy)
        r = first.update(
            "INSERT DATA { GRAPH <https://w3id.org/kzgraph/graph/kept-test> "
            "{ <urn:x:firm> a <https://w3id.org/kzgraph/ontology#Company> } }",
            TOKEN,
        )
        assert r.status_code == 204, r.text
        assert not list(store.with_name("db.answers").glob("*.answer"))  # emptied on the write
    finally:
        first.stop()
    shutil.rmtree(store.with_name("db.answers"))
    shutil.copytree(copy, store.with_name("db.answers"))  # the old answers put back
    again = served(store, "--workers", "1")
    try:
        new = ask_twice(again)
    finally:
        again.stop()
    assert cache_of(new) == ["miss", "hit"]
    n = [int(r.json()["results"]["bindings"][0]["n"]["value"]) for r in (old[0], new[0])]
    assert n[1] > n[0]


def test_a_damaged_answer_file_is_a_miss_never_an_error(store: Path):
    shutil.rmtree(store.with_name("db.answers"), ignore_errors=True)
    first = served(store, "--workers", "1")
    try:
        good = ask_twice(first)[0]
    finally:
        first.stop()
    files = list(store.with_name("db.answers").glob("*.answer"))
    assert files
    for number, path in enumerate(files):
        data = path.read_bytes()
        # cut short, a header that is not JSON, or one that names another key
        damaged = [data[: len(data) - 3], b"\x80\x04not json\n" + data, b'{"key": "x"}\n'][
            number % 3
        ]
        path.write_bytes(damaged)
    again = served(store, "--workers", "1")
    try:
        answers = ask_twice(again)
    finally:
        again.stop()
    assert [r.status_code for r in answers] == [200, 200]
    assert cache_of(answers) == ["miss", "hit"] and answers[0].content == good.content


#: Every quad of the seeded graph with its graph: a few megabytes of JSON, over the 1 MB that
#: ``--answer-cache-mb 1`` lets memory hold per answer.
BIG = "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }"


def test_an_answer_too_big_for_memory_is_kept_on_disk_across_a_restart(store: Path):
    shutil.rmtree(store.with_name("db.answers"), ignore_errors=True)
    first = served(store, "--workers", "1", "--answer-cache-mb", "1")
    try:
        before = ask_twice(first, BIG)
        health = httpx.get(first.url + "healthz", timeout=30).json()
    finally:
        first.stop()
    assert len(before[0].content) > 1_000_000
    assert cache_of(before) == ["miss", "hit"]  # the second read from the file
    kept = [p.stat().st_size for p in store.with_name("db.answers").glob("*.answer")]
    assert max(kept) > len(before[0].content)  # the body and its header line
    assert health["answers"]["bytes"] < 1_000_000, health["answers"]  # memory did not hold it
    again = served(store, "--workers", "1", "--answer-cache-mb", "1")
    try:
        after = ask_twice(again, BIG)
    finally:
        again.stop()
    assert cache_of(after) == ["hit", "hit"] and after[0].content == before[0].content


def test_the_disk_budget_drops_the_oldest_answers_first(tmp_path: Path):
    from kzgraph.endpoint.execution.answer_cache import AnswerCache
    from kzgraph.endpoint.execution.worker_process import Answer, Job

    cache = AnswerCache(max_bytes=1_000, max_entry=100, shared=tmp_path, disk_bytes=25_000)
    keys = [cache.key(Job(f"SELECT * WHERE {{ ?s ?p {n} }}"), data="d") for n in range(4)]
    for key in keys:  # four answers of 10 kB: too big for memory, three fit the disk budget
        cache.put(key, Answer(True, "select", b"x" * 10_000, cpu_seconds=1.0))
    assert cache.bytes == 0
    reopened = AnswerCache(max_bytes=1_000, max_entry=100, shared=tmp_path, disk_bytes=25_000)
    assert [reopened.get(k) is not None for k in keys] == [False, False, True, True]


def test_whether_an_answer_is_kept_does_not_depend_on_the_machines_load(tmp_path: Path):
    """Memory keeps every answer; the disk keeps those that cost 5 ms of CPU, measured in the
    thread that ran them: quick queries run while other threads hold the CPU stay off the disk."""
    import threading

    from kzgraph.endpoint.execution.answer_cache import AnswerCache
    from kzgraph.endpoint.execution.worker_process import Job, run_job
    from kzgraph.store.engines import open_store

    store = open_store("oxigraph")
    cache = AnswerCache(shared=tmp_path)
    stop = threading.Event()

    def spin() -> None:  # pure Python: holds the GIL the query's thread waits for
        while not stop.is_set():
            sum(range(10_000))

    spinners = [threading.Thread(target=spin) for _ in range(4)]
    for spinner in spinners:
        spinner.start()
    try:
        quick = [run_job(store.store, Job(f"ASK {{ ?s ?p {n} }}"), 1000) for n in range(30)]
    finally:
        stop.set()
        for spinner in spinners:
            spinner.join()
    assert max(a.seconds for a in quick) > min(a.cpu_seconds for a in quick)  # it did wait
    for n, answer in enumerate(quick):
        key = cache.key(Job(f"ASK {{ ?s ?p {n} }}"), data="d")
        cache.put(key, answer)
        assert cache.get(key) is not None  # in memory
    assert not list(tmp_path.glob("*.answer")), [a.cpu_seconds for a in quick]
    costly = run_job(store.store, Job(SLOW), 1000)
    assert costly.cpu_seconds >= cache.min_cpu_seconds
    cache.put(cache.key(Job(SLOW), data="d"), costly)
    assert len(list(tmp_path.glob("*.answer"))) == 1


def test_a_query_calling_now_or_rand_is_never_answered_from_the_cache(store: Path):
    server = served(store, "--workers", "1")
    try:
        for query in ("SELECT (NOW() AS ?t) (COUNT(*) AS ?n) WHERE { ?a a ?t0 . ?d a ?u }",
                      "SELECT ?s WHERE { ?s a ?t } ORDER BY RAND() LIMIT 3"):  # fmt: skip
            assert cache_of(ask_twice(server, query)) == ["miss", "miss"]
        assert cache_of(ask_twice(server, "ASK { ?s ?p ?o }")) == ["miss", "hit"]  # quick: kept
    finally:
        server.stop()

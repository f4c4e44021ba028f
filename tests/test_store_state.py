"""An on-disk store is the source of truth: its recorded content id and validation let a server
start without redoing work, workers read published snapshots, and any change invalidates the
record."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pyoxigraph as ox
import pytest

from kzgraph.core.errors import KzgraphError
from kzgraph.endpoint.config import ServerSettings
from kzgraph.endpoint.execution.workers import Job
from kzgraph.endpoint.serving.preparation import prepare
from kzgraph.store import state as store_state
from kzgraph.store.engines import MERGE, OxigraphStore

COUNT_FIRMS = "SELECT (COUNT(?f) AS ?n) WHERE { ?f a kz:Company }"
KZ = "https://w3id.org/kzgraph/ontology#"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
NEW_FIRM = (
    "INSERT DATA { GRAPH <https://w3id.org/kzgraph/graph/test> { "
    f'<https://w3id.org/kzgraph/id/company/test-firm> a <{KZ}Company> ; <{LABEL}> "Test firm"@en ;'
    " <http://www.w3.org/ns/prov#wasDerivedFrom> <https://w3id.org/kzgraph/graph/test> } }"
)


def _count(state) -> int:
    answer = asyncio.run(state.pool.run(Job(COUNT_FIRMS, select_format="json"), 20))
    assert answer.ok, answer.message
    return int(json.loads(answer.body)["results"]["bindings"][0]["n"]["value"])


def writable(settings, store: Path, workers: int = 1, **options):
    """A server state on ``store`` that accepts writes (sandbox off: in-process tests)."""
    return prepare(
        ServerSettings(
            project=settings, store_path=store, workers=workers, sandbox=False,
            allow_updates=True, token="t", **options,
        )
    )  # fmt: skip


@pytest.fixture()
def built(tmp_path, settings) -> Path:
    """A store filled from the files by a first server start, then stopped."""
    path = tmp_path / "store"
    state = prepare(ServerSettings(project=settings, store_path=path, workers=1, sandbox=False))
    state.close()
    return path


def test_content_id_is_a_multiset_hash():
    a, b = ox.Store(), ox.Store()
    g = ox.NamedNode("http://example.org/g")
    quads = [
        ox.Quad(ox.NamedNode(f"http://example.org/s{i}"), ox.NamedNode("http://example.org/p"),
                ox.Literal(str(i)), g)
        for i in range(20)
    ]  # fmt: skip
    a.extend(quads)
    b.extend(reversed(quads))
    assert store_state.content_of(a) == store_state.content_of(b)  # order does not count
    b.remove(quads[3])
    assert store_state.content_of(a) != store_state.content_of(b)
    # the default graph only repeats the named graphs
    a.add(ox.Quad(quads[0].subject, quads[0].predicate, quads[0].object, ox.DefaultGraph()))
    assert store_state.content_of(a) != store_state.content_of(b)
    b.add(quads[3])
    assert store_state.content_of(a) == store_state.content_of(b)


def test_a_restart_reuses_the_recorded_validation(built, settings, caplog):
    recorded = store_state.read(built)
    assert recorded and recorded.content and not recorded.dirty
    assert recorded.validated and recorded.validated["conforms"] is True
    caplog.set_level(logging.INFO, logger="kzgraph.endpoint")
    state = prepare(ServerSettings(project=settings, store_path=built, workers=1, sandbox=False))
    try:
        assert "conforms to the shapes (recorded)" in caplog.text
        assert "running the shacl engine" not in caplog.text
    finally:
        state.close()


def test_workers_read_a_new_snapshot_after_each_write(built, settings):
    state = writable(settings, built, workers=2)
    try:
        assert state.snapshots is not None
        before = _count(state)
        first = set(state.pool.in_use())
        state.write(NEW_FIRM + " ;\n" + MERGE)
        # every worker answers from the new snapshot, and the old one is deleted once unused
        assert _count(state) == before + 1
        assert _count(state) == before + 1
        assert not any(Path(p).exists() for p in first - state.pool.in_use())
        assert all(Path(p).exists() for p in state.pool.in_use())
        # the primary store is never opened by a worker: snapshots live apart from it
        assert all(not Path(p).is_relative_to(built) for p in state.pool.in_use())
    finally:
        state.close()
    assert state.snapshots is not None and not state.snapshots.root.exists()


def test_a_write_records_the_new_content_and_its_validation(built, settings):
    from kzgraph.graph import derived

    before = store_state.read(built)
    assert before is not None
    state = writable(settings, built)
    try:
        state.write(NEW_FIRM + " ;\n" + MERGE)
    finally:
        state.close()
    after = store_state.read(built)
    assert after is not None and after.content != before.content and not after.dirty
    # the record is for the new content, so a restart reuses it instead of validating again
    assert after.validated is not None
    assert after.validated["key"] == derived.store_validation_key(settings, after.content or "")
    assert after.conforms_for(after.validated["key"]) is True


def test_a_write_with_validation_off_leaves_no_record(built, settings):
    state = writable(settings, built, validate=False)
    try:
        state.write(NEW_FIRM + " ;\n" + MERGE)
    finally:
        state.close()
    after = store_state.read(built)
    assert after is not None and after.validated is None  # the next start validates


def test_a_write_that_breaks_a_shape_is_found_at_the_next_start(built, settings):
    state = writable(settings, built)
    try:  # a company with no label breaks kzsh:LabelledShape
        state.write(
            "INSERT DATA { GRAPH <https://w3id.org/kzgraph/graph/test> { "
            f"<https://w3id.org/kzgraph/id/company/nameless> a <{KZ}Company> }} }} ;\n" + MERGE
        )
    finally:
        state.close()
    del state  # release the store's lock before the next start in this process
    with pytest.raises(KzgraphError, match="does not conform"):
        prepare(ServerSettings(project=settings, store_path=built, workers=1, sandbox=False))
    # the outcome is recorded: the next refusal needs no validation run
    recorded = store_state.read(built)
    assert recorded and recorded.validated and recorded.validated["conforms"] is False


def test_a_crash_mid_write_leaves_the_record_dirty_and_it_is_rechecked(built, settings, caplog):
    before = store_state.read(built)
    assert before is not None
    store_state.mark_dirty(built)  # what a writer killed before finishing leaves behind
    caplog.set_level(logging.INFO, logger="kzgraph.endpoint")
    state = prepare(ServerSettings(project=settings, store_path=built, workers=1, sandbox=False))
    try:
        assert "no clean record of its content" in caplog.text
        assert "running the shacl engine" in caplog.text
    finally:
        state.close()
    after = store_state.read(built)
    assert after and after.content == before.content and not after.dirty


def test_len_counts_named_graph_quads_only(settings):
    store = OxigraphStore()
    g = ox.NamedNode("http://example.org/g")
    s, p = ox.NamedNode("http://example.org/s"), ox.NamedNode("http://example.org/p")
    store.store.add(ox.Quad(s, p, ox.Literal("1"), g))
    store.store.add(ox.Quad(s, p, ox.Literal("2"), g))
    assert not store.is_empty()
    store.refresh_union()
    assert len(store) == 2
    store.bulk_refresh_union()
    assert len(list(store.store.quads_for_pattern(None, None, None, ox.DefaultGraph()))) == 2


def test_touched_reads_ground_updates_only():
    from kzgraph.core.sparql_text import touched

    found = touched(
        "PREFIX ex: <http://example.org/> INSERT DATA { GRAPH ex:g { ex:a ex:p ex:b , 3 } } ;"
        " DROP SILENT GRAPH <http://example.org/old>"
    )
    assert found is not None
    iris, graphs = found
    assert {"http://example.org/a", "http://example.org/b", "http://example.org/g"} <= iris
    assert graphs == {"http://example.org/old"}
    assert touched("DELETE WHERE { ?s ?p ?o }") is None
    assert touched("DELETE { <a> <b> <c> } WHERE { }") is None
    assert touched("CLEAR ALL") is None
    assert touched("LOAD <http://example.org/x>") is None


def test_a_write_is_validated_on_the_nodes_it_touches(built, settings):
    state = writable(settings, built)
    nameless = "https://w3id.org/kzgraph/id/company/nameless"
    breaking = (
        "INSERT DATA { GRAPH <https://w3id.org/kzgraph/graph/test> { "
        f"<{nameless}> a <{KZ}Company> }} }}"
    )
    try:
        assert state.validation["conforms"] is True
        state.write(breaking + " ;\n" + MERGE, None, breaking)
        assert state.validation["conforms"] is False
        assert state.validation["scope"] != "full"  # only the touched nodes were checked
        # a fix brings the record back; the data was not conforming, so the check is full
        fix = (
            "INSERT DATA { GRAPH <https://w3id.org/kzgraph/graph/test> { "
            f'<{nameless}> <{LABEL}> "Nameless" ; <http://www.w3.org/ns/prov#wasDerivedFrom> <{nameless}> }} }}'
        )
        state.write(fix + " ;\n" + MERGE, None, fix)
        assert state.validation == {"conforms": True, "findings": 0, "scope": "full"}
        # a data-dependent update is validated in full
        state.write(
            "DELETE { ?s ?p ?o } WHERE { GRAPH <https://w3id.org/kzgraph/graph/test> { ?s ?p ?o } }"
            " ;\n" + MERGE,
            None,
            "DELETE { ?s ?p ?o } WHERE { GRAPH <https://w3id.org/kzgraph/graph/test> { ?s ?p ?o } }",
        )
        assert state.validation["scope"] == "full" and state.validation["conforms"] is True
    finally:
        state.close()
    recorded = store_state.read(built)
    assert recorded and recorded.validated and recorded.validated["conforms"] is True


def _merge_holds(store: ox.Store) -> bool:
    default = {
        (q.subject, q.predicate, q.object)
        for q in store.quads_for_pattern(None, None, None, ox.DefaultGraph())
    }
    named = {
        (q.subject, q.predicate, q.object)
        for q in store.quads_for_pattern(None, None, None, None)
        if not isinstance(q.graph_name, ox.DefaultGraph)
    }
    return default == named


@pytest.mark.parametrize("seed", range(3))
def test_ground_writes_keep_the_merge_graph_by_graph(built, settings, seed):
    import random

    from kzgraph.core.sparql_text import scan
    from kzgraph.endpoint.execution.write_scope import with_merges

    rng = random.Random(seed)
    state = writable(settings, built, validate=False)
    graphs = [f"https://w3id.org/kzgraph/graph/t{i}" for i in range(3)]
    # a triple the seeded graphs already hold, so deleting it elsewhere must keep it in the merge
    shared = (
        "<https://w3id.org/kzgraph/id/company/tbea> <http://www.w3.org/2000/01/rdf-schema#label> "
        '"TBEA Company Limited"@en'
    )
    triples = [shared] + [
        f"<http://example.org/s{i}> <http://example.org/p> <http://example.org/o{i % 3}>"
        for i in range(6)
    ]
    try:
        for _ in range(12):
            g = rng.choice(graphs)
            chosen = " . ".join(rng.sample(triples, 3))
            update = rng.choice(
                [
                    f"INSERT DATA {{ GRAPH <{g}> {{ {chosen} }} }}",
                    f"DELETE DATA {{ GRAPH <{g}> {{ {chosen} }} }}",
                    f"DROP SILENT GRAPH <{g}>",
                    # one request, two graphs: a triple in both goes if both lose it
                    f"DELETE DATA {{ GRAPH <{graphs[0]}> {{ {chosen} }} GRAPH <{graphs[1]}> {{ {chosen} }} }}",
                    f"PREFIX ex: <http://example.org/> INSERT DATA {{ GRAPH <{g}> {{ ex:a ex:b ex:c }} }} ;",
                ]
            )
            text = with_merges(update, scan(update), [], [])
            assert "DROP SILENT DEFAULT" not in text  # graph by graph, not the whole store
            state.write(text, None, update)
            assert _merge_holds(state.store.store), update
        # a data-dependent update still gets the full merge, and it still holds
        update = "DELETE { ?s ?p ?o } WHERE { GRAPH ?g { ?s <http://example.org/p> ?o } }"
        text = with_merges(update, scan(update), [], [])
        assert "DROP SILENT DEFAULT" in text
        state.write(text, None, update)
        assert _merge_holds(state.store.store)
    finally:
        state.close()


def test_healthz_count_never_blocks(built, settings):
    import time

    state = prepare(ServerSettings(project=settings, store_path=built, workers=1, sandbox=False))
    try:
        first = state.size_if_known()  # starts a count in a thread, returns at once
        deadline = time.monotonic() + 30
        while state.size_if_known() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first is None or first == len(state.store)
        assert state.size_if_known() == len(state.store)
    finally:
        state.close()


def test_an_update_request_is_read_once(built, settings, monkeypatch):
    """The safety scan's reading of a write is handed on: merge scope, touched nodes, prologue.

    Every tokenisation of the request's text is counted, through the real app, for an update
    with a prologue (its merge goes after it) and for a Graph Store PUT.
    """
    import httpx

    from kzgraph.core import sparql_text
    from kzgraph.endpoint.serving.app import create_app

    readings: list[str] = []
    real = sparql_text.tokens

    def counted(text: str):
        readings.append(text)
        return real(text)

    monkeypatch.setattr(sparql_text, "tokens", counted)
    state = writable(settings, built)
    update = (
        "PREFIX ex: <https://w3id.org/kzgraph/graph/> "
        "INSERT DATA { GRAPH ex:once { <urn:once:a> <urn:once:p> <urn:once:b> } }"
    )

    async def send() -> tuple[int, int]:
        transport = httpx.ASGITransport(app=create_app(state))
        async with httpx.AsyncClient(transport=transport, base_url="http://kzgraph.test") as c:
            auth = {"Authorization": "Bearer t"}
            first = await c.post("/sparql", data={"update": update}, headers=auth)
            put = await c.put(
                "/store?graph=https://w3id.org/kzgraph/graph/once-put",
                content=b"<urn:once:c> <urn:once:p> <urn:once:d> .",
                headers={**auth, "Content-Type": "application/n-triples"},
            )
            return first.status_code, put.status_code

    try:
        assert asyncio.run(send()) == (204, 201)
        assert state.local.store.query("ASK { GRAPH ?g { <urn:once:a> ?p ?o } }").__bool__()
    finally:
        state.close()
    assert readings.count(update) == 1, readings
    puts = [t for t in readings if "once-put" in t]
    assert len(puts) == 1, puts  # the server-made update of the PUT, read once too

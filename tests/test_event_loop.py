"""No request handler reads the whole store on the event loop.

The label map and the graph list are cached until the data changes; the first request after a
write rebuilds them, which at millions of quads takes seconds. Done on the event loop, that would
hold up every other client meanwhile. This test drops both caches before each request to a route
that needs them and records, each time one is rebuilt, whether an event loop was running on that
thread: none may have been. Every in-process query a handler makes is recorded the same way.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from kzgraph.core.namespaces import BASE
from kzgraph.core.settings import Settings
from kzgraph.endpoint.config import ServerSettings
from kzgraph.endpoint.execution.state import ServerState
from kzgraph.endpoint.serving.app import create_app
from kzgraph.endpoint.serving.preparation import prepare
from kzgraph.store.engines import OxigraphStore

from .conftest import ROOT  # the seeded project


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture(scope="module")
def app_state():
    state = prepare(
        ServerSettings(project=Settings.discover(ROOT), workers=1, validate=False, sandbox=False)
    )
    yield state
    state.close()


def test_labels_and_graphs_are_rebuilt_off_the_event_loop(app_state, monkeypatch):
    rebuilt: list[tuple[str, str, bool]] = []
    current = {"path": ""}
    real_labels, real_graphs = ServerState.labels, ServerState.graphs

    def labels(self: ServerState) -> dict[str, str]:
        if self._labels is None:
            rebuilt.append(("labels", current["path"], _on_event_loop()))
        return real_labels(self)

    def graphs(self: ServerState) -> list[str]:
        if self._graphs is None:
            rebuilt.append(("graphs", current["path"], _on_event_loop()))
        return real_graphs(self)

    real_query = OxigraphStore.query

    def query(self: OxigraphStore, *args: object, **kwargs: object) -> object:
        rebuilt.append(("query", current["path"], _on_event_loop()))
        return real_query(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ServerState, "labels", labels)
    monkeypatch.setattr(ServerState, "graphs", graphs)
    monkeypatch.setattr(OxigraphStore, "query", query)
    graph = next(g for g in app_state.graphs() if g.startswith(f"{BASE}graph/"))
    requests = [
        ("/", "text/html"),
        ("/api/labels", "application/json"),
        ("/api/queries/investments-by-firm/parameters", "application/json"),
        ("/sparql", "text/turtle"),  # the service description lists the graphs
        ("/sparql?query=ASK%20%7B%7D", "application/sparql-results+json"),
        ("/healthz", "application/json"),
        ("/.well-known/void", "text/turtle"),
        ("/.well-known/void", "text/html"),
        ("/" + graph[len(BASE) :], "text/turtle"),
        ("/ontology", "text/turtle"),
    ]

    async def visit() -> None:
        transport = httpx.ASGITransport(app=create_app(app_state))
        async with httpx.AsyncClient(transport=transport, base_url="http://kzgraph.test") as client:
            for path, accept in requests:
                app_state._labels = None
                app_state._graphs = None
                app_state.cache.clear()
                current["path"] = path
                response = await client.get(path, headers={"Accept": accept})
                assert response.status_code == 200, (path, response.text[:300])

    asyncio.run(visit())
    assert {kind for kind, _path, _loop in rebuilt} == {"labels", "graphs", "query"}
    on_loop = [(kind, path) for kind, path, loop in rebuilt if loop]
    assert not on_loop, f"rebuilt on the event loop: {on_loop}"

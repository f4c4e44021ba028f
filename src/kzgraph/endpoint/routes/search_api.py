"""Search over HTTP: ``GET /api/search?q=`` (JSON) and ``GET /search?q=`` (a page of hits).

Thin handlers over :mod:`kzgraph.queries.search`; the index is built on a thread the first time it
is needed after the data changed (beside an on-disk store it survives restarts), never on the loop.
"""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from kzgraph.endpoint.execution.state import ServerState
from kzgraph.endpoint.http.pages import local_href, render
from kzgraph.endpoint.http.responses import error
from kzgraph.queries import search
from kzgraph.store import state as store_state
from kzgraph.store.engines import OxigraphStore


def index(state: ServerState) -> search.SearchIndex:
    """The index of the data the server holds now (kept until the data changes)."""

    def build() -> search.SearchIndex:
        path = content = None
        if isinstance(state.store, OxigraphStore) and state.store.path is not None:
            recorded = store_state.read(state.store.path)
            if recorded is not None and not recorded.dirty and recorded.content:
                path, content = search.beside(state.store.path), recorded.content
        return search.index_for(state.store, content, path)

    found: search.SearchIndex = state.derive("search", build)
    return found


def _options(request: Request) -> tuple[str, int, str | None, list[str]]:
    params = request.query_params
    words = params.get("q", "")
    try:
        limit = int(params.get("limit", "50"))
    except ValueError:
        raise search.SearchError(f"limit must be a whole number, got {params['limit']!r}") from None
    return words, limit, params.get("kind") or None, params.getlist("class")


async def api_search(request: Request) -> Response:
    """Hits as JSON: entity, label, class, kind, text (highlighted), sources."""
    state: ServerState = request.app.state.kz
    try:
        words, limit, kind, classes = _options(request)
        ix = await anyio.to_thread.run_sync(index, state)
        hits = await anyio.to_thread.run_sync(lambda: ix.search(words, limit, kind, classes))
    except search.SearchError as exc:
        return error(400, str(exc))
    return JSONResponse({"query": words, "count": len(hits), "hits": [h.as_json() for h in hits]})


async def search_page(request: Request) -> Response:
    """The results page every page's search box sends to."""
    state: ServerState = request.app.state.kz
    words = request.query_params.get("q", "")
    hits: list[search.Hit] = []
    message = ""
    if words.strip():
        try:
            words, limit, kind, classes = _options(request)
            ix = await anyio.to_thread.run_sync(index, state)
            hits = await anyio.to_thread.run_sync(lambda: ix.search(words, limit, kind, classes))
        except search.SearchError as exc:
            message = str(exc)
    status = 400 if message else 200
    return HTMLResponse(
        render("search.html", q=words, hits=hits, message=message, href=local_href),
        status_code=status,
    )


def routes() -> list[Route]:
    """The search routes."""
    return [
        Route("/api/search", api_search, methods=["GET"]),
        Route("/search", search_page, methods=["GET"]),
    ]

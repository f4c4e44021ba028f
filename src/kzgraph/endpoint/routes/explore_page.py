"""``/explore``: the visual query builder (Sparnatural), configured from the ontology and shapes.

Thin handlers: the page, and its configuration (:mod:`kzgraph.queries.builder_config`), generated
from the data the server holds and kept until the data changes.
"""

from __future__ import annotations

import json

import anyio
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from kzgraph.core.namespaces import PREFIXES
from kzgraph.endpoint.execution.state import ServerState
from kzgraph.endpoint.http.pages import WEB, render
from kzgraph.queries.builder_config import config_turtle


def _config(state: ServerState) -> str:
    text: str = state.derive(
        "explore", lambda: config_turtle(state.store, state.shapes(), state.labels())
    )
    return text


async def explore(request: Request) -> Response:
    """The builder page; its scripts come from web/node_modules, never a CDN."""
    assets = (WEB / "sparnatural" / "dist" / "browser" / "sparnatural.js").exists()
    return HTMLResponse(render("explore.html", assets=assets, prefixes_json=json.dumps(PREFIXES)))


async def explore_config(request: Request) -> Response:
    """The generated SHACL configuration Sparnatural reads."""
    state: ServerState = request.app.state.kz
    text = await anyio.to_thread.run_sync(_config, state)
    return Response(text, media_type="text/turtle; charset=utf-8")


def routes() -> list[Route]:
    """The builder's routes."""
    return [
        Route("/explore", explore, methods=["GET"]),
        Route("/explore/config.ttl", explore_config, methods=["GET"]),
    ]

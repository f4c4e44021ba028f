"""The VoID/DCAT description at /.well-known/void."""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kzgraph.endpoint.describe import void_description
from kzgraph.endpoint.responses import rdf_response
from kzgraph.endpoint.state import ServerState


async def void(request: Request) -> Response:
    """VoID and DCAT: size, subsets per source, classes, dumps, endpoint."""
    from kzgraph.endpoint.dumps import DUMPS

    state: ServerState = request.app.state.kz
    dumps = [(n, m) for n, (m, _) in DUMPS.items()] + [
        (n + ".gz", "application/gzip") for n in DUMPS
    ]
    graph = await anyio.to_thread.run_sync(
        void_description, str(request.base_url), state.store, state.graphs(), dumps
    )
    return rdf_response(graph, request.headers.get("accept"), request.query_params.get("format"))


def routes() -> list[Route]:
    """The VoID route."""
    return [Route("/.well-known/void", void, methods=["GET"])]

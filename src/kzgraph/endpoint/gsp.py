"""The SPARQL 1.1 Graph Store HTTP Protocol at /store: GET always, writes only with a token."""

from __future__ import annotations

import anyio
import pyoxigraph as ox
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kzgraph.endpoint.conneg import GRAPH_FORMATS, pick
from kzgraph.endpoint.protocol import ProtocolError, read_body
from kzgraph.endpoint.responses import error, not_acceptable
from kzgraph.endpoint.state import ServerState
from kzgraph.endpoint.workers import RDF_FORMATS

TRIPLE_FORMATS = tuple(f for f in GRAPH_FORMATS if f.name not in ("nq", "trig"))


def _target(request: Request) -> ox.NamedNode | ox.DefaultGraph:
    params = request.query_params
    if "default" in params and "graph" in params:
        raise ProtocolError(400, "give ?default or ?graph=IRI, not both")
    if "default" in params:
        return ox.DefaultGraph()
    graph = params.get("graph")
    if not graph:
        raise ProtocolError(400, "name the graph: ?graph=IRI, or ?default for the default graph")
    try:
        return ox.NamedNode(graph)
    except ValueError:
        raise ProtocolError(400, f"not an IRI: {graph!r}") from None


def _exists(store: ox.Store, graph: ox.NamedNode | ox.DefaultGraph) -> bool:
    return isinstance(graph, ox.DefaultGraph) or store.contains_named_graph(graph)


async def read_graph(request: Request) -> Response:
    """GET/HEAD: one graph in the negotiated RDF format."""
    state: ServerState = request.app.state.kz
    try:
        graph = _target(request)
    except ProtocolError as exc:
        return error(exc.status, exc.message)
    store = state.store.store
    if not _exists(store, graph):
        return error(404, f"no graph {graph}")
    fmt = pick(TRIPLE_FORMATS, request.headers.get("accept"), request.query_params.get("format"))
    if fmt is None:
        return not_acceptable(TRIPLE_FORMATS)
    body = store.dump(format=RDF_FORMATS[fmt.name], from_graph=graph) or b""
    if request.method == "HEAD":
        return Response(
            status_code=200, media_type=fmt.content_type, headers={"Content-Length": str(len(body))}
        )
    return Response(body, media_type=fmt.content_type, headers={"Vary": "Accept"})


async def write_graph(request: Request) -> Response:
    """PUT replaces a graph, POST adds to it, DELETE removes it; all need updates and a token."""
    state: ServerState = request.app.state.kz
    from kzgraph.endpoint.app import refuse_write

    refused = refuse_write(request, state)
    if refused is not None:
        return refused
    try:
        graph = _target(request)
        if isinstance(graph, ox.DefaultGraph):
            raise ProtocolError(
                400, "the default graph is the merge of the named graphs; write to ?graph=IRI"
            )
        body = (
            b""
            if request.method == "DELETE"
            else await read_body(request, state.settings.max_request_bytes)
        )
    except ProtocolError as exc:
        return error(exc.status, exc.message)
    store = state.store.store
    existed = store.contains_named_graph(graph)
    if request.method == "DELETE":
        if not existed:
            return error(404, f"no graph {graph}")

        def drop() -> None:
            store.remove_graph(graph)
            state.changed()

        await anyio.to_thread.run_sync(drop)
        return Response(status_code=204)
    media = request.headers.get("content-type", "").split(";")[0].strip()
    fmt = ox.RdfFormat.from_media_type(media) if media else None
    if fmt is None or fmt.supports_datasets:
        return error(
            415, f"send a graph as Turtle, N-Triples, RDF/XML or JSON-LD, not {media or '(none)'!r}"
        )

    def apply() -> None:
        quads = [
            ox.Quad(q.subject, q.predicate, q.object, graph)
            for q in ox.parse(body, format=fmt, rename_blank_nodes=True)
        ]
        if request.method == "PUT" and existed:
            store.remove_graph(graph)
        if not store.contains_named_graph(graph):
            store.add_graph(graph)
        store.extend(quads)
        state.changed()

    try:
        await anyio.to_thread.run_sync(apply)
    except SyntaxError as exc:
        return error(400, f"the body does not parse as {media}: {exc}")
    return Response(status_code=204 if existed else 201)


def routes() -> list[Route]:
    """The Graph Store routes."""
    return [
        Route("/store", read_graph, methods=["GET", "HEAD"]),
        Route("/store", write_graph, methods=["PUT", "POST", "DELETE"]),
    ]

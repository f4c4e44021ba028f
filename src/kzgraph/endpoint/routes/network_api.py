"""Network analysis over HTTP: JSON under /api/network/, and an interactive /network page."""

from __future__ import annotations

from typing import Any

import anyio
import networkx as nx
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from kzgraph.core.errors import KzgraphError
from kzgraph.endpoint.execution.state import ServerState
from kzgraph.endpoint.http.pages import render
from kzgraph.endpoint.http.responses import error
from kzgraph.graph.loading import new_dataset
from kzgraph.network import graph as netgraph
from kzgraph.network import measures, paths
from kzgraph.network.draw import vis_data
from kzgraph.network.projections import load_projections, project


def full(state: ServerState) -> nx.MultiDiGraph:
    """The full graph of the data the server holds now, built once per data generation."""

    def build() -> nx.MultiDiGraph:
        ds = new_dataset()
        ds.parse(data=state.store.nquads(), format="nquads")
        return netgraph.full_graph(ds)

    graph: nx.MultiDiGraph = state.derive("network", build)
    return graph


def _graph(state: ServerState, projection: str) -> nx.Graph:
    g = full(state)
    return (
        g if projection == "full" else project(projection, state.store, g, state.settings.project)
    )


def _bounded(value: str, name: str, most: int) -> int:
    """A small positive integer parameter; bigger values would make the server work for nothing."""
    try:
        number = int(value)
    except ValueError:
        raise KzgraphError(f"{name} must be a whole number, got {value!r}") from None
    if not 1 <= number <= most:
        raise KzgraphError(f"{name} must be between 1 and {most}, got {number}")
    return number


async def _run(request: Request, work: Any) -> Response:
    try:
        return JSONResponse(await anyio.to_thread.run_sync(work))
    except KzgraphError as exc:
        return error(400, str(exc))
    except ValueError as exc:
        return error(400, f"bad parameter: {exc}")


def _node(g: nx.Graph, n: Any, **extra: Any) -> dict[str, Any]:
    data = g.nodes[n]
    return {"id": n, "label": data.get("label"), "type": data.get("type"), **extra}


async def summary(request: Request) -> Response:
    """Size, density, components and type counts of a projection."""
    state: ServerState = request.app.state.kz
    projection = request.query_params.get("projection", "full")
    return await _run(request, lambda: measures.summary(_graph(state, projection)))


async def rank(request: Request) -> Response:
    """Nodes ranked by a measure."""
    state: ServerState = request.app.state.kz
    q = request.query_params

    def work() -> list[dict[str, Any]]:
        g = _graph(state, q.get("projection", "full"))
        rows = measures.rank(
            g,
            q.get("measure", "pagerank"),
            q.get("type"),
            _bounded(q.get("top", "10"), "top", 1000),
        )
        return [_node(g, n, score=s) for n, s in rows]

    return await _run(request, work)


async def path(request: Request) -> Response:
    """Shortest paths between two entities (labels, CURIEs or IRIs), explained hop by hop."""
    state: ServerState = request.app.state.kz
    q = request.query_params
    if not q.get("from") or not q.get("to"):
        return error(400, "give from= and to= (a label, CURIE or IRI)")

    def work() -> list[dict[str, Any]]:
        g = full(state)
        a, b = netgraph.resolve(g, q["from"]), netgraph.resolve(g, q["to"])
        found = paths.shortest_paths(g, a, b, _bounded(q.get("max_hops", "4"), "max_hops", 8))
        return [
            {"nodes": [_node(g, n) for n in p], "explanation": paths.explain_path(g, p)}
            for p in found
        ]

    return await _run(request, work)


async def ego(request: Request) -> Response:
    """One entity's neighbourhood, in vis-network's node/edge shape."""
    state: ServerState = request.app.state.kz
    q = request.query_params
    if not q.get("node"):
        return error(400, "give node= (a label, CURIE or IRI)")

    def work() -> dict[str, Any]:
        g = full(state)
        center = netgraph.resolve(g, q["node"])
        sub = paths.ego(g, center, _bounded(q.get("depth", "1"), "depth", 4))
        return {"center": center, **vis_data(sub)}

    return await _run(request, work)


async def communities(request: Request) -> Response:
    """Louvain communities of a projection."""
    state: ServerState = request.app.state.kz
    projection = request.query_params.get("projection", "company-company")

    def work() -> list[list[dict[str, Any]]]:
        g = _graph(state, projection)
        return [[_node(g, n) for n in sorted(c)] for c in measures.communities(g)]

    return await _run(request, work)


async def projection_view(request: Request) -> Response:
    """A projection as Cytoscape JSON (default) or vis-network data (``view=vis``)."""
    state: ServerState = request.app.state.kz
    name = request.path_params["name"]
    view = request.query_params.get("view", "cytoscape")

    def work() -> dict[str, Any]:
        g = _graph(state, name)
        return vis_data(g) if view == "vis" else dict(nx.cytoscape_data(g))

    return await _run(request, work)


async def page(request: Request) -> Response:
    """The interactive view: a projection, or one entity's neighbourhood (``focus=``)."""
    state: ServerState = request.app.state.kz
    return HTMLResponse(
        render(
            "network.html",
            projections=list(load_projections(state.settings.project)),
            focus=request.query_params.get("focus", ""),
            depth=request.query_params.get("depth", "1"),
            projection=request.query_params.get("projection", "company-project"),
        )
    )


def routes() -> list[Route]:
    """The network routes."""
    return [
        Route("/api/network/summary", summary, methods=["GET"]),
        Route("/api/network/rank", rank, methods=["GET"]),
        Route("/api/network/path", path, methods=["GET"]),
        Route("/api/network/ego", ego, methods=["GET"]),
        Route("/api/network/communities", communities, methods=["GET"]),
        Route("/api/network/projection/{name}", projection_view, methods=["GET"]),
        Route("/network", page, methods=["GET"]),
    ]

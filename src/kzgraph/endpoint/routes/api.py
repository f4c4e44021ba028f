"""Saved queries as a REST API (like grlc), with an OpenAPI description built from the headers."""

from __future__ import annotations

from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from kzgraph.core.namespaces import PREFIXES
from kzgraph.endpoint.execution.state import ServerState
from kzgraph.endpoint.execution.workers import Job
from kzgraph.endpoint.http.conneg import GRAPH_FORMATS, SELECT_FORMATS, pick
from kzgraph.endpoint.http.pages import render
from kzgraph.endpoint.http.responses import answer_response, error, not_acceptable
from kzgraph.queries.catalogue import ParameterError, SavedQuery, mentioned, resolve_entities

RESERVED = {"format", "timeout"}


def _term_spec(term: Any) -> tuple[str, str, str | None, str | None]:
    from rdflib import BNode, Literal, URIRef

    if isinstance(term, URIRef):
        return ("iri", str(term), None, None)
    if isinstance(term, BNode):
        return ("bnode", str(term), None, None)
    assert isinstance(term, Literal)
    return ("literal", str(term), term.language, str(term.datatype) if term.datatype else None)


async def list_queries(request: Request) -> Response:
    """The catalogue: name, summary, description, tags and parameters of every saved query."""
    state: ServerState = request.app.state.kz
    return JSONResponse([describe(q, str(request.base_url)) for q in state.catalogue.values()])


def describe(q: SavedQuery, base: str) -> dict[str, Any]:
    """One catalogue entry as JSON."""
    return {
        "name": q.name,
        "summary": q.summary,
        "description": q.description,
        "tags": q.tags,
        "url": f"{base}api/queries/{q.name}",
        "parameters": [
            {
                "name": p.name,
                "type": p.describe().split(" ", 1)[1][1:-1],
                "required": p.required,
                "example": q.defaults.get(p.name),
            }
            for p in q.parameters
        ],
        "query": q.text,
    }


async def run_saved(request: Request) -> Response:
    """Run one saved query with parameters from the query string, in any result format."""
    state: ServerState = request.app.state.kz
    name = request.path_params["name"]
    saved = state.catalogue.get(name)
    if saved is None:
        return error(404, f"no saved query named {name!r}; GET /api/queries lists them")
    params = {k: v for k, v in request.query_params.items() if k not in RESERVED}
    try:
        if params:  # IRIs are checked against the data; labels are read only for a name
            params = await anyio.to_thread.run_sync(
                resolve_entities, saved, params, state.labels, mentioned(state.store)
            )
        bindings = saved.bind(params)
    except ParameterError as exc:
        return error(400, str(exc))
    accept = request.headers.get("accept")
    override = request.query_params.get("format")
    select_fmt = pick(SELECT_FORMATS, accept, override)
    graph_fmt = pick(GRAPH_FORMATS, accept, override)
    if select_fmt is None and graph_fmt is None:
        return not_acceptable(SELECT_FORMATS)
    job = Job(
        saved.text,
        select_format=(select_fmt or SELECT_FORMATS[-1]).name,
        graph_format=(graph_fmt or GRAPH_FORMATS[-1]).name,
        substitutions={k: _term_spec(v) for k, v in bindings.items()},
        hidden=saved.hidden,
    )
    from kzgraph.endpoint.routes.handling import run_job

    answer = await run_job(state, job, state.settings.timeout)
    if isinstance(answer, Response):
        return answer
    if answer.kind == "select" and select_fmt is None:
        return not_acceptable(SELECT_FORMATS)
    return answer_response(answer, select_fmt or SELECT_FORMATS[-1], graph_fmt or GRAPH_FORMATS[-1])


def _network_paths() -> dict[str, Any]:
    """The network API in OpenAPI form: projections, measures, paths, neighbourhoods."""
    # Long on purpose (67 lines): the network routes of the OpenAPI document as one literal,
    # beside the parameter helper they share.
    from kzgraph.network.measures import MEASURES

    def param(name: str, description: str, required: bool = False, **schema: Any) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "required": required,
            "description": description,
            "schema": {"type": "string", **schema},
        }

    projection = param("projection", "full, or a projection in queries/projections/")
    entity = "a label or alternative label (any language), a CURIE or an IRI"
    ops = {
        "summary": ("Size, density, components and type counts", [projection]),
        "rank": (
            "Nodes ranked by a measure",
            [
                projection,
                param("measure", "the measure", enum=sorted(MEASURES)),
                param("type", "only nodes of this type (e.g. Company)"),
                param("top", "how many", pattern="^[0-9]+$"),
            ],
        ),
        "path": (
            "Shortest paths between two entities, explained hop by hop",
            [
                param("from", entity, True),
                param("to", entity, True),
                param("max_hops", "longest path", pattern="^[0-9]+$"),
            ],
        ),
        "ego": (
            "One entity's neighbourhood (vis-network nodes and edges)",
            [param("node", entity, True), param("depth", "hops", pattern="^[0-9]+$")],
        ),
        "communities": ("Louvain communities of a projection", [projection]),
    }
    paths: dict[str, Any] = {}
    for op, (summary, parameters) in ops.items():
        paths[f"/api/network/{op}"] = {
            "get": {
                "operationId": f"network_{op}",
                "summary": summary,
                "tags": ["network"],
                "parameters": parameters,
                "responses": {
                    "200": {"description": "JSON"},
                    "400": {"description": "A bad parameter or an ambiguous name"},
                },
            }
        }
    paths["/api/network/projection/{name}"] = {
        "get": {
            "operationId": "network_projection",
            "summary": "A projection as Cytoscape JSON, or vis-network data with view=vis",
            "tags": ["network"],
            "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                param("view", "cytoscape (default) or vis", enum=["cytoscape", "vis"]),
            ],
            "responses": {"200": {"description": "JSON"}},
        }
    }
    return paths


def openapi(catalogue: dict[str, SavedQuery]) -> dict[str, Any]:
    """OpenAPI 3.1 for the saved-query API, generated from the ``.rq`` headers."""
    # Long on purpose (66 lines): the OpenAPI document as one literal, built from the saved queries'
    # headers.
    paths: dict[str, Any] = {
        "/api/queries": {
            "get": {
                "summary": "List the saved queries",
                "operationId": "listQueries",
                "responses": {"200": {"description": "The catalogue"}},
            }
        },
    }
    from kzgraph.core.sparql_text import scan

    select_names = [f.name for f in SELECT_FORMATS]
    graph_names = [f.name for f in GRAPH_FORMATS]
    for name, q in catalogue.items():
        form = scan(q.text, PREFIXES).form
        formats = graph_names if form in ("CONSTRUCT", "DESCRIBE") else select_names
        parameters: list[dict[str, Any]] = [
            {
                "name": p.name,
                "in": "query",
                "required": p.required,
                "description": p.describe(),
                "schema": {
                    "type": "string",
                    **({"example": q.defaults[p.name]} if p.name in q.defaults else {}),
                },
            }
            for p in q.parameters
        ]
        parameters.append(
            {
                "name": "format",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": formats},
            }
        )
        paths[f"/api/queries/{name}"] = {
            "get": {
                "operationId": name.replace("-", "_"),
                "summary": q.summary,
                "description": q.description or q.summary,
                "tags": q.tags,
                "parameters": parameters,
                "responses": {
                    "200": {
                        "description": "Results",
                        "content": {f.media_type: {} for f in (*SELECT_FORMATS, *GRAPH_FORMATS)},
                    },
                    "400": {"description": "A missing, unknown or mistyped parameter"},
                    "406": {"description": "No acceptable result format"},
                    "503": {"description": "The query ran past the time limit"},
                },
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "kzgraph saved queries",
            "version": "0.1.0",
            "description": "Saved SPARQL queries over the kzgraph knowledge graph.",
        },
        "paths": {**paths, **_network_paths()},
    }


async def openapi_json(request: Request) -> Response:
    """The OpenAPI document."""
    state: ServerState = request.app.state.kz
    return JSONResponse(openapi(state.catalogue))


async def docs_page(request: Request) -> Response:
    """Swagger UI over /openapi.json, served from the project's own files."""
    return HTMLResponse(render("swagger.html"))


async def parameters(request: Request) -> Response:
    """A saved query's parameters with the values each can take, for the UI's forms."""
    from kzgraph.endpoint.routes.param_choices import choices

    state: ServerState = request.app.state.kz
    saved = state.catalogue.get(request.path_params["name"])
    if saved is None:
        return error(404, f"no saved query named {request.path_params['name']!r}")
    labels = await state.labels_async()

    def work() -> list[dict[str, Any]]:
        return [
            {
                "name": p.name,
                "kind": p.describe().split(" ", 1)[1][1:-1],
                "required": p.required,
                "example": saved.defaults.get(p.name),
                "choices": choices(state.store, p.name, labels) if p.kind == "iri" else [],
            }
            for p in saved.parameters
        ]

    key = f"parameters:{saved.name}"
    if key not in state.cache:
        state.cache[key] = await anyio.to_thread.run_sync(work)
    return JSONResponse(state.cache[key])


async def labels(request: Request) -> Response:
    """IRI → English label for every labelled term: what the UI shows instead of IRIs."""
    state: ServerState = request.app.state.kz
    return JSONResponse(await state.labels_async(), headers={"Cache-Control": "no-cache"})


async def saved_text(request: Request) -> Response:
    """A saved query's text with its parameters bound by a VALUES block, for the editor.

    The editor tab that opens with a saved query must not run it with a required parameter
    unbound: the tab gets this text, with the form's values (or, before the form is filled, the
    query's example values, said so in a comment).
    """
    from kzgraph.remote.stores import bind_values

    state: ServerState = request.app.state.kz
    saved = state.catalogue.get(request.path_params["name"])
    if saved is None:
        return error(404, f"no saved query named {request.path_params['name']!r}")
    params = {k: v for k, v in request.query_params.items() if k not in RESERVED and v}
    examples = {
        p.name: saved.defaults[p.name]
        for p in saved.parameters
        if p.required and p.name not in params and p.name in saved.defaults
    }
    try:
        values = await anyio.to_thread.run_sync(
            resolve_entities, saved, {**params, **examples}, state.labels, mentioned(state.store)
        )
        bindings = saved.bind(values)
    except ParameterError as exc:
        return error(400, str(exc))
    said = [f"{k} = {v}" + (" (an example: choose yours in the form)" if k in examples else "")
            for k, v in {**params, **examples}.items()]  # fmt: skip
    head = f"# saved query {saved.name}" + (": " + "; ".join(said) if said else "") + "\n"
    return Response(head + bind_values(saved.text, bindings), media_type="application/sparql-query")


def routes() -> list[Route]:
    """The API's routes."""
    return [
        Route("/api/labels", labels, methods=["GET"]),
        Route("/api/queries/{name}/parameters", parameters, methods=["GET"]),
        Route("/api/queries/{name}/text", saved_text, methods=["GET"]),
        Route("/api/queries", list_queries, methods=["GET"]),
        Route("/api/queries/{name}", run_saved, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/api/docs", docs_page, methods=["GET"]),
    ]

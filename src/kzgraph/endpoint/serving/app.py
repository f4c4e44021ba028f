"""The ASGI application: thin routes over the protocol, store, pages and API modules."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
from rdflib import URIRef
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from kzgraph.core.namespaces import PREFIXES
from kzgraph.endpoint.execution.remote_pool import RemotePool
from kzgraph.endpoint.execution.state import ServerState
from kzgraph.endpoint.execution.workers import Job
from kzgraph.endpoint.execution.write_scope import with_merges
from kzgraph.endpoint.http.conneg import GRAPH_FORMATS, SELECT_FORMATS, pick, wants_html
from kzgraph.endpoint.http.pages import WEB, render
from kzgraph.endpoint.http.protocol import ProtocolError, SparqlRequest, read_sparql_request
from kzgraph.endpoint.http.responses import answer_response, error, not_acceptable, rdf_response
from kzgraph.endpoint.routes import (
    api,
    dumps,
    explore_page,
    gsp,
    linked_data,
    map_api,
    network_api,
    search_api,
    shapes_pages,
    table_api,
    void,
)
from kzgraph.endpoint.routes.describe import service_description
from kzgraph.endpoint.routes.handling import (
    base_url,
    refuse_write,
    run_job,
    service_iri,
    validation_headers,
)
from kzgraph.endpoint.safety.rules import check_graphs, check_query, check_update
from kzgraph.remote.stores import BackendError
from kzgraph.store.engines import readable_syntax_error

log = logging.getLogger("kzgraph.endpoint")


async def run_query(
    state: ServerState, req: SparqlRequest, accept: str | None, base: str
) -> Response:
    """Check, negotiate, and run one query in the worker pool."""
    assert req.query is not None
    graphs = await state.graphs_async()
    form = check_query(req.query, graphs, base).form
    check_graphs(req.default_graphs, graphs, "default-graph-uri")
    check_graphs(req.named_graphs, graphs, "named-graph-uri")
    select_fmt = pick(SELECT_FORMATS, accept, req.format)
    graph_fmt = pick(GRAPH_FORMATS, accept, req.format)
    if form in ("CONSTRUCT", "DESCRIBE") and graph_fmt is None:
        return not_acceptable(GRAPH_FORMATS)
    if form in ("SELECT", "ASK") and select_fmt is None:
        return not_acceptable(SELECT_FORMATS)
    limit = state.settings.timeout
    timeout = min(req.timeout, limit) if req.timeout else limit
    job = Job(
        req.query,
        select_format=(select_fmt or SELECT_FORMATS[-1]).name,
        graph_format=(graph_fmt or GRAPH_FORMATS[-1]).name,
        default_graphs=req.default_graphs,
        named_graphs=req.named_graphs,
        base_iri=base,
    )
    answer = await run_job(state, job, timeout)
    if isinstance(answer, Response):
        return answer
    if answer.kind == "syntax":
        answer.message = readable_syntax_error(req.query, SyntaxError(answer.message))
    return answer_response(answer, select_fmt or SELECT_FORMATS[-1], graph_fmt or GRAPH_FORMATS[-1])


async def run_update(
    request: Request, state: ServerState, req: SparqlRequest, base: str
) -> Response:
    """Apply a SPARQL Update when allowed: it takes effect atomically, or the answer is a 4xx."""
    refused = refuse_write(request, state)
    if refused is not None:
        return refused
    assert req.update is not None
    using = bool(req.using_graphs or req.using_named_graphs)
    if using and getattr(state.store, "kind", "") == "virtuoso":
        return error(
            400,
            "using-graph-uri is not passed on to Virtuoso: write USING <graph> in the update",
        )
    found = check_update(req.update, base, using=using)
    text = with_merges(req.update, found, req.using_graphs, req.using_named_graphs)
    try:
        await anyio.to_thread.run_sync(state.write, text, base, req.update, None, found)
    except SyntaxError as exc:
        return error(400, f"SPARQL Update syntax error: {exc}")
    except (RuntimeError, OSError, ValueError) as exc:
        return error(400, f"update refused, nothing was changed: {exc}")
    return Response(status_code=204, headers=validation_headers(state))


async def sparql(request: Request) -> Response:
    """The SPARQL 1.1 Protocol endpoint."""
    state: ServerState = request.app.state.kz
    base = service_iri(request)
    try:
        req = await read_sparql_request(
            request, state.settings.max_request_bytes, state.settings.body_timeout
        )
        if req.query is not None and req.update is not None:
            raise ProtocolError(400, "give query= or update=, not both")
        if req.update is not None:
            return await run_update(request, state, req, base)
        if req.query is not None:
            if req.using_graphs or req.using_named_graphs:
                raise ProtocolError(
                    400, "using-graph-uri belongs to updates; queries take default-graph-uri"
                )
            response = await run_query(state, req, request.headers.get("accept"), base)
            if request.method == "HEAD":
                response.body = b""
            return response
    except ProtocolError as exc:
        return error(exc.status, exc.message)
    if request.method == "POST":
        return error(400, "no query: pass query= (or update=), or POST the query as the body")
    accept = request.headers.get("accept")
    if wants_html(accept):
        return HTMLResponse(ui_page(request, state))
    description = service_description(
        base, await state.graphs_async(), state.settings.allow_updates
    )
    return rdf_response(description, accept, request.query_params.get("format"))


def ontology_terms(state: ServerState) -> dict[str, list[str]]:
    """The classes and properties the data and ontology use, for the editor's completion."""
    key = "ontology-terms"
    if key not in state.cache:
        rows = state.store.query(
            """SELECT DISTINCT ?t ?kind WHERE {
                 { GRAPH kzg:ontology { ?t a owl:Class } BIND("c" AS ?kind) }
                 UNION { ?x a ?t BIND("c" AS ?kind) }
                 UNION { GRAPH kzg:ontology { ?t a ?pt FILTER(?pt IN (owl:ObjectProperty,
                         owl:DatatypeProperty, owl:AnnotationProperty, rdf:Property)) }
                         BIND("p" AS ?kind) }
                 UNION { ?s ?t ?o BIND("p" AS ?kind) }
               }"""
        ).rows
        state.cache[key] = {
            "classes": sorted({str(t) for t, k in rows if str(k) == "c" and t is not None}),
            "properties": sorted({str(t) for t, k in rows if str(k) == "p" and t is not None}),
        }
    terms: dict[str, list[str]] = state.cache[key]
    return terms


def ui_page(request: Request, state: ServerState) -> str:
    """The YASGUI page with the saved queries as examples and the prefixes preset."""
    saved = {
        name: {"text": q.text, "summary": q.summary, "description": q.description}
        for name, q in state.catalogue.items()
    }
    return render(
        "yasgui.html",
        queries=list(state.catalogue.values()),
        saved_json=json.dumps(saved).replace("</", "<\\/"),
        terms_json=json.dumps(ontology_terms(state)).replace("</", "<\\/"),
        prefixes_json=json.dumps(PREFIXES),
        assets=(WEB / "@zazuko" / "yasgui" / "build" / "yasgui.min.js").exists(),
        base=base_url(request),
    )


async def landing(request: Request) -> Response:
    """The landing page."""
    state: ServerState = request.app.state.kz

    def graph_sizes() -> list[Any]:
        return state.store.query(
            "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g"
        ).rows

    # a scan of every quad: on a thread, and once per version of the data, not once per visit
    if "landing:graph-sizes" not in state.cache:
        state.cache["landing:graph-sizes"] = await anyio.to_thread.run_sync(graph_sizes)
    counts = state.cache["landing:graph-sizes"]
    labels = await state.labels_async()
    examples = [
        "https://w3id.org/kzgraph/id/company/fufeng-group",
        "https://w3id.org/kzgraph/id/region/zhambyl",
        "https://w3id.org/kzgraph/id/project/sinopec-atyrau-polyethylene-plant",
        "https://w3id.org/kzgraph/id/corridor/chengdu-lodz-container-route",
        "https://w3id.org/kzgraph/id/event/kazakhstan-china-business-council-8",
    ]
    return HTMLResponse(
        render(
            "index.html",
            base=base_url(request),
            queries=state.catalogue,
            examples=[(iri, labels.get(iri, iri)) for iri in examples],
            graphs=[(str(g), str(n)) for g, n in counts],
        )
    )


FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="6" fill="#0b4f6c"/>'
    '<circle cx="10" cy="11" r="4" fill="#fff"/><circle cx="22" cy="21" r="4" fill="#fbbf24"/>'
    '<path d="M10 11 L22 21" stroke="#fff" stroke-width="2"/></svg>'
)


async def favicon(request: Request) -> Response:
    """A small SVG icon (browsers ask for /favicon.ico whatever the page says)."""
    return Response(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


async def healthz(request: Request) -> Response:
    """Liveness and a little detail: quads, graphs, generation."""
    state: ServerState = request.app.state.kz
    pool = state.pool.status()
    ok = pool["alive"] > 0 and pool["waiting"] < state.pool.max_queue
    backend = None
    if isinstance(state.pool, RemotePool):  # the store answers, or this server cannot either
        backend = await state.pool.check()
        ok = ok and bool(backend["reachable"])
    try:
        graphs: int | None = len(await state.graphs_async())
    except BackendError:  # the store went away: say so in the documented 503 JSON
        graphs, ok = None, False
    return JSONResponse(
        {
            "status": "ok" if ok else "unavailable",
            "quads": state.size_if_known(),  # null until a background count finishes
            "graphs": graphs,
            "generation": state.generation,
            "updates": state.settings.allow_updates,
            "pool": {**pool, "pids": state.pool.pids()},
            "sandbox": state.sandboxed,
            "validation": state.validation or None,
            "answers": state.answers.status(),
            "backend": backend,
        },
        status_code=200 if ok else 503,
    )


async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    state: ServerState = request.app.state.kz
    return Response(state.metrics.render(), media_type=state.metrics.content_type)


#: Methods the metrics name; any other is counted as "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})


def _route_name(scope: dict[str, Any]) -> str:
    """The route a request matched, as its template (``/ontology/{path:path}``), for the metrics.

    Never the raw path: a series per path a client invents grew the server by hundreds of MB
    over the hostile corpus (each new path a counter and a histogram kept for good).
    """
    route = scope.get("route")
    return str(getattr(route, "path", "") or "(no route)")


CLOSE = (b"connection", b"close")


class AccessLog:
    """One log line per request (method, path, status, time) and the Prometheus figures.

    It also marks every answer of a process on its way out (its query overran, see
    :mod:`kzgraph.endpoint.execution.inline`) ``Connection: close``. uvicorn closes such connections
    after the answer without saying so, and a kept-alive client that sent its next request before
    the close arrived met a connection reset instead of reconnecting to a healthy process.
    """

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:  # type: ignore[type-arg]
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        state: ServerState = scope["app"].state.kz

        async def send_wrapper(message: dict) -> None:  # type: ignore[type-arg]
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if getattr(state.pool, "stuck", False):
                    message = {**message, "headers": [*message.get("headers", []), CLOSE]}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except ClientDisconnect:
            status = 499  # nginx's code for "client closed request": nothing to answer
        finally:
            elapsed = time.perf_counter() - started
            log.info("%s %s %d %.1fms", scope["method"], scope["path"], status, elapsed * 1000)
            method = scope["method"] if scope["method"] in METHODS else "other"
            state.metrics.observe(method, _route_name(scope), status, elapsed)


def _lifespan(state: ServerState) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        state.close()

    return lifespan


async def backend_failed(request: Request, exc: Exception) -> Response:
    """502: the remote store behind this server failed; the client may retry later."""
    log.warning("%s %s: %s", request.method, request.url.path, exc)
    response = error(502, f"the store behind this server failed: {exc}")
    response.headers["Retry-After"] = "5"
    return response


async def no_route(request: Request, exc: Exception) -> Response:
    """404 for a path no route serves (``/sparq``): the styled page for browsers, as for IRIs."""
    from kzgraph.endpoint.routes.linked_data import not_found

    return not_found(request, f"Nothing is served at {request.url.path}.")


def create_app(state: ServerState) -> Starlette:
    """The application for one server state; every route reads it from ``app.state.kz``."""
    routes: list[BaseRoute] = [
        Route("/", landing, methods=["GET"]),
        Route("/sparql", sparql, methods=["GET", "HEAD", "POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/favicon.ico", favicon, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *api.routes(),
        *gsp.routes(),
        *linked_data.routes(),
        *dumps.routes(),
        *void.routes(),
        *network_api.routes(),
        *map_api.routes(),
        *search_api.routes(),
        *explore_page.routes(),
        *shapes_pages.routes(),
        *table_api.routes(),
    ]
    for name, folder in (
        ("yasgui", WEB / "@zazuko" / "yasgui" / "build"),
        ("swagger", WEB / "swagger-ui-dist"),
        ("vis", WEB / "vis-network" / "standalone" / "umd"),
        ("leaflet", WEB / "leaflet" / "dist"),
        ("sparnatural", WEB / "sparnatural" / "dist" / "browser"),
    ):
        if folder.exists():
            routes.append(Mount(f"/static/{name}", StaticFiles(directory=folder), name=name))
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(AccessLog),
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_methods=["GET", "POST", "PUT", "DELETE", "HEAD"],
                allow_headers=["*"],
                expose_headers=["X-Kzgraph-Truncated"],
            ),
        ],
        lifespan=_lifespan(state),
        exception_handlers={BackendError: backend_failed, 404: no_route},
    )
    app.state.kz = state
    return app


__all__ = ["PlainTextResponse", "URIRef", "create_app"]

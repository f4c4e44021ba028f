"""Tables over HTTP: ``GET /api/table?class=Project&columns=region,amount&sum=amount``.

A thin handler over :mod:`kzgraph.queries.class_table`, with the same parameters as ``kzgraph
table`` (``class`` or ``query``, ``columns``, ``where`` repeated, ``group-by``, ``sum``, ``format``
of json, csv or xlsx, and a saved query's own parameters by name).
"""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from kzgraph.endpoint.execution.state import ServerState
from kzgraph.endpoint.http.responses import error
from kzgraph.queries import class_table
from kzgraph.queries.catalogue import ParameterError

_MEDIA = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
KZ_ONTOLOGY = "https://w3id.org/kzgraph/ontology#"
_OWN = {"class", "query", "columns", "where", "group-by", "sum", "format", "iris"}


def _list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def make(state: ServerState, params: dict[str, list[str]]) -> class_table.Table:
    """The table ``params`` ask for, from the data the server holds now."""

    def one(name: str) -> str | None:
        values = params.get(name) or []
        return values[-1] if values else None

    cls, saved = one("class"), one("query")
    if (cls is None) == (saved is None):
        raise class_table.TableError("give class= or query= (one of them)")
    labels = state.labels()
    where = class_table.Request.parse_where(params.get("where", []))
    if saved is not None:
        query = state.catalogue.get(saved)
        if query is None:
            raise class_table.TableError(f"no saved query named {saved!r}")
        values = {k: v[-1] for k, v in params.items() if k not in _OWN}
        result = state.store.query(query.text, query.bind(values)).without(query.hidden)
        return class_table.from_result(result, labels, where, _list(one("group-by")), one("sum"))
    assert cls is not None
    schema = class_table.Schema.read(state.store, state.shapes(), labels)
    request = class_table.Request(
        cls, _list(one("columns")), where, _list(one("group-by")), one("sum")
    )
    return class_table.build(schema, request)


async def api_table(request: Request) -> Response:
    """The table as JSON (default), CSV or XLSX."""
    state: ServerState = request.app.state.kz
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    fmt = (params.get("format") or ["json"])[-1]
    if fmt not in _MEDIA:
        return error(400, f"format must be one of {', '.join(_MEDIA)}, not {fmt!r}")
    try:
        table = await anyio.to_thread.run_sync(make, state, params)
        body = await anyio.to_thread.run_sync(table.write, fmt, "iris" in params)
    except (class_table.TableError, ParameterError) as exc:
        return error(400, str(exc))
    headers = {}
    if fmt == "xlsx":
        headers["Content-Disposition"] = 'attachment; filename="kzgraph-table.xlsx"'
    return Response(body, media_type=_MEDIA[fmt], headers=headers)


async def table_page(request: Request) -> Response:
    """The same table as a page, with a form: what a browser user sees and refines."""
    from urllib.parse import urlencode

    from kzgraph.endpoint.http.pages import local_href, render

    state: ServerState = request.app.state.kz
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if value.strip():
            params.setdefault(key, []).append(value)
    table = None
    message = ""
    if "class" in params or "query" in params:
        try:
            table = await anyio.to_thread.run_sync(make, state, params)
        except (class_table.TableError, ParameterError) as exc:
            message = str(exc)
    labels = await state.labels_async()
    classes = sorted(
        {(iri, label) for iri, label in labels.items() if iri.startswith(KZ_ONTOLOGY)},
        key=lambda c: c[1],
    )
    page = render(
        "table.html",
        table=table,
        message=message,
        params={k: v[-1] for k, v in params.items()},
        query=urlencode([(k, v) for k, vs in params.items() for v in vs]),
        classes=classes,
        href=local_href,
    )
    return HTMLResponse(page, status_code=400 if message else 200)


def routes() -> list[Route]:
    """The table routes: the API and the page."""
    return [
        Route("/api/table", api_table, methods=["GET"]),
        Route("/table", table_page, methods=["GET"]),
    ]

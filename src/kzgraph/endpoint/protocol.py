"""Read a SPARQL 1.1 Protocol request (query or update) from an HTTP request.

Three ways in, as the protocol defines: GET with ``query=``, POST form-encoded, and POST with the
query as the body (``application/sparql-query`` or ``application/sparql-update``). Errors carry
their HTTP status so the route only maps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs

from starlette.requests import Request


class ProtocolError(Exception):
    """A request the protocol does not allow; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class SparqlRequest:
    """What a client asked for."""

    query: str | None = None
    update: str | None = None
    default_graphs: list[str] = field(default_factory=list)
    named_graphs: list[str] = field(default_factory=list)
    using_graphs: list[str] = field(default_factory=list)
    format: str | None = None
    timeout: float | None = None


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refusing anything larger than ``max_bytes`` (413)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ProtocolError(413, f"request body over the {max_bytes}-byte limit")
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > max_bytes:
            raise ProtocolError(413, f"request body over the {max_bytes}-byte limit")
    return bytes(chunks)


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name, [])
    if len(values) > 1:
        raise ProtocolError(400, f"give {name} once, not {len(values)} times")
    return values[0] if values else None


def _timeout(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise ProtocolError(400, f"timeout must be a number of seconds, got {value!r}") from None
    if seconds <= 0:
        raise ProtocolError(400, "timeout must be positive")
    return seconds


def _from_params(params: dict[str, list[str]]) -> SparqlRequest:
    return SparqlRequest(
        query=_one(params, "query"),
        update=_one(params, "update"),
        default_graphs=params.get("default-graph-uri", []),
        named_graphs=params.get("named-graph-uri", []),
        using_graphs=params.get("using-graph-uri", []) + params.get("using-named-graph-uri", []),
        format=_one(params, "format"),
        timeout=_timeout(_one(params, "timeout")),
    )


async def read_sparql_request(request: Request, max_bytes: int) -> SparqlRequest:
    """Parse any of the protocol's request shapes."""
    url_params = parse_qs(request.url.query, keep_blank_values=True)
    if request.method == "GET":
        if len(request.url.query) > max_bytes:
            raise ProtocolError(413, f"query string over the {max_bytes}-byte limit")
        return _from_params(url_params)
    if request.method != "POST":
        raise ProtocolError(405, f"{request.method} is not allowed here; use GET or POST")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await read_body(request, max_bytes)
    if media == "application/x-www-form-urlencoded":
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise ProtocolError(400, "the form body is not UTF-8") from None
        merged = {**url_params, **form}
        return _from_params(merged)
    if media in ("application/sparql-query", "application/sparql-update"):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(400, "the request body is not UTF-8") from None
        parsed = _from_params(url_params)
        if parsed.query is not None or parsed.update is not None:
            raise ProtocolError(400, "with a SPARQL body, do not also pass query= or update=")
        if media == "application/sparql-query":
            parsed.query = text
        else:
            parsed.update = text
        return parsed
    raise ProtocolError(
        415,
        f"unsupported Content-Type {media or '(none)'!r}: use application/sparql-query, "
        "application/sparql-update or application/x-www-form-urlencoded",
    )

"""Read a SPARQL 1.1 Protocol request (query or update) from an HTTP request.

Three ways in, as the protocol defines: GET with ``query=``, POST form-encoded, and POST with the
query as the body (``application/sparql-query`` or ``application/sparql-update``). Errors carry
their HTTP status so the route only maps them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import anyio
import pyoxigraph as ox
from starlette.requests import ClientDisconnect, Request

#: Seconds a client has to send its whole body once the headers are in.
BODY_SECONDS = 30.0


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
    using_named_graphs: list[str] = field(default_factory=list)
    format: str | None = None
    timeout: float | None = None


async def read_body(request: Request, max_bytes: int, seconds: float = BODY_SECONDS) -> bytes:
    """The request body: 413 past ``max_bytes``, 408 when it does not arrive within ``seconds``.

    A body shorter than its Content-Length would otherwise hold the connection forever.
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ProtocolError(413, f"request body over the {max_bytes}-byte limit")
    chunks = bytearray()
    try:
        with anyio.fail_after(seconds):
            async for chunk in request.stream():
                chunks += chunk
                if len(chunks) > max_bytes:
                    raise ProtocolError(413, f"request body over the {max_bytes}-byte limit")
    except TimeoutError:
        raise ProtocolError(408, f"the request body did not arrive within {seconds:g} s") from None
    except ClientDisconnect:
        raise ProtocolError(
            400, "the client closed the connection before sending its body"
        ) from None
    return bytes(chunks)


def check_charset(content_type: str) -> None:
    """Refuse a body declared in any charset but UTF-8 (the protocol's only encoding)."""
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
            if charset not in ("utf-8", "utf8"):
                raise ProtocolError(415, f"charset {charset!r} is not supported: send UTF-8")


def check_iri(value: str, name: str) -> str:
    """An absolute IRI from a request parameter, or 400 naming the parameter."""
    try:
        ox.NamedNode(value)
    except ValueError as exc:
        raise ProtocolError(400, f"{name} is not an absolute IRI: {value!r} ({exc})") from None
    return value


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
    if not math.isfinite(seconds) or seconds <= 0:
        raise ProtocolError(
            400, f"timeout must be a positive, finite number of seconds, got {value!r}"
        )
    return seconds


def _format(params: dict[str, list[str]]) -> str | None:
    """``format=`` when given once; SPARQLWrapper sends it twice, then Accept decides."""
    values = params.get("format", [])
    return values[0] if len(values) == 1 else None


def _iris(params: dict[str, list[str]], name: str) -> list[str]:
    return [check_iri(v, name) for v in params.get(name, [])]


def _from_params(params: dict[str, list[str]]) -> SparqlRequest:
    return SparqlRequest(
        query=_one(params, "query"),
        update=_one(params, "update"),
        default_graphs=_iris(params, "default-graph-uri"),
        named_graphs=_iris(params, "named-graph-uri"),
        using_graphs=_iris(params, "using-graph-uri"),
        using_named_graphs=_iris(params, "using-named-graph-uri"),
        format=_format(params),
        timeout=_timeout(_one(params, "timeout")),
    )


async def read_sparql_request(
    request: Request, max_bytes: int, body_seconds: float = BODY_SECONDS
) -> SparqlRequest:
    """Parse any of the protocol's request shapes."""
    url_params = parse_qs(request.url.query, keep_blank_values=True)
    if request.method in ("GET", "HEAD"):
        if len(request.url.query) > max_bytes:
            raise ProtocolError(413, f"query string over the {max_bytes}-byte limit")
        parsed = _from_params(url_params)
        if parsed.update is not None:
            raise ProtocolError(
                405, "updates change data and must be POSTed; GET only runs queries"
            )
        return parsed
    if request.method != "POST":
        raise ProtocolError(405, f"{request.method} is not allowed here; use GET or POST")
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    check_charset(content_type)
    body = await read_body(request, max_bytes, body_seconds)
    if media == "application/x-www-form-urlencoded":
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise ProtocolError(400, "the form body is not UTF-8") from None
        # the protocol puts a form's operation in its body: an update named only in the URL
        # of an empty form (the W3C runner's bad_update_form_body_missing) is refused, not run
        for name in ("update", "query"):
            if name in url_params:
                raise ProtocolError(400, f"a form POST carries {name}= in its body, not in the URL")
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

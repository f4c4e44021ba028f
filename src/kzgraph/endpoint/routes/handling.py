"""What the route handlers share: who may write, the service's own IRI, running one job.

Every route module (the protocol in :mod:`kzgraph.endpoint.serving.app`, the saved-query API, the
Graph Store) reaches the kept answers and the worker pool the same way, and refuses writes by
the same rule; kept here, below all of them, so none imports another to do it.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from starlette.requests import Request
from starlette.responses import Response

from kzgraph.core.sparql_text import volatile
from kzgraph.endpoint.execution.state import ServerState
from kzgraph.endpoint.execution.workers import Answer, Job, PoolBusyError, QueryTimeoutError
from kzgraph.endpoint.http.responses import error


def base_url(request: Request) -> str:
    """The base URL of this server, as the client reached it."""
    return str(request.base_url)


def authorised(request: Request, state: ServerState) -> bool:
    """True when updates are on and the request carries the server's token.

    As a bearer token (``Authorization: Bearer <token>``), or as the password of HTTP Basic
    (any user name), for the clients that can only send Basic: Jena's ``rupdate``,
    SPARQLWrapper's ``setCredentials``. Both are held to the same token, compared in constant time.
    """
    if not state.settings.allow_updates or not state.settings.token:
        return False
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    # compare bytes: compare_digest refuses non-ASCII str, and a header may carry any octet
    given = credentials.strip().encode("latin-1", "replace")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(given, validate=True)
        except (binascii.Error, ValueError):
            return False
        _user, colon, given = decoded.partition(b":")
        if not colon:
            return False
    elif scheme.lower() != "bearer":
        return False
    return secrets.compare_digest(given, state.settings.token.encode("utf-8"))


def refuse_write(request: Request, state: ServerState) -> Response | None:
    """403 (or 401 with a challenge) unless this request may change the data."""
    if not state.settings.allow_updates:
        return error(403, "this endpoint is read-only: updates are refused")
    if not authorised(request, state):
        response = error(
            401,
            "updates need 'Authorization: Bearer <token>', or HTTP Basic with the token as "
            "the password",
        )
        # Basic first: Jena 4.5 fails on a Bearer challenge it meets before one it knows
        response.headers.append("WWW-Authenticate", 'Basic realm="kzgraph"')
        response.headers.append("WWW-Authenticate", 'Bearer realm="kzgraph"')
        return response
    return None


def service_iri(request: Request) -> str:
    """The endpoint's own URL: relative IRIs in requests resolve against it."""
    return base_url(request) + "sparql"


def busy(message: str, retry_after: int = 2) -> Response:
    """503 with Retry-After: the pool is full, the client should come back shortly."""
    response = error(503, message)
    response.headers["Retry-After"] = str(retry_after)
    return response


async def run_job(state: ServerState, job: Job, timeout: float) -> Answer | Response:
    """A kept answer, else one from the pool; overload and time-outs become 503s.

    A query calling RAND, NOW, UUID or STRUUID is never answered from, nor kept in, the cache.
    """
    keep = not volatile(job.query, job.base_iri)
    key = state.answers.key(job, state.answers_key_part())
    cached = state.answers.get(key) if keep else None
    # a remote store known to be unreachable: the kept answer would hide it (/healthz says 503)
    if cached is not None and not getattr(state.pool, "unreachable", False):
        return cached
    try:
        answer = await state.pool.run(job, timeout)
    except QueryTimeoutError as exc:
        state.metrics.timeouts.inc()
        return busy(f"{exc}; narrow the query or pass a LIMIT")
    except PoolBusyError as exc:
        return busy(f"the server is busy: {exc}; retry shortly")
    if keep:
        state.answers.put(key, answer)
    return answer


def validation_headers(state: ServerState) -> dict[str, str]:
    """What the validation after a write found: the data took effect either way."""
    if "conforms" not in state.validation:
        return {}
    return {
        "X-Kzgraph-Conforms": str(state.validation["conforms"]).lower(),
        "X-Kzgraph-Findings": str(state.validation["findings"]),
    }

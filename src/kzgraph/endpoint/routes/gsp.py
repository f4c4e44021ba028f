"""The SPARQL 1.1 Graph Store HTTP Protocol at /store: GET always, writes only with a token."""

from __future__ import annotations

import uuid

import anyio
import pyoxigraph as ox
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kzgraph.core.namespaces import PREFIXES, USER_GRAPHS
from kzgraph.core.sparql_text import scan
from kzgraph.endpoint.execution.state import ServerState
from kzgraph.endpoint.execution.workers import RDF_FORMATS
from kzgraph.endpoint.execution.write_scope import scoped_merge
from kzgraph.endpoint.http.conneg import GRAPH_FORMATS, pick
from kzgraph.endpoint.http.protocol import ProtocolError, check_charset, read_body
from kzgraph.endpoint.http.responses import error, not_acceptable

#: New graphs POSTed without a name get an IRI under this base: the users' part of the graph
#: namespace, which ``kzgraph push`` never replaces or drops (it owns the project's part).
GRAPH_BASE = f"{USER_GRAPHS}posted-"

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


def _exists(state: ServerState, graph: ox.NamedNode | ox.DefaultGraph) -> bool:
    return isinstance(graph, ox.DefaultGraph) or state.store.has_graph(graph.value)


async def read_graph(request: Request) -> Response:
    """GET/HEAD: one graph in the negotiated RDF format."""
    state: ServerState = request.app.state.kz
    try:
        graph = _target(request)
    except ProtocolError as exc:
        return error(exc.status, exc.message)
    if not await anyio.to_thread.run_sync(_exists, state, graph):
        return error(404, f"no graph {graph}")
    fmt = pick(TRIPLE_FORMATS, request.headers.get("accept"), request.query_params.get("format"))
    if fmt is None:
        return not_acceptable(TRIPLE_FORMATS)
    name = None if isinstance(graph, ox.DefaultGraph) else graph.value
    body = await anyio.to_thread.run_sync(state.store.graph_dump, name, RDF_FORMATS[fmt.name])
    if request.method == "HEAD":
        return Response(
            status_code=200, media_type=fmt.content_type, headers={"Content-Length": str(len(body))}
        )
    return Response(body, media_type=fmt.content_type, headers={"Vary": "Accept"})


#: Parts a multipart/form-data body may hold (each an RDF document of its own).
MAX_PARTS = 100


def _parse_parts(body: bytes, content_type: str, base_iri: str) -> list[ox.Triple]:
    """The triples of every part of a multipart/form-data body (Graph Store Protocol §5.5).

    Read with the standard library's MIME parser; each part names its own RDF type.
    """
    from email import message_from_bytes
    from email.policy import HTTP

    if "boundary=" not in content_type:
        raise ProtocolError(400, "a multipart/form-data body needs a boundary= parameter")
    message = message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body, policy=HTTP
    )
    parts = list(message.iter_parts()) if message.is_multipart() else []
    if not parts or len(parts) > MAX_PARTS:
        raise ProtocolError(400, f"a multipart body needs 1 to {MAX_PARTS} parts")
    triples: list[ox.Triple] = []
    for part in parts:
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            raise ProtocolError(400, "a part of the multipart body could not be read")
        media = part.get_content_type().lower()
        triples += _parse_body(payload, media, base_iri)
    return triples


def _parse_body(body: bytes, media: str, base_iri: str, content_type: str = "") -> list[ox.Triple]:
    """The triples of a request body; 415 for a type that is not RDF, 400 when it does not parse.

    JSON-LD may only use its default graph (the target graph is named by ``?graph=``); RDF/XML
    with a DOCTYPE that declares entities is refused before parsing, so an entity bomb cannot
    expand into a huge literal. Relative IRIs in the body resolve against the target graph's IRI.
    A multipart/form-data body (``content_type`` gives its boundary) is several RDF documents.
    """
    if media == "multipart/form-data":
        return _parse_parts(body, content_type, base_iri)
    fmt = ox.RdfFormat.from_media_type(media) if media else None
    if fmt is None or (fmt.supports_datasets and fmt != ox.RdfFormat.JSON_LD):
        raise ProtocolError(
            415,
            f"send a graph as Turtle, N-Triples, RDF/XML or JSON-LD, not {media or '(none)'!r}",
        )
    if fmt == ox.RdfFormat.RDF_XML:
        import defusedxml.ElementTree as safe_xml
        from defusedxml import DefusedXmlException

        try:
            safe_xml.fromstring(body)
        except DefusedXmlException:
            raise ProtocolError(400, "RDF/XML with DTD entity declarations is refused") from None
        except safe_xml.ParseError as exc:
            raise ProtocolError(400, f"the body is not well-formed XML: {exc}") from None
    triples: list[ox.Triple] = []
    try:
        for quad in ox.parse(body, format=fmt, base_iri=base_iri, rename_blank_nodes=True):
            if not isinstance(quad.graph_name, ox.DefaultGraph):
                raise ProtocolError(
                    400, "the body names graphs of its own; send one graph and name it in ?graph="
                )
            triples.append(ox.Triple(quad.subject, quad.predicate, quad.object))
    except SyntaxError as exc:
        raise ProtocolError(400, f"the body does not parse as {media}: {exc}") from None
    return triples


def _insert(graph: ox.NamedNode, triples: list[ox.Triple]) -> str:
    data = (ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b"").decode("utf-8")
    return f"INSERT DATA {{ GRAPH <{graph.value}> {{\n{data}}} }}"


async def write_graph(request: Request) -> Response:
    """PUT replaces a graph, POST adds to it, DELETE removes it; all need updates and a token.

    Each write is one SPARQL Update (the change and the re-derived default graph together), so
    it takes effect atomically or not at all. POST to ``/store`` without a graph creates a new
    graph and answers 201 with its ``Location``.
    """
    # Long on purpose (72 lines): the Graph Store's three methods share their checks (token, graph,
    # body) and the one write; a handler per method would repeat them.
    state: ServerState = request.app.state.kz
    from kzgraph.endpoint.routes.handling import refuse_write

    refused = refuse_write(request, state)
    if refused is not None:
        return refused
    created = False
    try:
        params = request.query_params
        if request.method == "POST" and "graph" not in params and "default" not in params:
            graph = ox.NamedNode(f"{GRAPH_BASE}{uuid.uuid4()}")
            created = True
        else:
            target = _target(request)
            if isinstance(target, ox.DefaultGraph):
                raise ProtocolError(
                    400, "the default graph is the merge of the named graphs; write to ?graph=IRI"
                )
            graph = target
        body = (
            b""
            if request.method == "DELETE"
            else await read_body(
                request, state.settings.max_request_bytes, state.settings.body_timeout
            )
        )
        if request.method == "DELETE":
            # a remote store answers over the network: not on the event loop
            if not await anyio.to_thread.run_sync(state.store.has_graph, graph.value):
                return error(404, f"no graph {graph}")
            update = f"DROP SILENT GRAPH <{graph.value}>"
        else:
            content_type = request.headers.get("content-type", "")
            check_charset(content_type)
            media = content_type.split(";")[0].strip().lower()
            triples = _parse_body(body, media, graph.value, content_type)
            steps = [f"CREATE SILENT GRAPH <{graph.value}>"]
            if request.method == "PUT":
                steps.insert(0, f"DROP SILENT GRAPH <{graph.value}>")
            if triples:
                steps.append(_insert(graph, triples))
            update = " ;\n".join(steps)
    except ProtocolError as exc:
        return error(exc.status, exc.message)
    try:
        # only this graph's share of the merged default graph is redone, not the whole store
        found = scan(update, PREFIXES)  # read once: the merge wrapping and the write share it
        merged = scoped_merge(update, {graph.value}, prologue_end=found.prologue_end)
        # whether the graph existed is read under the write lock, with the write: two
        # concurrent PUTs of a new graph get one 201 and one 204, never two 201s
        existed = await anyio.to_thread.run_sync(
            state.write, merged, None, update, graph.value, found
        )
    except (SyntaxError, RuntimeError, OSError, ValueError) as exc:
        return error(400, f"the write was refused, nothing was changed: {exc}")
    from kzgraph.endpoint.routes.handling import validation_headers

    checked = validation_headers(state)
    if request.method == "DELETE" and not existed:  # another DELETE got there first
        return error(404, f"no graph {graph}")
    if request.method == "DELETE" or existed:
        return Response(status_code=204, headers=checked)
    # the new graph's IRI, as the Graph Store Protocol asks (§5.5); GET it at /store?graph=
    headers = {"Location": graph.value}
    return Response(status_code=201, headers={**checked, **(headers if created else {})})


async def graph_store(request: Request) -> Response:
    """One route for every method, so a 405 carries the right ``Allow``."""
    if request.method in ("GET", "HEAD"):
        return await read_graph(request)
    return await write_graph(request)


def routes() -> list[Route]:
    """The Graph Store route."""
    return [Route("/store", graph_store, methods=["GET", "HEAD", "PUT", "POST", "DELETE"])]

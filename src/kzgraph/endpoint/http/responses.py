"""Pure helpers that turn results and errors into HTTP responses."""

from __future__ import annotations

from rdflib import Graph
from starlette.responses import PlainTextResponse, Response

from kzgraph.endpoint.execution.workers import Answer
from kzgraph.endpoint.http.conneg import GRAPH_FORMATS, Format, pick

#: rdflib serializer names for the RDF formats the server writes from rdflib graphs.
RDFLIB_NAMES = {
    "ttl": "turtle",
    "n3": "turtle",
    "nt": "nt",
    "xml": "xml",
    "jsonld": "json-ld",
    "nq": "nquads",
    "trig": "trig",
}


def error(status: int, message: str) -> Response:
    """A plain-text error body that says what went wrong (and where, for syntax errors)."""
    return PlainTextResponse(message + "\n", status_code=status)


def not_acceptable(offers: tuple[Format, ...]) -> Response:
    """406, listing what the client could ask for instead."""
    types = ", ".join(f.media_type for f in offers)
    return error(
        406, f"none of the requested media types is available; this resource offers {types}"
    )


def rdf_response(graph: Graph, accept: str | None, override: str | None) -> Response:
    """Serialise an rdflib graph in the negotiated RDF format."""
    fmt = pick(GRAPH_FORMATS, accept, override)
    if fmt is None:
        return not_acceptable(GRAPH_FORMATS)
    if fmt.name in ("nq", "trig"):
        from rdflib import Dataset

        ds = Dataset()
        for prefix, ns in graph.namespaces():
            ds.bind(prefix, ns)
        for triple in graph:
            ds.add(triple)
        body = ds.serialize(format=RDFLIB_NAMES[fmt.name], encoding="utf-8")
    else:
        body = graph.serialize(format=RDFLIB_NAMES[fmt.name], encoding="utf-8")
    return Response(body, media_type=fmt.content_type, headers={"Vary": "Accept"})


def answer_response(answer: Answer, select_fmt: Format, graph_fmt: Format) -> Response:
    """Map a worker's answer to a response: body and type on success, 400 on errors."""
    if not answer.ok:
        if answer.kind == "syntax":
            return error(400, f"SPARQL syntax error: {answer.message}")
        if answer.kind == "unavailable":  # the remote store behind the server failed
            return error(502, f"the store behind this server failed: {answer.message}")
        return error(400, f"query failed: {answer.message}")
    fmt = graph_fmt if answer.kind == "graph" else select_fmt
    headers = {"Vary": "Accept"}
    if answer.truncated:
        headers["X-Kzgraph-Truncated"] = "true"
    headers["X-Kzgraph-Cache"] = "hit" if answer.cached else "miss"
    if answer.cached:  # HTTP's own word for an answer kept, not computed now
        headers["Age"] = str(int(answer.age))
    return Response(answer.body, media_type=fmt.content_type, headers=headers)

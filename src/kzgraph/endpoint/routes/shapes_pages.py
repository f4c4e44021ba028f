"""The SHACL shapes as linked data: ``/shapes`` (all of them) and ``/shapes/NAME`` (one).

Shape IRIs (``kzsh:ProjectShape``, ``https://w3id.org/kzgraph/shapes#ProjectShape``) appear in
every validation report and on the class pages; like every other IRI of the project they must
dereference, to a page for people and to the shape's triples for machines. The shapes are not
data in the store: they are read from ``ontology/shapes.ttl`` (the graph the server validates
with).
"""

from __future__ import annotations

from typing import Any

from rdflib import BNode, Graph, URIRef
from rdflib.namespace import RDF, SH
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from kzgraph.core.namespaces import KZSH, bind_prefixes, curie
from kzgraph.endpoint.execution.state import ServerState
from kzgraph.endpoint.http.conneg import wants_html
from kzgraph.endpoint.http.pages import render, term_view
from kzgraph.endpoint.http.responses import rdf_response

_FORMATS = [("ttl", "Turtle"), ("jsonld", "JSON-LD"), ("nt", "N-Triples"), ("xml", "RDF/XML")]


def shape_graph(shapes: Graph, iri: URIRef) -> Graph:
    """The shape's own triples and every blank node they reach (its property shapes, lists).

    That is the shape's Concise Bounded Description, which rdflib computes.
    """
    out = shapes.cbd(iri, target_graph=Graph())
    bind_prefixes(out)
    return out


def _sections(graph: Graph, iri: URIRef, labels: dict[str, str]) -> list[dict[str, Any]]:
    def rows(subject: Any) -> list[dict[str, Any]]:
        return [
            {"p": term_view(p, labels), "o": term_view(o, labels)}
            for p, o in sorted(graph.predicate_objects(subject), key=lambda po: str(po[0]))
            if not isinstance(o, BNode)
        ]

    sections = [{"title": curie(str(iri)), "rows": rows(iri)}]
    for n, prop in enumerate(sorted(graph.objects(iri, SH.property), key=str), 1):
        path = graph.value(prop, SH.path)
        title = f"Property {n}: {curie(str(path))}" if isinstance(path, URIRef) else f"Property {n}"
        sections.append({"title": title, "rows": rows(prop)})
    return sections


async def all_shapes(request: Request) -> Response:
    """Every shape: a list for people, the shapes graph for machines."""
    state: ServerState = request.app.state.kz
    shapes = state.shapes()
    override = request.query_params.get("format")
    if override is None and wants_html(request.headers.get("accept")):
        labels = state.labels()
        rows = []
        for shape in sorted(shapes.subjects(RDF.type, SH.NodeShape), key=str):
            if not (isinstance(shape, URIRef) and str(shape).startswith(str(KZSH))):
                continue
            targets = sorted(
                labels.get(str(t), curie(str(t))) for t in shapes.objects(shape, SH.targetClass)
            )
            rows.append(
                {
                    "p": {"text": ", ".join(targets) or "(no target class)", "note": ""},
                    "o": {
                        "text": curie(str(shape)),
                        "href": f"/shapes/{str(shape)[len(str(KZSH)) :]}",
                        "note": "",
                    },
                }
            )
        page = render(
            "rdf_table.html",
            title="SHACL shapes",
            intro="The shapes every write and every start validates the data with, each with "
            "the class it targets. Their source is ontology/shapes.ttl.",
            self_path="/shapes",
            formats=_FORMATS,
            sections=[{"title": "Classes targeted, and the shape", "rows": rows}],
        )
        return HTMLResponse(page, headers={"Vary": "Accept"})
    graph = Graph()
    bind_prefixes(graph)
    for triple in shapes:
        graph.add(triple)
    return rdf_response(graph, request.headers.get("accept"), override)


async def one_shape(request: Request) -> Response:
    """One shape, by the local name of its IRI."""
    from kzgraph.endpoint.routes.linked_data import not_found

    state: ServerState = request.app.state.kz
    name = request.path_params["name"]
    iri = URIRef(str(KZSH) + name)
    graph = shape_graph(state.shapes(), iri)
    if len(graph) == 0:
        return not_found(request, f"There is no shape {curie(str(iri))}.", str(iri))
    override = request.query_params.get("format")
    if override is None and wants_html(request.headers.get("accept")):
        page = render(
            "rdf_table.html",
            title=f"Shape {curie(str(iri))}",
            intro=f"{iri}: a SHACL shape of ontology/shapes.ttl.",
            self_path=f"/shapes/{name}",
            formats=_FORMATS,
            sections=_sections(graph, iri, state.labels()),
        )
        return HTMLResponse(page, headers={"Vary": "Accept"})
    return rdf_response(graph, request.headers.get("accept"), override)


def routes() -> list[Route]:
    """The shapes routes."""
    return [
        Route("/shapes", all_shapes, methods=["GET"]),
        Route("/shapes/{name}", one_shape, methods=["GET"]),
    ]

"""The VoID/DCAT description at /.well-known/void."""

from __future__ import annotations

from typing import Any

import anyio
from rdflib import BNode, Graph
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from kzgraph.core.namespaces import curie
from kzgraph.endpoint.execution.state import ServerState
from kzgraph.endpoint.http.conneg import wants_html
from kzgraph.endpoint.http.responses import rdf_response
from kzgraph.endpoint.routes.describe import VOID, void_description
from kzgraph.endpoint.routes.dumps import DUMPS


async def void(request: Request) -> Response:
    """VoID and DCAT: size, subsets per source, classes, dumps, endpoint."""
    state: ServerState = request.app.state.kz
    dumps = [(n, m) for n, (m, _) in DUMPS.items()] + [
        (n + ".gz", "application/gzip") for n in DUMPS
    ]
    graph = await anyio.to_thread.run_sync(
        void_description, str(request.base_url), state.store, await state.graphs_async(), dumps
    )
    override = request.query_params.get("format")
    if override is None and wants_html(request.headers.get("accept")):
        return HTMLResponse(rdf_page(graph, await state.labels_async()), headers={"Vary": "Accept"})
    return rdf_response(graph, request.headers.get("accept"), override)


def rdf_page(graph: Graph, labels: dict[str, str]) -> str:
    """The VoID description for people: the dataset first, then each subset and partition."""
    from kzgraph.endpoint.http.pages import render, term_view
    from kzgraph.endpoint.routes.describe import DATASET

    def rows(subject: Any) -> list[dict[str, Any]]:
        return [
            {"p": term_view(p, labels), "o": term_view(o, labels)}
            for p, o in sorted(
                graph.predicate_objects(subject), key=lambda po: (str(po[0]), str(po[1]))
            )
            if not isinstance(o, BNode)
        ]

    sections: list[dict[str, Any]] = [{"title": "The dataset", "rows": rows(DATASET)}]
    for subset in sorted(graph.objects(DATASET, VOID.subset), key=str):
        sections.append({"title": f"Subset {curie(str(subset))}", "rows": rows(subset)})
    partitions = []
    for part in graph.objects(DATASET, VOID.classPartition):
        cls, n = graph.value(part, VOID["class"]), graph.value(part, VOID.entities)
        partitions.append({"p": term_view(cls, labels), "o": term_view(n, labels)})
    sections.append(
        {"title": "Entities per class", "rows": sorted(partitions, key=lambda r: r["p"]["text"])}
    )
    return render(
        "rdf_table.html",
        title="VoID / DCAT description",
        intro="How big the dataset is, where its parts come from, and how to get it.",
        self_path="/.well-known/void",
        formats=[("ttl", "Turtle"), ("jsonld", "JSON-LD"), ("nt", "N-Triples"), ("xml", "RDF/XML")],
        sections=sections,
    )


def routes() -> list[Route]:
    """The VoID route."""
    return [Route("/.well-known/void", void, methods=["GET"])]

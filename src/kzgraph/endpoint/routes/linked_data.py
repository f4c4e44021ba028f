"""Dereferenceable IRIs: an HTML page for people and RDF for machines, by content negotiation.

The data's IRIs live under https://w3id.org/kzgraph/; on this server the same paths resolve
(``/id/company/tbea``), and ``/resolve?iri=`` resolves any IRI the dataset mentions.
"""

from __future__ import annotations

from typing import Any

import anyio
import pyoxigraph as ox
from rdflib import BNode, Graph, URIRef
from rdflib.namespace import PROV, RDF
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from kzgraph.core.namespaces import BASE, KZ, ONTOLOGY_GRAPH, bind_prefixes, curie
from kzgraph.endpoint.execution.state import ServerState
from kzgraph.endpoint.http.conneg import wants_html
from kzgraph.endpoint.http.pages import local_href, render, term_view
from kzgraph.endpoint.http.responses import error, rdf_response
from kzgraph.endpoint.routes.describe import entity_graph, statements_with_sources


def _page(state: ServerState, iri: str, graph: Graph) -> str:
    """An entity's page: its statements with their graphs, its sources' words, what links to it."""
    # Long on purpose (65 lines): the page's three sections are gathered in one pass over the
    # entity's graph, in the order the template shows them.
    labels = state.labels()
    node = URIRef(iri)
    statements = []
    for row in statements_with_sources(state.store, iri):
        p, o = row["p"], row["o"]
        if p == RDF.type:
            continue
        details = []
        if isinstance(o, BNode):
            details = [
                {"p": term_view(p2, labels), "o": term_view(o2, labels)}
                for p2, o2 in sorted(graph.predicate_objects(o))
                if p2 != RDF.type
            ]
        statements.append(
            {
                "p": term_view(p, labels),
                "o": term_view(o, labels),
                "graphs": row["graphs"],
                "details": details,
            }
        )
    quotations = []
    for derivation in graph.objects(node, PROV.qualifiedDerivation):
        source = graph.value(derivation, PROV.entity)
        quoted = graph.value(derivation, KZ.quotation)
        located = graph.value(derivation, KZ.locator)
        text = quoted if quoted is not None else located
        if source is not None and text is not None:
            quotations.append(
                {
                    "source": labels.get(str(source), str(source)),
                    "source_href": local_href(str(source)) or str(source),
                    "text": str(text),
                    # a quotation is the source's words; a locator the curator's, for a source
                    # cited by reference: the page says which it shows
                    "kind": "quotation" if quoted is not None else "locator",
                }
            )
    incoming = [
        {"s": term_view(s, labels), "p": term_view(p, labels)}
        for s, p in sorted(graph.subject_predicates(node))
        if not isinstance(s, BNode)
    ]
    from urllib.parse import quote

    local = local_href(iri)
    format_base = (
        f"{local}?format="
        if local and "%23" not in local and "#" not in iri
        else f"/resolve?iri={quote(iri, safe='')}&format="
    )
    return render(
        "entity.html",
        iri=iri,
        format_base=format_base,
        label=labels.get(iri, iri),
        types=[term_view(t, labels) for t in sorted(graph.objects(node, RDF.type), key=str)],
        statements=statements,
        quotations=sorted(quotations, key=lambda q: (q["source"], q["text"])),
        incoming=incoming,
    )


async def describe_iri(request: Request, iri: str) -> Response:
    """Answer for one IRI: 400 if it is not an IRI, 404 if the dataset does not mention it."""
    state: ServerState = request.app.state.kz
    try:
        ox.NamedNode(iri)
    except ValueError as exc:
        return error(400, f"not an absolute IRI: {iri!r} ({exc})")

    def build() -> Graph:
        return entity_graph(state.store, iri)

    override = request.query_params.get("format")
    html = override is None and wants_html(request.headers.get("accept"))
    if iri in await state.graphs_async():
        if html:
            page = await anyio.to_thread.run_sync(_graph_page, state, iri)
            return HTMLResponse(page, headers={"Vary": "Accept"})
        contents = await anyio.to_thread.run_sync(_graph_contents, state, iri)
        return rdf_response(contents, request.headers.get("accept"), override)
    graph = await anyio.to_thread.run_sync(build)
    if len(graph) == 0:
        return not_found(request, f"The dataset says nothing about <{iri}>.", iri)
    if html:
        page = await anyio.to_thread.run_sync(_page, state, iri, graph)
        return HTMLResponse(page, headers={"Vary": "Accept"})
    return rdf_response(graph, request.headers.get("accept"), override)


def not_found(request: Request, message: str, iri: str = "") -> Response:
    """404: an HTML page with a way on for browsers, one line of text for everyone else."""
    if wants_html(request.headers.get("accept")):
        return HTMLResponse(render("not_found.html", message=message, iri=iri), status_code=404)
    return error(404, message)


def _graph_contents(state: ServerState, iri: str) -> Graph:
    dump = state.store.graph_dump(iri, ox.RdfFormat.N_TRIPLES)
    return bind_prefixes(Graph().parse(data=dump or b"", format="nt"))


_GRAPH_ENTITIES = """
SELECT ?e (SAMPLE(?t) AS ?type) (COUNT(*) AS ?facts) WHERE {
  GRAPH ?g { ?e ?p ?o FILTER(isIRI(?e) && ?p != prov:qualifiedDerivation) }
  OPTIONAL { GRAPH ?g { ?e a ?t } }
} GROUP BY ?e ORDER BY DESC(?facts) ?e"""

_GRAPH_SOURCE = """
SELECT ?src ?title ?label ?publisher ?date ?url WHERE {
  GRAPH ?g { ?g prov:wasDerivedFrom ?src
    OPTIONAL { ?src dcterms:title ?title } OPTIONAL { ?src rdfs:label ?label }
    OPTIONAL { ?src dcterms:source ?publisher } OPTIONAL { ?src dcterms:issued ?date }
    OPTIONAL { ?src schema:url ?url } }
} LIMIT 1"""


def _graph_page(state: ServerState, iri: str) -> str:
    """A named graph for people: its source article, counts, and the entities it describes."""
    # ``iri`` is one of the store's own graph names (checked by the caller), safe in <…>
    g = f"<{iri}>"
    labels = state.labels()
    triples = state.store.query(f"SELECT (COUNT(*) AS ?n) {{ GRAPH {g} {{ ?s ?p ?o }} }}")
    quotes = state.store.query(f"SELECT (COUNT(*) AS ?n) {{ GRAPH {g} {{ ?d kz:quotation ?q }} }}")
    entities = []
    for e, t, n in state.store.query(_GRAPH_ENTITIES.replace("?g", g)).rows:
        entities.append(
            {
                "label": labels.get(str(e), curie(str(e))),
                "curie": curie(str(e)),
                "href": local_href(str(e)),
                "kind": labels.get(str(t), curie(str(t))) if t is not None else "",
                "facts": str(n),
            }
        )
    source: dict[str, str] | None = None
    rows = state.store.query(_GRAPH_SOURCE.replace("?g", g)).rows
    if rows:
        src, title, label, publisher, date, url = rows[0]
        source = {
            "href": local_href(str(src)) or str(src),
            "title": str(title or label or curie(str(src))),
            "publisher": str(publisher or ""),
            "date": str(date or ""),
            "url": str(url or ""),
        }
    heading = source["title"] if source else labels.get(iri, curie(iri))
    return render(
        "graph.html",
        iri=iri,
        title=heading,
        source=source,
        triples=str(triples.rows[0][0]),
        quotations=str(quotes.rows[0][0]),
        entities=entities,
    )


async def by_path(request: Request) -> Response:
    """/id/..., /vocab/..., /graph/...: the path names the IRI under the project's base."""
    return await describe_iri(request, BASE + request.url.path.lstrip("/"))


async def resolve(request: Request) -> Response:
    """/resolve?iri=...: any IRI; local ones redirect to their path."""
    iri = request.query_params.get("iri")
    if not iri:
        if wants_html(request.headers.get("accept")):
            return HTMLResponse(
                render("not_found.html", message="Give an IRI or CURIE to look up.", iri="")
            )
        return error(400, "give ?iri=")
    if ":" in iri and not iri.split(":", 1)[1].startswith("//"):
        from kzgraph.queries.catalogue import ParameterError, expand_iri

        try:
            iri = str(expand_iri(iri))  # a CURIE such as company:tbea
        except ParameterError:
            pass
    href = local_href(iri)
    if href and ("#" not in iri or href.startswith("/shapes/")):
        return RedirectResponse(href, status_code=303)
    return await describe_iri(request, iri)


async def ontology(request: Request) -> Response:
    """The ontology IRI: the documentation site for people, the ontology as RDF for machines."""
    state: ServerState = request.app.state.kz
    override = request.query_params.get("format")
    if override is None and wants_html(request.headers.get("accept")):
        return RedirectResponse("/ontology/", status_code=303)
    graph = await anyio.to_thread.run_sync(_graph_contents, state, str(ONTOLOGY_GRAPH))
    return rdf_response(graph, request.headers.get("accept"), override)


async def docs(request: Request) -> Response:
    """The documentation site (``kzgraph docs``), built beside the serving from its start."""
    state: ServerState = request.app.state.kz
    name = request.path_params.get("path", "") or "index.html"
    site = state.docs_dir
    # the file system's limits are in bytes: 64 emoji are 64 characters and 256 bytes
    too_long = len(name.encode()) > 1024 or any(len(p.encode()) > 200 for p in name.split("/"))
    if "\x00" in name or too_long:
        return not_found(request, f"There is no page {name[:80]!r}… in the documentation.")
    if site is not None and not (site / "index.html").exists():
        from kzgraph.docs.build import wait

        refused = await wait(site)  # built beside the serving since the server started
        if refused is not None:
            status, why = refused
            return PlainTextResponse(why + "\n", status, headers={"Retry-After": "5"})
    if site is not None:
        try:
            target = (site / name).resolve()
            found = target.is_file() and site.resolve() in target.parents
        except OSError:  # any other name the file system refuses is no page either
            found = False
        if found:
            return FileResponse(target)
    if "/" not in name and "." not in name:
        # /ontology/Company: the term kz:Company (hash IRIs never reach a server)
        return RedirectResponse(f"/resolve?iri={BASE}ontology%23{name}", status_code=303)
    if site is None:
        return not_found(request, "The documentation was not built (see the server log).")
    return not_found(request, f"There is no page {name!r} in the documentation.")


def routes() -> list[Route]:
    """The linked-data routes."""
    return [
        Route("/id/{path:path}", by_path, methods=["GET"]),
        Route("/vocab/{path:path}", by_path, methods=["GET"]),
        Route("/graph/{path:path}", by_path, methods=["GET"]),
        Route("/resolve", resolve, methods=["GET"]),
        Route("/ontology", ontology, methods=["GET"]),
        Route("/ontology/", docs, methods=["GET"]),
        Route("/ontology/{path:path}", docs, methods=["GET"]),
    ]


__all__: list[Any] = ["routes"]

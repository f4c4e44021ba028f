"""A triple store that others run, reached by the SPARQL 1.1 Protocol, behind the store interface.

When a graph outgrows one machine it moves to a dedicated store (Oxigraph server, Virtuoso,
Fuseki, …). :class:`RemoteStore` answers the same :class:`~kzgraph.store.Store` calls as the
embedded engines, so saved queries, statistics and network projections run unchanged against it.
Its layout is the one :func:`push` writes: every named graph, and their RDF merge in the store's
default graph, as the embedded store keeps them.

kzgraph's prefixes are put in front of every query, as the embedded engines preset them. Saved
query parameters are bound by a ``VALUES`` block at the start of the query's outermost ``WHERE``
(the parameters are projected variables, so this binds them as Oxigraph's substitution does);
they are never pasted into the text. Credentials come from the environment
(``KZGRAPH_BACKEND_USER`` and ``KZGRAPH_BACKEND_PASSWORD``), never from the command line.

>>> bind_values("SELECT ?_x_iri ?y WHERE { ?y ?p ?_x_iri }", {"_x_iri": URIRef("urn:a")})
'SELECT ?_x_iri ?y WHERE { VALUES (?_x_iri) { (<urn:a>) } ?y ?p ?_x_iri }'
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
from rdflib import Graph, Node, URIRef
from rdflib.query import Result

from kzgraph.loading import KzgraphError
from kzgraph.namespaces import PREFIXES, bind_prefixes
from kzgraph.store import QueryResult, QuerySyntaxError

ENV_USER = "KZGRAPH_BACKEND_USER"
ENV_PASSWORD = "KZGRAPH_BACKEND_PASSWORD"
SELECT_TYPES = "application/sparql-results+json"
GRAPH_TYPES = "application/n-triples, text/turtle;q=0.9"


@dataclass(frozen=True)
class Backend:
    """Where a remote store answers: its query URL and, optionally, update and Graph Store URLs."""

    query_url: str
    update_url: str | None = None
    store_url: str | None = None
    timeout: float = 300.0

    def auth(self) -> httpx.BasicAuth | None:
        """HTTP Basic credentials from the environment, if set."""
        user = os.environ.get(ENV_USER)
        if not user:
            return None
        return httpx.BasicAuth(user, os.environ.get(ENV_PASSWORD, ""))

    def client(self) -> httpx.Client:
        """An HTTP client for this backend (no redirects to other hosts are followed)."""
        return httpx.Client(timeout=self.timeout, auth=self.auth(), follow_redirects=False)


def with_prologue(text: str) -> str:
    """``text`` with kzgraph's prefixes declared in front (a query's own declarations win)."""
    return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in PREFIXES.items()) + text


def bind_values(text: str, bindings: Mapping[str, Node]) -> str:
    """Bind ``bindings`` with a VALUES block at the start of the outermost WHERE group.

    The place is found from the query's tokens, not by searching its text, so comments,
    strings and IRIs that contain "WHERE" do not mislead it. Without a WHERE keyword the block
    opens the first top-level group after the query form.
    """
    if not bindings:
        return text
    from kzgraph.endpoint.sparql_text import tokens

    names = sorted(bindings)
    block = (
        "VALUES ("
        + " ".join(f"?{n}" for n in names)
        + ") { ("
        + " ".join(bindings[n].n3() for n in names)
        + ") }"
    )
    depth = 0
    form: str | None = None
    after_where = False
    for token in tokens(text):
        if depth == 0 and token.keyword in ("SELECT", "CONSTRUCT", "ASK", "DESCRIBE"):
            form = form or token.keyword
        if depth == 0 and token.keyword == "WHERE":
            after_where = True
        if token.kind == "punct" and token.text in "({[":
            group = token.text == "{" and (after_where or form in ("SELECT", "ASK"))
            if depth == 0 and group:
                at = token.start + 1
                return text[:at] + " " + block + text[at:]
            depth += 1
        elif token.kind == "punct" and token.text in ")}]":
            depth -= 1
    raise KzgraphError("cannot bind parameters: the query has no WHERE group")


class RemoteStore:
    """A SPARQL 1.1 Protocol endpoint answering the :class:`~kzgraph.store.Store` calls."""

    engine = "remote"

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._http = backend.client()

    def load_dataset(self, ds: object) -> None:
        """Refused: a remote store is filled with ``kzgraph push``."""
        raise KzgraphError("a remote store is filled with 'kzgraph push', not loaded in place")

    def _post(self, data: dict[str, str], accept: str) -> httpx.Response:
        url = self.backend.query_url
        try:
            response = self._http.post(url, data=data, headers={"Accept": accept})
        except httpx.HTTPError as exc:
            raise KzgraphError(f"the backend {url} cannot be reached: {exc}") from None
        if response.status_code == 400:
            raise QuerySyntaxError(f"the backend refused the query: {response.text[:2000]}")
        if response.status_code in (401, 403):
            raise KzgraphError(
                f"the backend {url} answered {response.status_code}: set {ENV_USER} and "
                f"{ENV_PASSWORD} to its credentials"
            )
        if response.status_code != 200:
            raise KzgraphError(
                f"the backend {url} answered {response.status_code}: {response.text[:500]}"
            )
        return response

    def query(self, sparql: str, bindings: Mapping[str, Node] | None = None) -> QueryResult:
        """Run ``sparql`` on the backend and return rdflib terms, as the embedded engines do."""
        text = with_prologue(bind_values(sparql, bindings or {}))
        response = self._post({"query": text}, f"{SELECT_TYPES}, {GRAPH_TYPES}")
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if media in ("application/n-triples", "text/turtle", "text/plain"):
            graph = bind_prefixes(Graph())
            graph.parse(data=response.content, format="nt" if "turtle" not in media else "turtle")
            return QueryResult("graph", graph=graph)
        if media not in ("application/sparql-results+json", "application/json"):
            raise KzgraphError(f"the backend answered in {media!r}, not SPARQL results JSON")
        result = Result.parse(io.BytesIO(response.content), format="json")
        if result.type == "ASK":
            return QueryResult("ask", boolean=bool(result.askAnswer))
        names = list(result.vars or [])
        rows: list[tuple[Node | None, ...]] = [
            tuple(row.get(v) for v in names) for row in result.bindings
        ]
        return QueryResult("select", variables=[str(v) for v in names], rows=rows)

    def __len__(self) -> int:
        """Quads in the named graphs (the default graph only repeats them)."""
        result = self.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
        value = result.rows[0][0] if result.rows else None
        return int(str(value)) if value is not None else 0


def graph_counts(store: RemoteStore) -> dict[str, int]:
    """Triples per named graph on the backend."""
    result = store.query("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")
    return {str(g): int(str(n)) for g, n in result.rows if isinstance(g, URIRef)}

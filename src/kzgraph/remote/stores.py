"""A triple store that others run, reached by the SPARQL 1.1 Protocol, behind the store interface.

When a graph outgrows one machine it moves to a dedicated store (Oxigraph server, Virtuoso,
Fuseki, …). :class:`RemoteStore` answers the same :class:`~kzgraph.store.engines.Store` calls as the
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
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
import pyoxigraph as ox
from rdflib import Graph, Node, URIRef
from rdflib.query import Result

from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import PREFIXES, bind_prefixes, sparql_prologue
from kzgraph.remote.path_expansion import expand
from kzgraph.remote.virtuoso import (
    GEO_WKT,
    MERGED,
    VIRTUOSO_COMPILER,
    VIRTUOSO_GEOMETRY,
    VIRTUOSO_SYSTEM_GRAPHS,
    checked_iri,
    restored_ntriples,
    restored_wkt,
    virtuoso_dataset,
    virtuoso_group_concat,
)
from kzgraph.store.engines import QueryResult, QuerySyntaxError, to_rdflib

#: The variable Virtuoso 7.2 answers an ASK with, as a one-row SELECT holding 1 or 0.
VIRTUOSO_ASK = "__ASK_RETVAL"
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

    def client(self, uds: str | None = None) -> httpx.Client:
        """An HTTP client for this backend (redirects are not followed).

        ``uds``: connect through the server's relay (:mod:`kzgraph.endpoint.safety.gateway`) instead
        of opening network sockets, which the sandboxed server cannot.
        """
        transport = httpx.HTTPTransport(uds=uds) if uds is not None else None
        return httpx.Client(
            timeout=self.timeout, auth=self.auth(), follow_redirects=False, transport=transport
        )

    def urls(self) -> list[str]:
        """Every URL of this backend that is set."""
        return [u for u in (self.query_url, self.update_url, self.store_url) if u]


class BackendError(KzgraphError):
    """The remote store could not be reached or failed (not a fault of the query)."""


def kind_of(server_header: str) -> str:
    """The store's kind from its ``Server`` header, where its deviations need it, else "".

    >>> kind_of("Virtuoso/07.20.3229 (Linux) x86_64-pc-linux-gnu"), kind_of("")
    ('virtuoso', '')
    """
    return "virtuoso" if server_header.lower().startswith("virtuoso") else ""


def selects_distinct(text: str) -> bool:
    """Whether the query's own (outermost) SELECT is a SELECT DISTINCT (cached token scan).

    >>> selects_distinct("SELECT ?x { { SELECT DISTINCT ?x { ?x ?p ?o } } }")
    False
    >>> selects_distinct("PREFIX a: <http://a/> SELECT DISTINCT ?x { ?x ?p ?o }")
    True
    """
    from kzgraph.core.sparql_text import scan_query

    return scan_query(text, PREFIXES, None).distinct


def standard_json(data: bytes, distinct: bool = False) -> bytes:
    """Virtuoso 7.2's SPARQL JSON made standard: ASK, "typed-literal", ``nodeID://`` blank nodes.

    ``distinct``: the query is a SELECT DISTINCT, so rows the same term for term are one row.

    >>> standard_json(b'{"head": {"vars": ["__ASK_RETVAL"]}, "results": {"bindings": '
    ...               b'[{"__ASK_RETVAL": {"type": "typed-literal", "value": "1"}}]}}')
    b'{"head": {}, "boolean": true}'
    """
    parsed = json.loads(data)
    if parsed.get("head", {}).get("vars") == [VIRTUOSO_ASK]:
        rows = parsed.get("results", {}).get("bindings", [])
        value = rows[0].get(VIRTUOSO_ASK, {}).get("value") if rows else "0"
        return json.dumps({"head": {}, "boolean": value == "1"}).encode()
    rows = parsed.get("results", {}).get("bindings", [])
    for row in rows:
        for term in row.values():
            if term.get("type") == "typed-literal":
                term["type"] = "literal"
            if term.get("type") == "bnode" and term.get("value", "").startswith("nodeID://"):
                term["value"] = term["value"][len("nodeID://") :]  # as its N-Triples name it
            if term.get("datatype") == VIRTUOSO_GEOMETRY:
                term["datatype"] = GEO_WKT
                term["value"] = restored_wkt(term.get("value", ""))
    if distinct and rows:  # Virtuoso's DISTINCT keeps a number it holds in two internal forms twice
        seen: set[str] = set()
        kept = []
        for row in rows:
            key = json.dumps(row, sort_keys=True)
            if key not in seen:
                seen.add(key)
                kept.append(row)
        parsed["results"]["bindings"] = kept
    return json.dumps(parsed).encode()


def data_graph(iri: str) -> bool:
    """Whether ``iri`` names a graph of data, not one a store keeps for itself or the merge."""
    return iri != MERGED and not iri.startswith(VIRTUOSO_SYSTEM_GRAPHS)


def query_form(text: str) -> str | None:
    """SELECT, ASK, CONSTRUCT or DESCRIBE, read from the query's tokens (cached)."""
    from kzgraph.core.sparql_text import scan_query

    return scan_query(text, PREFIXES, None).form


def accept_for(form: str | None) -> str:
    """The Accept header for a query of ``form``.

    Stores choose among the types offered; Virtuoso answers a CONSTRUCT in SPARQL results
    JSON when that is offered too, so each form is offered only its own kinds of answer.
    """
    if form in ("CONSTRUCT", "DESCRIBE"):
        return GRAPH_TYPES
    if form in ("SELECT", "ASK"):
        return SELECT_TYPES
    return f"{SELECT_TYPES}, {GRAPH_TYPES}"


def with_prologue(text: str) -> str:
    """``text`` with kzgraph's prefixes declared in front (a query's own declarations win).

    A ``BASE`` the query opens with stays first: Virtuoso refuses a BASE after a PREFIX, which
    the standard allows.

    >>> with_prologue("BASE <http://e/> SELECT * { ?s ?p ?o }").split(chr(10))[0]
    'BASE <http://e/>'
    """
    from kzgraph.core.sparql_text import tokens

    at = 0
    toks = tokens(text)
    while len(toks) >= 2 and toks[0].keyword == "BASE" and toks[1].kind == "iri":
        at = toks[1].start + len(toks[1].text)
        toks = toks[2:]
    if at:
        return text[:at] + "\n" + sparql_prologue() + text[at:]
    return sparql_prologue() + text


def bind_values(text: str, bindings: Mapping[str, Node]) -> str:
    """Bind ``bindings`` with a VALUES block at the start of the outermost WHERE group.

    The place is found from the query's tokens, not by searching its text, so comments,
    strings and IRIs that contain "WHERE" do not mislead it. Without a WHERE keyword the block
    opens the first top-level group after the query form.
    """
    if not bindings:
        return text
    from kzgraph.core.sparql_text import tokens

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
    """A SPARQL 1.1 Protocol endpoint answering the :class:`~kzgraph.store.engines.Store` calls."""

    engine = "remote"

    def __init__(self, backend: Backend, uds: str | None = None) -> None:
        self.backend = backend
        self._http = backend.client(uds)
        self._kind: str | None = None
        self._graphs: list[str] | None = None

    @property
    def kind(self) -> str:
        """The store's kind: "virtuoso" for Virtuoso (its deviations are adapted to), else ""."""
        if self._kind is None:
            self.query("ASK { ?s ?p ?o }", None, True)
        return self._kind or ""

    def load_dataset(self, ds: object) -> None:
        """Refused: a remote store is filled with ``kzgraph push``."""
        raise KzgraphError("a remote store is filled with 'kzgraph push', not loaded in place")

    def _post(self, data: dict[str, str], accept: str, whole_store: bool = False) -> httpx.Response:
        url = self.backend.query_url
        form: dict[str, str | list[str]] = dict(data)
        if not whole_store and self._kind == "virtuoso":
            if self._graphs is None:
                self._graphs = self.graph_names()
            pragmas, params = virtuoso_dataset(data["query"], self._graphs)
            form["query"] = pragmas + data["query"]
            for name, value in params:
                listed = form.setdefault(name, [])
                assert isinstance(listed, list)
                listed.append(value)
        try:
            response = self._http.post(url, data=form, headers={"Accept": accept})
        except httpx.HTTPError as exc:
            raise BackendError(f"the backend {url} cannot be reached: {exc}") from None
        if self._kind is None:
            self._kind = kind_of(response.headers.get("server", ""))
        if response.status_code == 400:
            raise QuerySyntaxError(f"the backend refused the query: {response.text[:2000]}")
        if response.status_code in (401, 403):
            raise KzgraphError(
                f"the backend {url} answered {response.status_code}: set {ENV_USER} and "
                f"{ENV_PASSWORD} to its credentials"
            )
        if response.status_code != 200:
            raise BackendError(
                f"the backend {url} answered {response.status_code}: {response.text[:500]}"
            )
        return response

    def query(
        self,
        sparql: str,
        bindings: Mapping[str, Node] | None = None,
        whole_store: bool = False,
    ) -> QueryResult:
        """Run ``sparql`` on the backend and return rdflib terms, as the embedded engines do.

        ``whole_store``: over every graph the store has, not kzgraph's dataset (for listing).
        On Virtuoso property paths are written out first (:mod:`kzgraph.remote.path_expansion`).
        """
        if not whole_store and self.kind == "virtuoso":
            sparql = expand(
                sparql,
                lambda fetch: [tuple(r) for r in self.query(fetch).rows],  # type: ignore[misc]
                bindings,
                dict(PREFIXES),
            )
            tagged = virtuoso_group_concat(sparql)
            if tagged != sparql:
                try:
                    return self._ask(tagged, bindings, whole_store)
                except BackendError as exc:
                    if VIRTUOSO_COMPILER not in str(exc):
                        raise
        return self._ask(sparql, bindings, whole_store)

    def _ask(
        self, sparql: str, bindings: Mapping[str, Node] | None, whole_store: bool
    ) -> QueryResult:
        text = with_prologue(bind_values(sparql, bindings or {}))
        response = self._post({"query": text}, accept_for(query_form(sparql)), whole_store)
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if media in ("application/n-triples", "text/turtle", "text/plain"):
            # parsed by Oxigraph, which keeps the store's blank node labels (rdflib's parser
            # makes new ones): a page's next query can then name the same nodes
            fmt = ox.RdfFormat.TURTLE if "turtle" in media else ox.RdfFormat.N_TRIPLES
            graph = bind_prefixes(Graph())
            content = response.content
            if self._kind == "virtuoso":
                content = restored_ntriples(content)
            for quad in ox.parse(content, format=fmt):
                triple = (
                    to_rdflib(quad.subject),
                    to_rdflib(quad.predicate),
                    to_rdflib(quad.object),
                )
                graph.add(triple)  # type: ignore[arg-type]
            return QueryResult("graph", graph=graph)
        if media not in ("application/sparql-results+json", "application/json"):
            raise KzgraphError(f"the backend answered in {media!r}, not SPARQL results JSON")
        content = response.content
        if self._kind == "virtuoso":
            content = standard_json(content, selects_distinct(sparql))
        result = Result.parse(io.BytesIO(content), format="json")
        if result.type == "ASK":
            return QueryResult("ask", boolean=bool(result.askAnswer))
        names = list(result.vars or [])
        rows: list[tuple[Node | None, ...]] = [
            tuple(row.get(v) for v in names) for row in result.bindings
        ]
        return QueryResult("select", variables=[str(v) for v in names], rows=rows)

    def update(self, text: str) -> None:
        """Run one SPARQL Update request at the store's Update URL.

        A 400 means the store refused it (parsed before anything ran): a ``ValueError``, which
        the server turns into "refused, nothing was changed". Any other failure, a timeout
        included, is a :class:`BackendError` that does not claim to know whether it took effect.
        """
        url = self.backend.update_url
        if not url:
            raise KzgraphError("the backend has no SPARQL Update URL: give --backend-update")
        try:
            response = self._http.post(url, data={"update": text})
        except httpx.HTTPError as exc:
            raise BackendError(
                f"the update service {url} failed before answering ({exc}); whether the update "
                "took effect, the store alone can say"
            ) from None
        if response.status_code == 400:
            raise ValueError(f"the store refused the update: {response.text[:1000]}")
        if response.status_code in (401, 403):
            raise BackendError(
                f"the update service {url} answered {response.status_code}: set {ENV_USER} and "
                f"{ENV_PASSWORD} to credentials that may write"
            )
        if response.status_code not in (200, 204):
            raise BackendError(
                f"the update service {url} answered {response.status_code}: {response.text[:500]}"
            )
        self._graphs = None  # the graphs of Virtuoso's dataset may have changed

    def __len__(self) -> int:
        """Quads in the named graphs of data (the default graph only repeats them)."""
        return sum(graph_counts(self).values())

    # What the server reads besides queries, as OxigraphStore answers them.

    def graph_names(self) -> list[str]:
        """The named graphs, sorted."""
        # from the per-graph counts: Virtuoso 7.2 takes seconds over SELECT DISTINCT ?g
        # (9 s on the seeded data) and milliseconds over the grouped count
        return sorted(graph_counts(self))

    def has_graph(self, iri: str) -> bool:
        """Whether the store has the named graph ``iri``, an empty one too where it can tell.

        A store with a Graph Store (Oxigraph's server) is asked with a HEAD, which knows an
        empty graph made by a PUT (an ASK over its triples answered 404 for it); otherwise
        whether the graph holds anything.
        """
        checked = checked_iri(iri)
        if self.backend.store_url and self.kind != "virtuoso":
            try:
                # Connection: close, because Oxigraph's server sends a body with a 404 to a HEAD,
                # which would be read as the start of the next answer on a kept-alive connection
                response = self._http.head(
                    self.backend.store_url,
                    params={"graph": checked},
                    headers={"Connection": "close"},
                )
            except httpx.HTTPError as exc:
                raise BackendError(
                    f"the backend {self.backend.store_url} cannot be reached: {exc}"
                ) from None
            if response.status_code in (200, 404):
                return response.status_code == 200
        # asked of the whole store: Virtuoso, sent a dataset of named graphs, answered true
        # for a graph just dropped
        ask = f"ASK {{ GRAPH <{checked}> {{ ?s ?p ?o }} }}"
        return bool(self.query(ask, None, True).boolean)

    def _ntriples(self, where: str, whole_store: bool = False) -> bytes:
        text = with_prologue(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ {where} }}")
        response = self._post({"query": text}, "application/n-triples", whole_store)
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if media in ("application/n-triples", "text/plain"):
            if self._kind == "virtuoso":
                return restored_ntriples(response.content)
            return response.content
        # a store that answers in another RDF format: re-written as N-Triples lines
        fmt = ox.RdfFormat.from_media_type(media)
        if fmt is None:
            raise KzgraphError(f"the backend answered a CONSTRUCT in {media!r}")
        return (
            ox.serialize(ox.parse(response.content, format=fmt), format=ox.RdfFormat.N_TRIPLES)
            or b""
        )

    def graph_dump(self, iri: str | None, fmt: ox.RdfFormat) -> bytes:
        """One named graph (the default graph, the merge, for None) in ``fmt``."""
        where = "?s ?p ?o" if iri is None else f"GRAPH <{checked_iri(iri)}> {{ ?s ?p ?o }}"
        data = self._ntriples(where, whole_store=iri is not None)  # one graph, named outright
        if fmt == ox.RdfFormat.N_TRIPLES:
            return data
        triples = [
            ox.Triple(q.subject, q.predicate, q.object)
            for q in ox.parse(data, format=ox.RdfFormat.N_TRIPLES)
        ]
        return ox.serialize(triples, format=fmt, prefixes=dict(PREFIXES)) or b""

    def nquads(self) -> bytes:
        """Every named graph as N-Quads, one CONSTRUCT per graph."""
        out = bytearray()
        for graph in self.graph_names():
            name = f" <{graph}> .\n".encode()
            for line in self._ntriples(f"GRAPH <{graph}> {{ ?s ?p ?o }}", True).splitlines():
                line = line.strip()
                if line and not line.startswith(b"#"):
                    out += line.removesuffix(b".").rstrip() + name
        return bytes(out)


def graph_counts(store: RemoteStore) -> dict[str, int]:
    """Triples per named graph on the backend."""
    result = store.query(
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g", None, True
    )
    return {
        str(g): int(str(n)) for g, n in result.rows if isinstance(g, URIRef) and data_graph(str(g))
    }

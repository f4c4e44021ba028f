"""``kzgraph push``: put named graphs into a remote store, then check them there.

Two sources: the project's own graphs (``kzgraph push``) or a user's RDF files (``kzgraph push
FILE...``, read as ``kzgraph load`` reads them: any RDF format, gzipped or not, triples into
``--graph`` or ``graph/loaded/<file name>``). Each named graph is sent whole with a Graph Store
Protocol PUT (``?graph=IRI``), which replaces what the store held under that name, so running the
push again leaves the same store. The default graph is then re-derived on the store by one SPARQL
Update, as the merge of the named graphs, the layout :class:`~kzgraph.remote.stores.RemoteStore`
expects. The merge is made on the store rather than sent, so its blank nodes stay the named graphs'
own.

Who owns what is decided by the graph's name: the project push owns kzgraph's graph namespace
except ``graph/loaded/`` and ``graph/user/`` (graphs written through the endpoint), and drops the
graphs there that left the project; a file push never drops anything and refuses a graph in the
project's part of the namespace (the next project push would drop it). Graphs outside the
namespace are left alone. Finally the triples per graph are counted on the store and compared
with what was sent: a difference is an error, not a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyoxigraph as ox
from rdflib import Dataset, Graph, URIRef

from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import GRAPH, USER_GRAPHS
from kzgraph.remote.stores import Backend, RemoteStore, graph_counts
from kzgraph.remote.virtuoso import virtuoso_merge
from kzgraph.store.merge import MERGE

#: Where a user's files go (``kzgraph load``'s default graphs): never the project push's to drop.
LOADED = f"{GRAPH}loaded/"
Progress = Callable[[str, int], None]


def project_owned(graph: str) -> bool:
    """Whether the project push owns ``graph`` (and may drop it when it leaves the project).

    Users' files (``graph/loaded/``) and graphs written through the endpoint (``graph/user/``)
    are not the project's: a push never replaces or drops them.

    >>> project_owned("https://w3id.org/kzgraph/graph/000_aa"), project_owned(LOADED + "mine")
    (True, False)
    >>> project_owned(USER_GRAPHS + "posted-5f0c")
    False
    """
    return graph.startswith(GRAPH) and not graph.startswith((LOADED, USER_GRAPHS))


@dataclass
class PushReport:
    """What a push sent and what the store holds afterwards."""

    sent: dict[str, int] = field(default_factory=dict)
    found: dict[str, int] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        """One line per graph: triples sent and found."""
        lines = [f"{g}  sent {n}  found {self.found.get(g, 0)}" for g, n in self.sent.items()]
        lines += [f"{g}  dropped (no longer in the source)" for g in self.dropped]
        total = sum(self.sent.values())
        lines.append(f"{len(self.sent)} graphs, {total} triples, all counts match")
        return "\n".join(lines)


def named_graphs(ds: Dataset) -> dict[str, Graph]:
    """The dataset's non-empty named graphs by IRI (the default graph is derived, not sent)."""
    graphs: dict[str, Graph] = {}
    for graph in ds.graphs():
        if isinstance(graph.identifier, URIRef) and len(graph):
            graphs[str(graph.identifier)] = graph
    return dict(sorted(graphs.items()))


_TURTLE_START = b"@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .\n"


class _Sender:
    """Graph Store PUTs and SPARQL Updates to one backend, with errors that name the URL."""

    def __init__(self, backend: Backend) -> None:
        if not backend.store_url or not backend.update_url:
            raise KzgraphError(
                "push needs the backend's Graph Store and Update URLs: give --backend-store "
                "and --backend-update (an Oxigraph server's are found from its /query URL)"
            )
        self.backend = backend
        self.http = backend.client()

    def put(self, graph: str, data: bytes) -> None:
        """PUT ``data`` (N-Triples) as Turtle, which every Graph Store implementation takes.

        N-Triples is Turtle; Virtuoso's Graph Store does not know ``application/n-triples`` and
        guesses the type from the first bytes, which fails on some graphs ("unsupported type
        text/plain", openlink/virtuoso-opensource#1187 and #540). A leading ``@prefix`` line makes
        the body unmistakably Turtle for such a guess and changes nothing for a parser.
        """
        url = self.backend.store_url or ""
        try:
            response = self.http.put(
                url,
                params={"graph": graph},
                content=_TURTLE_START + data,
                headers={"Content-Type": "text/turtle; charset=utf-8"},
            )
        except httpx.HTTPError as exc:
            raise KzgraphError(
                f"the backend's Graph Store {url} cannot be reached: {exc}"
            ) from None
        if response.status_code not in (200, 201, 204):
            raise KzgraphError(
                f"PUT of <{graph}> to {url} answered {response.status_code}: {response.text[:500]}"
            )

    def update(self, text: str) -> None:
        url = self.backend.update_url or ""
        try:
            response = self.http.post(url, data={"update": text})
        except httpx.HTTPError as exc:
            raise KzgraphError(f"the update URL {url} cannot be reached: {exc}") from None
        if response.status_code not in (200, 204):
            raise KzgraphError(
                f"the update at {url} answered {response.status_code}: {response.text[:500]}"
            )


def push(ds: Dataset, backend: Backend, progress: Progress | None = None) -> PushReport:
    """Replace the backend's copies of ``ds``'s named graphs, re-derive its merge, verify."""
    sender = _Sender(backend)
    store = RemoteStore(backend)
    graphs = {
        iri: (graph.serialize(format="nt", encoding="utf-8"), len(graph))
        for iri, graph in named_graphs(ds).items()
    }
    stale = sorted({g for g in graph_counts(store) if project_owned(g)} - set(graphs))
    return _send(sender, store, graphs.items(), stale, progress)


def push_files(
    paths: list[Path],
    backend: Backend,
    graph: str | None = None,
    progress: Progress | None = None,
) -> PushReport:
    """Put a user's RDF files into the backend, graph by graph, then re-derive and verify.

    Every file is read before anything is sent, so a syntax error in the last file (named with
    its line) leaves the store as it was.
    """
    from kzgraph.store.bulk import default_graph_for, load_file

    sender = _Sender(backend)  # its URLs are checked before any file is read
    local = ox.Store()
    seen: set[str] = set()
    for path in paths:
        target = ox.NamedNode(graph) if graph else default_graph_for(path)
        load_file(local, path, target)
        names = {g.value for g in local.named_graphs() if isinstance(g, ox.NamedNode)}
        for name in sorted(names - seen):
            if project_owned(name):
                raise KzgraphError(
                    f"{path}: graph <{name}> is in kzgraph's own graph namespace, which "
                    "'kzgraph push' (without files) owns and would drop; use --graph, or "
                    f"graphs outside {GRAPH} or under {LOADED}"
                )
        seen |= names

    def graphs() -> Iterable[tuple[str, tuple[bytes, int]]]:
        for name in sorted(seen):
            triples = [
                ox.Triple(q.subject, q.predicate, q.object)
                for q in local.quads_for_pattern(None, None, None, ox.NamedNode(name))
            ]
            yield name, (ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b"", len(triples))

    return _send(sender, RemoteStore(backend), graphs(), [], progress)


def _send(
    sender: _Sender,
    store: RemoteStore,
    graphs: Iterable[tuple[str, tuple[bytes, int]]],
    stale: list[str],
    progress: Progress | None,
) -> PushReport:
    """PUT each graph, drop the stale ones, re-derive the merge, and compare the counts."""
    report = PushReport()
    for iri, (data, count) in graphs:
        sender.put(iri, data)
        report.sent[iri] = count
        if progress is not None:
            progress(iri, count)
    for iri in stale:
        sender.update(f"DROP SILENT GRAPH <{iri}>")
        report.dropped.append(iri)
    # Virtuoso's default graph cannot be written: its merge goes to a graph of its own
    sender.update(virtuoso_merge() if store.kind == "virtuoso" else MERGE)
    report.found = graph_counts(store)
    wrong = {
        g: (n, report.found.get(g, 0)) for g, n in report.sent.items() if report.found.get(g) != n
    }
    if wrong:
        detail = "; ".join(f"<{g}> sent {a}, found {b}" for g, (a, b) in sorted(wrong.items()))
        raise KzgraphError(f"the backend does not hold what was pushed: {detail}")
    return report

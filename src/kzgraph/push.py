"""``kzgraph push``: put the project's named graphs into a remote store, then check them there.

Each named graph is sent whole with a Graph Store Protocol PUT (``?graph=IRI``), which replaces
what the store held under that name, so running the push again leaves the same store. The
default graph is then re-derived on the store by one SPARQL Update, as the merge of the named
graphs, the layout :class:`~kzgraph.remote.RemoteStore` expects. The merge is made on the store
rather than sent, so its blank nodes stay the named graphs' own. A manifest graph
(:data:`MANIFEST`) lists the graphs the push owns; the next push drops those no longer in the
source and leaves everything else on the store alone. Finally the triples per graph are counted
on the store and compared with what was sent: a difference is an error, not a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from rdflib import Dataset, Graph, URIRef

from kzgraph.loading import KzgraphError
from kzgraph.namespaces import GRAPH
from kzgraph.remote import Backend, RemoteStore, graph_counts

MERGE = "DROP SILENT DEFAULT ;\nINSERT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }"


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
        url = self.backend.store_url or ""
        try:
            response = self.http.put(
                url,
                params={"graph": graph},
                content=data,
                headers={"Content-Type": "application/n-triples"},
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


def push(
    ds: Dataset, backend: Backend, progress: Callable[[str, int], None] | None = None
) -> PushReport:
    """Replace the backend's copies of ``ds``'s named graphs, re-derive its merge, verify."""
    sender = _Sender(backend)
    store = RemoteStore(backend)
    graphs = named_graphs(ds)
    owned = {g for g in graph_counts(store) if g.startswith(GRAPH)}
    report = PushReport()
    for iri, graph in graphs.items():
        data = graph.serialize(format="nt", encoding="utf-8")
        sender.put(iri, data)
        report.sent[iri] = len(graph)
        if progress is not None:
            progress(iri, len(graph))
    for iri in sorted(owned - set(graphs)):
        sender.update(f"DROP SILENT GRAPH <{iri}>")
        report.dropped.append(iri)
    sender.update(MERGE)
    report.found = graph_counts(store)
    wrong = {
        g: (n, report.found.get(g, 0)) for g, n in report.sent.items() if report.found.get(g) != n
    }
    if wrong:
        detail = "; ".join(f"<{g}> sent {a}, found {b}" for g, (a, b) in sorted(wrong.items()))
        raise KzgraphError(f"the backend does not hold what was pushed: {detail}")
    return report

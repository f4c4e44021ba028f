"""Named projections, each defined by one SPARQL query in ``queries/projections/NAME.rq``.

A projection query returns ``?source ?target`` and optionally ``?weight`` and ``?relation``; its
``#+ directed:`` header says whether edges have a direction. A maintainer adds a projection by
adding a file; the code that runs it does not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import networkx as nx
from rdflib import Literal

from kzgraph.core.errors import KzgraphError
from kzgraph.core.settings import Settings
from kzgraph.queries.catalogue import parse_query_file
from kzgraph.store.engines import Store

PROJECTIONS = (
    "company-project",
    "company-company",
    "company-region",
    "region-corridor",
    "investment-flow",
)


@dataclass(frozen=True)
class Projection:
    """One projection definition."""

    name: str
    summary: str
    query: str
    directed: bool
    bipartite: bool


def load_projections(settings: Settings | None = None) -> dict[str, Projection]:
    """Every ``queries/projections/*.rq``, by name."""
    settings = settings or Settings.discover()
    out = {}
    for path in sorted((settings.queries_dir / "projections").glob("*.rq")):
        saved = parse_query_file(Path(path))
        out[saved.name] = Projection(
            saved.name,
            saved.summary,
            saved.text,
            bool(saved.meta.get("directed", False)),
            bool(saved.meta.get("bipartite", False)),
        )
    return out


def node_attributes(store: Store, nodes: list[str]) -> dict[str, dict[str, str]]:
    """Label, most specific kzgraph type and IRI of ``nodes``, read from the store by SPARQL.

    What a projection needs of the full graph, without building it: at a million quads the full
    graph takes minutes and gigabytes, a projection's nodes a few queries.
    """
    from kzgraph.core.namespaces import curie

    out: dict[str, dict[str, str]] = {
        n: {"label": curie(n), "type": "Thing", "iri": n} for n in nodes
    }
    for start in range(0, len(nodes), 2000):
        values = " ".join(f"<{n}>" for n in nodes[start : start + 2000])
        for row in store.query(
            f"SELECT ?n ?l WHERE {{ VALUES ?n {{ {values} }} ?n rdfs:label ?l "
            'FILTER(LANG(?l) IN ("en", "")) }'
        ).dicts():
            node, label = str(row["n"]), str(row["l"])
            if out[node]["label"] == curie(node) or label < out[node]["label"]:
                out[node]["label"] = label  # the alphabetically first, as the full graph does
        for row in store.query(
            f"SELECT ?n ?t WHERE {{ VALUES ?n {{ {values} }} ?n a ?t "
            "FILTER(STRSTARTS(STR(?t), STR(kz:))) "
            "FILTER NOT EXISTS { ?n a ?sub . ?sub rdfs:subClassOf+ ?t FILTER(?sub != ?t) } }"
        ).dicts():
            current = out[str(row["n"])]["type"]
            name = str(row["t"]).rsplit("#", 1)[-1]
            out[str(row["n"])]["type"] = name if current == "Thing" else min(current, name)
    return out


def project(
    name: str,
    store: Store,
    full: nx.MultiDiGraph | None,
    settings: Settings | None = None,
) -> nx.Graph:
    """Run projection ``name``; nodes carry the full graph's attributes, or the store's."""
    projections = load_projections(settings)
    if name not in projections:
        raise KzgraphError(f"no projection {name!r}; choose one of {', '.join(projections)}")
    definition = projections[name]
    g: nx.Graph = nx.DiGraph() if definition.directed else nx.Graph()
    g.graph["name"] = name
    rows = store.query(definition.query).dicts()
    attributes = (
        node_attributes(store, sorted({str(r[k]) for r in rows for k in ("source", "target")}))
        if full is None
        else {}
    )
    for row in rows:
        source, target = str(row["source"]), str(row["target"])
        weight = row.get("weight")
        relation = row.get("relation")
        for node in (source, target):
            if node not in g:
                if full is None:
                    g.add_node(node, **attributes[node])
                else:
                    g.add_node(
                        node,
                        **(full.nodes[node] if node in full else {"label": node, "type": "Thing"}),
                    )
        g.add_edge(
            source,
            target,
            weight=float(weight.toPython()) if isinstance(weight, Literal) else 1.0,
            relation=str(relation) if relation is not None else "",
        )
    if definition.bipartite:
        for node in g:
            g.nodes[node]["bipartite"] = 0 if g.nodes[node].get("type") == "Company" else 1
    return g


#: The projections whose largest component says whether the network holds together.
CONNECTED = ("company-project", "investment-flow")


def largest_components(
    store: Store, settings: Settings | None = None, names: tuple[str, ...] = CONNECTED
) -> dict[str, tuple[int, int]]:
    """Each projection's node count and the size of its largest connected component.

    A network of disconnected pairs says nothing about brokers or communities; the share of
    nodes in the largest component is the first figure to read before any measure.
    """
    import networkx as nx

    out = {}
    for name in names:
        g = project(name, store, None, settings)
        undirected = g.to_undirected() if g.is_directed() else g
        sizes = [len(c) for c in nx.connected_components(undirected)]
        out[name] = (g.number_of_nodes(), max(sizes, default=0))
    return out

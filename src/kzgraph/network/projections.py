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

from kzgraph.catalogue import parse_query_file
from kzgraph.loading import KzgraphError
from kzgraph.settings import Settings
from kzgraph.store import OxigraphStore, RdflibStore

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


def project(
    name: str,
    store: OxigraphStore | RdflibStore,
    full: nx.MultiDiGraph,
    settings: Settings | None = None,
) -> nx.Graph:
    """Run projection ``name``; nodes carry the attributes of the full graph."""
    projections = load_projections(settings)
    if name not in projections:
        raise KzgraphError(f"no projection {name!r}; choose one of {', '.join(projections)}")
    definition = projections[name]
    g: nx.Graph = nx.DiGraph() if definition.directed else nx.Graph()
    g.graph["name"] = name
    for row in store.query(definition.query).dicts():
        source, target = str(row["source"]), str(row["target"])
        weight = row.get("weight")
        relation = row.get("relation")
        for node in (source, target):
            if node not in g:
                g.add_node(
                    node, **(full.nodes[node] if node in full else {"label": node, "type": "Thing"})
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

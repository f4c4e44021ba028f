"""Paths between entities, explained hop by hop in words."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import networkx as nx

from kzgraph.core.errors import KzgraphError


def _undirected(g: nx.MultiDiGraph) -> nx.MultiGraph:
    return g.to_undirected(as_view=False)


def explain_hop(g: nx.MultiDiGraph, a: str, b: str) -> str:
    """One hop in words, with the relation's direction as stated: ``A —developer→ B``."""
    forward = g.get_edge_data(a, b) or {}
    backward = g.get_edge_data(b, a) or {}
    la, lb = g.nodes[a]["label"], g.nodes[b]["label"]
    if forward:
        data = next(iter(forward.values()))
        return f"{la} —{data['label']}→ {lb}"
    data = next(iter(backward.values()))
    return f"{la} ←{data['label']}— {lb}"


def explain_path(g: nx.MultiDiGraph, path: list[str]) -> list[str]:
    """Every hop of ``path`` in words."""
    return [explain_hop(g, a, b) for a, b in pairwise(path)]


def shortest_paths(
    g: nx.MultiDiGraph, source: str, target: str, max_hops: int = 4, limit: int = 10
) -> list[list[str]]:
    """All shortest paths, or failing that up to ``limit`` simple paths within ``max_hops``."""
    und = _undirected(g)
    try:
        found = list(nx.all_shortest_paths(und, source, target))
    except nx.NetworkXNoPath:
        raise KzgraphError(
            f"no path between {g.nodes[source]['label']} and {g.nodes[target]['label']}"
        ) from None
    if len(found[0]) - 1 > max_hops:
        raise KzgraphError(
            f"the shortest path has {len(found[0]) - 1} hops, more than --max-hops {max_hops}"
        )
    return found[:limit]


def simple_paths(
    g: nx.MultiDiGraph, source: str, target: str, max_hops: int = 4, limit: int = 20
) -> list[list[str]]:
    """Simple paths up to ``max_hops`` long, shortest first."""
    und = nx.Graph(_undirected(g))
    paths = []
    for path in nx.all_simple_paths(und, source, target, cutoff=max_hops):
        paths.append(path)
        if len(paths) >= limit * 5:
            break
    return sorted(paths, key=lambda p: (len(p), p))[:limit]


def ego(g: nx.MultiDiGraph, center: str, depth: int = 1) -> nx.MultiDiGraph:
    """The entities within ``depth`` hops of ``center``, in either direction."""
    nodes: Any = nx.ego_graph(_undirected(g), center, radius=depth).nodes
    return g.subgraph(nodes).copy()

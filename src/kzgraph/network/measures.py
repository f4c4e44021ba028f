"""Network measures: centralities, components, communities, cores and brokerage.

Measures run on the undirected simple view of a graph (parallel relations merged, weights summed),
since "who is central" in these sources is about ties, not their direction.

>>> import networkx as nx
>>> star = nx.star_graph(3)
>>> rank(star, "degree")[0][0]
0
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import networkx as nx

from kzgraph.core.choices import NETWORK_MEASURES
from kzgraph.core.errors import KzgraphError


def simple_undirected(g: nx.Graph) -> nx.Graph:
    """Merge parallel and reciprocal edges; a merged edge's weight is the sum of the parts."""
    out = nx.Graph()
    out.add_nodes_from(g.nodes(data=True))
    for u, v, data in g.edges(data=True):
        if u == v:
            continue
        w = float(data.get("weight", 1.0))
        if out.has_edge(u, v):
            out[u][v]["weight"] += w
        else:
            out.add_edge(u, v, weight=w)
    return out


def _eigenvector(g: nx.Graph, weight: str | None) -> dict[Any, float]:
    """Eigenvector centrality per connected component, scaled by the component's share of nodes.

    On a disconnected graph the leading eigenvector is not unique (networkx raises
    AmbiguousSolution); the projections here are rarely connected, so each component gets its
    own vector, and a node in a bigger component weighs more than one in a pair.
    """
    scores = dict.fromkeys(g, 0.0)
    total = g.number_of_nodes()
    for component in nx.connected_components(g):
        if len(component) < 2:
            continue
        sub = g.subgraph(component)
        if len(component) == 2:
            local = dict.fromkeys(component, 2**-0.5)
        else:
            local = nx.eigenvector_centrality_numpy(sub, weight=weight)
        share = len(component) / total
        scores.update({n: abs(v) * share for n, v in local.items()})
    return scores


def _brokerage(g: nx.Graph, weight: str | None) -> dict[Any, float]:
    """Burt's effective size: how many non-redundant contacts a node bridges.

    Unweighted, it is degree - 2 x (ties among the node's contacts) / degree (Borgatti), and
    the ties among a node's contacts are its triangles: one pass instead of an ego network per
    node (16 s on a 20k-node projection with networkx's ``effective_size``, well under one here).
    """
    if weight is None:
        triangles = nx.triangles(g)
        return {n: (float(d) - 2.0 * triangles[n] / d if d else 0.0) for n, d in g.degree()}
    return {n: (v if v == v else 0.0) for n, v in nx.effective_size(g, weight=weight).items()}


#: Betweenness and closeness are exact (a breadth-first search from every node: nodes x (nodes +
#: edges) steps) while that costs at most this many steps, about 6 s in Python; above, they are
#: estimated from at most ``PIVOTS`` sampled sources. A limit on nodes alone let a 1,941-node,
#: 2,668-edge projection take 16 s exactly, longer than the estimate on a graph ten times bigger.
#: The seed is fixed, so an estimate is repeatable; the README gives its error against exact.
EXACT_STEPS = 2_500_000
#: The same limit for betweenness, which igraph computes in C: 9M steps take 0.14 s there, 944M
#: (the 1M-quad investment-flow projection) 33 s; so exact up to about 2-4 s.
EXACT_STEPS_IN_C = 100_000_000
PIVOTS = 512
#: Breadth-first steps (pivots x (nodes + edges)) an estimate may spend, the same 6 s.
#: Bigger graphs get fewer pivots, never fewer than MIN_PIVOTS.
BUDGET = 2_500_000
MIN_PIVOTS = 64
SEED = 7


def pivots(g: nx.Graph) -> int:
    """How many sampled sources an estimate on ``g`` uses."""
    size = g.number_of_nodes() + g.number_of_edges()
    return int(min(PIVOTS, max(MIN_PIVOTS, BUDGET // max(size, 1)), g.number_of_nodes()))


def exact_steps(g: nx.Graph) -> int:
    """Breadth-first steps of exact betweenness or closeness on ``g``.

    A search from every node covers only its component, so each component costs its nodes x
    (its nodes + its edges): a graph of many small parts is cheap however many nodes it has.

    >>> path = nx.path_graph(3)
    >>> exact_steps(path), exact_steps(nx.disjoint_union(path, path))
    (15, 30)
    """
    components = (
        nx.weakly_connected_components(g) if g.is_directed() else nx.connected_components(g)
    )
    total = 0
    for nodes in components:
        edges = sum(d for _, d in g.degree(nodes)) // 2  # each edge counted from both ends
        total += len(nodes) * (len(nodes) + edges)
    return total


def estimated(g: nx.Graph) -> bool:
    """True when exact closeness on ``g`` would cost over :data:`EXACT_STEPS`.

    >>> estimated(nx.path_graph(1000)), estimated(nx.path_graph(2000))
    (False, True)
    """
    return exact_steps(g) > EXACT_STEPS


def betweenness_estimated(g: nx.Graph) -> bool:
    """True when exact betweenness on ``g`` would cost over :data:`EXACT_STEPS_IN_C`."""
    return exact_steps(g) > EXACT_STEPS_IN_C


def _betweenness(g: nx.Graph, weight: str | None) -> dict[Any, float]:
    """Brandes betweenness, normalised; above the limit, Brandes-Pich from sampled sources.

    Computed by igraph (C), the values and the sampled sources exactly networkx's own
    (``betweenness_centrality(g, k, normalized=True, seed=SEED)``, tested to 1e-12), 60 times
    faster: 0.17 s instead of 9.9 s for 64 sources on a 20k-node projection at 1M quads.
    networkx adds up each source's dependencies over ordered pairs and divides by
    (sources x (n - 2)), by one source fewer for a node that is itself a source; igraph counts
    an undirected pair once, hence the factor 2.
    """
    import igraph

    nodes = list(g)
    n = len(nodes)
    if n <= 2:
        return dict.fromkeys(nodes, 0.0)
    index = {u: i for i, u in enumerate(nodes)}
    graph = igraph.Graph(n=n, edges=[(index[u], index[v]) for u, v in g.edges()])
    if not betweenness_estimated(g):
        raw = graph.betweenness(directed=False)
        return {u: 2.0 * raw[i] / ((n - 1) * (n - 2)) for i, u in enumerate(nodes)}
    k = pivots(g)
    sources = random.Random(SEED).sample(nodes, k)  # networkx's own draw for seed=SEED
    raw = graph.betweenness(directed=False, sources=[index[u] for u in sources])
    chosen = set(sources)
    return {
        u: 2.0 * raw[i] / ((k - 1 if u in chosen else k) * (n - 2)) for i, u in enumerate(nodes)
    }


def _closeness(g: nx.Graph, weight: str | None) -> dict[Any, float]:
    """Closeness as networkx computes it (Wasserman-Faust scaled on disconnected graphs).

    Above the limit, a big component's distance sums are estimated from breadth-first searches
    out of sampled pivots in it (Eppstein-Wang: the sum of distances from v is about r/k times
    the sum of its distances to k random nodes of its component of r nodes); small components
    are computed exactly, since their searches are cheap.
    """
    if not estimated(g):
        return dict(nx.closeness_centrality(g))
    n = g.number_of_nodes()
    k = pivots(g)
    rng = random.Random(SEED)
    scores = dict.fromkeys(g, 0.0)
    for component in nx.connected_components(g):
        r = len(component)
        if r < 2:
            continue
        # a search never leaves its component, so it runs on g itself: a subgraph view checks
        # every neighbour against the component (2x slower on 20k nodes in 6k components)
        if r <= k:
            sums = {u: sum(nx.single_source_shortest_path_length(g, u).values()) for u in component}
        else:
            sums = dict.fromkeys(component, 0.0)
            for pivot in rng.sample(sorted(component, key=str), k):
                for u, d in nx.single_source_shortest_path_length(g, pivot).items():
                    sums[u] += d
            sums = {u: s * r / k for u, s in sums.items()}
        for u, total in sums.items():
            scores[u] = ((r - 1) / total) * ((r - 1) / (n - 1)) if total > 0 else 0.0
    return scores


MEASURES: dict[str, Callable[[nx.Graph, str | None], dict[Any, float]]] = {
    "degree": lambda g, w: dict(g.degree(weight=w)),
    "betweenness": _betweenness,
    "closeness": _closeness,
    "eigenvector": _eigenvector,
    "pagerank": lambda g, w: (
        nx.pagerank(g, weight=w) if g.number_of_edges() else dict.fromkeys(g, 0.0)
    ),
    "kcore": lambda g, w: {n: float(c) for n, c in nx.core_number(g).items()},
    "brokerage": _brokerage,
}
assert tuple(MEASURES) == NETWORK_MEASURES, "kzgraph.core.choices.NETWORK_MEASURES is out of date"


def compute(g: nx.Graph, measure: str, weighted: bool = False) -> dict[Any, float]:
    """One measure for every node of ``g``."""
    if measure not in MEASURES:
        raise KzgraphError(f"unknown measure {measure!r}; choose one of {', '.join(MEASURES)}")
    simple = simple_undirected(g)
    return MEASURES[measure](simple, "weight" if weighted else None)


def rank(
    g: nx.Graph,
    measure: str,
    node_type: str | None = None,
    top: int | None = None,
    weighted: bool = False,
) -> list[tuple[Any, float]]:
    """Nodes by ``measure``, highest first, optionally only those of ``node_type``."""
    scores = compute(g, measure, weighted)
    rows = [
        (n, s)
        for n, s in scores.items()
        if node_type is None or g.nodes[n].get("type") == node_type
    ]
    rows.sort(key=lambda r: (-r[1], str(r[0])))
    return rows[:top] if top else rows


def communities(g: nx.Graph, seed: int = 7) -> list[set[Any]]:
    """Louvain communities of the undirected view, largest first (seeded: repeatable)."""
    simple = simple_undirected(g)
    found = nx.community.louvain_communities(simple, weight="weight", seed=seed)
    return sorted((set(c) for c in found), key=lambda c: (-len(c), sorted(map(str, c))))


def summary(g: nx.Graph) -> dict[str, Any]:
    """Size, density, components and the node and edge counts per type."""
    simple = simple_undirected(g)
    components = list(nx.connected_components(simple))
    types: dict[str, int] = {}
    for _, data in g.nodes(data=True):
        types[str(data.get("type", "Thing"))] = types.get(str(data.get("type", "Thing")), 0) + 1
    relations: dict[str, int] = {}
    for *_e, data in g.edges(data=True):
        key = str(data.get("predicate") or data.get("relation") or "edge")
        relations[key] = relations.get(key, 0) + 1
    return {
        "nodes": g.number_of_nodes(),
        "edges": g.number_of_edges(),
        "density": nx.density(simple),
        "components": len(components),
        "largest_component": max((len(c) for c in components), default=0),
        "node_types": dict(sorted(types.items(), key=lambda kv: -kv[1])),
        "edge_types": dict(sorted(relations.items(), key=lambda kv: -kv[1])),
    }

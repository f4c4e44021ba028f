"""Network analysis that scales: projections straight from a store, estimated measures on big
graphs, and ``kzgraph network --store``."""

from __future__ import annotations

import subprocess
import sys

import networkx as nx
import pytest
from scipy.stats import spearmanr

from kzgraph.network import measures
from kzgraph.network.projections import PROJECTIONS, project


@pytest.fixture(scope="module")
def store(stores):
    return stores["oxigraph"]


@pytest.fixture(scope="module")
def full(dataset):
    from kzgraph.network import full_graph

    return full_graph(dataset)


@pytest.mark.parametrize("name", PROJECTIONS)
def test_projection_from_the_store_alone_matches_the_full_graph(store, full, name):
    # A big store's projections get node labels and types by SPARQL, not from the full graph.
    from_full = project(name, store, full)
    from_store = project(name, store, None)
    assert set(from_full.edges) == set(from_store.edges)
    for node in from_full:
        assert from_store.nodes[node]["label"] == from_full.nodes[node]["label"], node
        assert from_store.nodes[node]["type"] == from_full.nodes[node]["type"], node


def test_estimates_equal_exact_values_when_every_node_is_a_pivot(monkeypatch):
    g = nx.barabasi_albert_graph(300, 2, seed=3)
    g.add_edges_from([(1000, 1001), (1001, 1002)])  # a second, small component
    exact_b = measures.compute(g, "betweenness")
    exact_c = measures.compute(g, "closeness")
    monkeypatch.setattr(measures, "EXACT_STEPS", 10)
    monkeypatch.setattr(measures, "EXACT_STEPS_IN_C", 10)
    monkeypatch.setattr(measures, "PIVOTS", g.number_of_nodes())
    monkeypatch.setattr(measures, "BUDGET", 10**12)
    assert measures.estimated(g) and measures.betweenness_estimated(g)
    est_b = measures.compute(g, "betweenness")
    est_c = measures.compute(g, "closeness")
    assert est_b == pytest.approx(exact_b)
    assert est_c == pytest.approx(exact_c)


def test_sampled_estimates_rank_nodes_like_exact_ones(monkeypatch):
    # The documented error of the estimate: with 200 pivots on a 3,000-node scale-free graph the
    # ranking agrees closely with the exact one, and the top nodes are the same.
    g = nx.barabasi_albert_graph(3000, 2, seed=5)
    exact = {m: measures.compute(g, m) for m in ("betweenness", "closeness")}
    monkeypatch.setattr(measures, "EXACT_STEPS", 100)
    monkeypatch.setattr(measures, "EXACT_STEPS_IN_C", 100)
    monkeypatch.setattr(measures, "PIVOTS", 200)
    monkeypatch.setattr(measures, "BUDGET", 10**12)
    for m, truth in exact.items():
        estimate = measures.compute(g, m)
        nodes = sorted(g)
        rho = spearmanr([truth[n] for n in nodes], [estimate[n] for n in nodes]).statistic
        assert rho > 0.9, (m, rho)
        top = {n for n, _ in sorted(truth.items(), key=lambda kv: -kv[1])[:10]}
        top_est = {n for n, _ in sorted(estimate.items(), key=lambda kv: -kv[1])[:10]}
        assert len(top & top_est) >= 8, m


def test_network_cli_on_a_store(tmp_path, settings):
    store_dir = tmp_path / "store"
    kz = [sys.executable, "-m", "kzgraph"]
    subprocess.run([*kz, "build", "--store", str(store_dir)], check=True, capture_output=True)
    args = ["rank", "--projection", "company-region", "--measure", "degree", "--top", "3"]
    from_files = subprocess.run([*kz, "network", *args], capture_output=True, text=True)
    from_store = subprocess.run(
        [*kz, "network", "--store", str(store_dir), *args], capture_output=True, text=True
    )
    assert from_store.returncode == 0, from_store.stderr
    assert from_store.stdout == from_files.stdout
    full = subprocess.run(
        [*kz, "network", "--store", str(store_dir), "rank"], capture_output=True, text=True
    )
    assert full.returncode == 2 and "pass --projection" in full.stderr


def test_brokerage_by_triangles_equals_networkx_effective_size():
    g = nx.barabasi_albert_graph(400, 3, seed=11)
    g.add_node("alone")
    expected = {n: (v if v == v else 0.0) for n, v in nx.effective_size(g).items()}
    assert measures.compute(g, "brokerage") == pytest.approx(expected)


def test_fewer_pivots_on_bigger_graphs():
    small, big = nx.path_graph(2000), nx.path_graph(200_000)
    assert measures.pivots(small) == measures.PIVOTS
    assert measures.MIN_PIVOTS <= measures.pivots(big) < measures.PIVOTS


def test_exact_measures_only_where_they_are_cheap():
    """Exact betweenness costs nodes x (nodes + edges) steps, so edges count as well as nodes."""
    assert not measures.estimated(nx.path_graph(1000))  # 1000 x 1999 steps
    assert measures.estimated(nx.path_graph(2000))  # 2000 x 3999 steps
    dense = nx.complete_graph(300)  # 300 nodes but 44,850 edges: 13.5M steps
    assert measures.estimated(dense)
    # 4,000 nodes in 2,000 pairs: a search from each node sees only its pair
    assert not measures.estimated(nx.disjoint_union_all([nx.path_graph(2)] * 2000))


def test_betweenness_in_c_gives_networkx_own_values_exact_and_sampled(monkeypatch):
    """igraph computes it; the values, and the sources drawn, must be networkx's own."""
    g = nx.relabel_nodes(nx.barabasi_albert_graph(400, 2, seed=9), lambda i: f"n{i}")
    g.add_edges_from([("x", "y"), ("y", "z")])  # a second component
    g.add_node("alone")
    assert measures.compute(g, "betweenness") == pytest.approx(
        nx.betweenness_centrality(g, normalized=True), abs=1e-12
    )
    monkeypatch.setattr(measures, "EXACT_STEPS_IN_C", 10)  # sampled from here on
    monkeypatch.setattr(measures, "PIVOTS", 50)
    k = measures.pivots(g)
    assert 1 < k < g.number_of_nodes()
    expected = nx.betweenness_centrality(g, k=k, normalized=True, seed=measures.SEED)
    assert measures.compute(g, "betweenness") == pytest.approx(expected, abs=1e-12)

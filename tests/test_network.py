"""Networks from the seeded graph: projections, measures, paths, exports, pictures, HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import httpx
import networkx as nx
import pytest
from rdflib import Dataset, URIRef

from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import KZ, entity
from kzgraph.network import full_graph, project, rank, resolve
from kzgraph.network.draw import draw
from kzgraph.network.exports import export
from kzgraph.network.measures import communities, compute, summary
from kzgraph.network.paths import ego, explain_path, shortest_paths
from kzgraph.network.rdf import DERIVED, measures_graph

from .server_process import Server

TBEA = str(entity("company", "tbea"))


@pytest.fixture(scope="module")
def full(dataset):
    return full_graph(dataset)


@pytest.fixture(scope="module")
def store(stores):
    return stores["oxigraph"]


# ---- the full graph and projections ------------------------------------------------------


def test_full_graph_keeps_entities_not_literals_or_reference_noise(full, dataset):
    assert all(str(n).startswith("https://w3id.org/kzgraph/id/") for n in full)
    assert not any("/source/" in n for n in full)
    assert str(entity("currency", "USD")) not in full  # amounts are attributes, not nodes
    assert str(entity("country", "FR")) not in full  # unused reference data stays out
    fufeng = full.nodes[str(entity("project", "fufeng-corn-processing-plant"))]
    assert fufeng["type"] == "AgriculturalProject"
    assert fufeng["amounts"] == "800000000.0 USD"  # "plans to invest $800 million"
    edge = full.get_edge_data(
        str(entity("project", "fufeng-corn-processing-plant")), str(entity("region", "zhambyl"))
    )
    assert edge["kz:region"]["sources"] == "002_97890c3330489398"


def test_company_project_projection(store, full, union):
    g = project("company-project", store, full)
    roles = {
        (str(f), str(p))
        for role in (KZ.investor, KZ.developer, KZ.partner)
        for p, f in union.subject_objects(role)
    }
    assert g.number_of_edges() == len(roles)
    # "A 1000 MW power plant and a transformer plant ... a 1,320 MW coal-fired thermal power plant";
    # "The total investment for the energy infrastructure is projected at $3.7 billion."
    assert g.degree(TBEA) == 4
    assert nx.is_bipartite(g)


def test_company_company_projection_weights(store, full):
    g = project("company-company", store, full)
    fufeng, hengwang = (
        str(entity("company", "fufeng-group")),
        str(entity("company", "fujian-hengwang-investment")),
    )
    # Both build in "the Zhambyl region" (002 and 003): they share that region.
    assert g.has_edge(fufeng, hengwang)
    assert "region" in g[fufeng][hengwang]["relation"]
    assert all(d["weight"] >= 1 for *_e, d in g.edges(data=True))


def test_company_region_projection(store, full):
    g = project("company-region", store, full)
    zhambyl = str(entity("region", "zhambyl"))
    assert set(g[zhambyl]) == {
        str(entity("company", "fufeng-group")),
        str(entity("company", "fujian-hengwang-investment")),
    }
    assert g[TBEA][str(entity("region", "almaty-region"))]["weight"] == 4


def test_investment_flow_is_directed_country_firm_project_region(store, full):
    g = project("investment-flow", store, full)
    assert g.is_directed()
    cn = str(entity("country", "CN"))
    route = [
        cn,
        str(entity("company", "fufeng-group")),
        str(entity("project", "fufeng-corn-processing-plant")),
        str(entity("region", "zhambyl")),
    ]
    assert nx.is_path(g, route)


def test_unknown_projection(store, full):
    with pytest.raises(KzgraphError, match="no projection 'nope'"):
        project("nope", store, full)


# ---- measures on small known cases --------------------------------------------------------


def test_measures_on_known_shapes():
    star = nx.star_graph(4)
    assert rank(star, "degree")[0] == (0, 4)
    assert rank(star, "betweenness")[0][0] == 0
    line = nx.path_graph(5)
    assert rank(line, "closeness")[0][0] == 2
    barbell = nx.barbell_graph(4, 0)  # two 4-cliques joined by the edge 3–4
    assert {n for n, _ in rank(barbell, "brokerage", top=2)} == {3, 4}
    assert len(communities(barbell)) == 2
    assert compute(barbell, "kcore")[0] == 3
    pr = compute(star, "pagerank")
    assert abs(sum(pr.values()) - 1) < 1e-9


def test_summary_counts(full):
    facts = summary(full)
    assert facts["nodes"] == full.number_of_nodes()
    assert facts["node_types"]["Company"] == 31


# ---- paths and ego networks ------------------------------------------------------------------


def test_path_explanation(full, seed_texts):
    # "plans also underway for a 1,320 MW coal-fired thermal power plant to supply heat to Alatau city"
    assert "to supply heat to Alatau city" in seed_texts["002_97890c3330489398"]
    found = shortest_paths(full, TBEA, str(entity("place", "alatau-city")))
    assert explain_path(full, found[0]) == [
        "TBEA Company Limited ←developer— TBEA 1,320 MW coal-fired thermal power plant",
        "TBEA 1,320 MW coal-fired thermal power plant —supplies to→ Alatau City",
    ]


def test_resolve_labels_and_ambiguity(full):
    assert resolve(full, "company:tbea") == TBEA
    assert resolve(full, "TBEA Company Limited") == TBEA
    # an exact alternative label wins, in any case (issue 11: "TBEA" is company:tbea's altLabel)
    assert resolve(full, "TBEA") == TBEA
    assert resolve(full, "tbea") == TBEA
    # the ISO 3166-2 transliteration of a region is an alternative label too
    assert resolve(full, "Zhambyl oblysy") == str(entity("region", "zhambyl"))
    # a company's exact label beats an agreement whose label contains it
    csce = resolve(full, "China State Construction Engineering Corporation")
    assert full.nodes[csce]["type"] == "Company"
    # part of a name is never picked silently, even when only one entity contains it
    with pytest.raises(KzgraphError, match="did you mean") as info:
        resolve(full, "TBEA energy")
    assert "project:" in str(info.value)
    with pytest.raises(KzgraphError, match="no entity matches"):
        resolve(full, "Atlantis")


def test_ego_network(full):
    sub = ego(full, str(entity("region", "zhambyl")), 1)
    assert str(entity("project", "fujian-hengwang-steel-plant")) in sub


# ---- exports and pictures ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def company_project(store, full):
    return project("company-project", store, full)


def test_graphml_round_trip_with_two_readers(company_project, tmp_path):
    import igraph

    path = tmp_path / "cp.graphml"
    export(company_project, "graphml", path)
    back = nx.read_graphml(path)
    assert set(back.nodes) == set(company_project.nodes)
    assert back.number_of_edges() == company_project.number_of_edges()
    other = igraph.Graph.Read_GraphML(str(path))
    assert other.vcount() == company_project.number_of_nodes()
    assert other.ecount() == company_project.number_of_edges()


def test_gexf_round_trip_with_two_readers(company_project, tmp_path):
    path = tmp_path / "cp.gexf"
    export(company_project, "gexf", path)
    back = nx.read_gexf(path)
    assert back.number_of_nodes() == company_project.number_of_nodes()
    assert back.number_of_edges() == company_project.number_of_edges()
    root = ET.parse(path).getroot()  # a plain XML reader, as Gephi's importer sees it
    ns = {"g": root.tag.split("}")[0].strip("{")}
    assert len(root.findall(".//g:node", ns)) == company_project.number_of_nodes()
    assert len(root.findall(".//g:edge", ns)) == company_project.number_of_edges()


def test_cytoscape_and_csv(company_project, tmp_path):
    path = tmp_path / "cp.json"
    export(company_project, "cytoscape-json", path)
    back = nx.cytoscape_graph(json.loads(path.read_text()))
    assert back.number_of_edges() == company_project.number_of_edges()
    nodes_csv, edges_csv = export(company_project, "csv", tmp_path / "cp.csv")
    assert len(nodes_csv.read_text().splitlines()) == company_project.number_of_nodes() + 1
    assert len(edges_csv.read_text().splitlines()) == company_project.number_of_edges() + 1


def test_pictures(company_project, tmp_path):
    png, svg, html = tmp_path / "cp.png", tmp_path / "cp.svg", tmp_path / "cp.html"
    draw(company_project, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    draw(company_project, svg)
    assert "<svg" in svg.read_text()
    draw(company_project, html)
    page = html.read_text()
    assert "vis.Network" in page and "TBEA Company Limited" in page
    assert "<script src=" not in page  # self-contained: no CDN
    with pytest.raises(KzgraphError, match=r"\.png, \.svg or \.html"):
        draw(company_project, tmp_path / "cp.jpg")


def test_measures_back_into_rdf(company_project):
    ds = measures_graph(company_project, ["degree", "pagerank"], "company-project")
    g = ds.graph(DERIVED)
    scores = list(g.objects(URIRef(TBEA), KZ.networkScore))
    assert len(scores) == 2
    text = ds.serialize(format="trig")
    assert "derived/network-measures" in text
    back = Dataset()
    back.parse(data=text, format="trig")
    assert len(back.graph(DERIVED)) == len(g)


# ---- CLI and HTTP ---------------------------------------------------------------------------------


def kz(*args):
    return subprocess.run(
        [sys.executable, "-m", "kzgraph", "network", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_walkthrough(tmp_path):
    assert (
        "TBEA Company Limited"
        in kz("rank", "--measure", "pagerank", "--type", "Company", "--top", "3").stdout
    )
    path = kz("path", "company:tbea", "Alatau City")
    assert "—supplies to→ Alatau City" in path.stdout
    by_alt_label = kz("path", "TBEA", "Alatau City")  # "TBEA" is company:tbea's altLabel
    assert by_alt_label.returncode == 0 and "—supplies to→ Alatau City" in by_alt_label.stdout
    partial = kz("path", "TBEA energy", "Alatau City")
    assert (
        partial.returncode == 2
        and "did you mean" in partial.stderr
        and "Traceback" not in partial.stderr
    )
    assert "community 1" in kz("communities", "--projection", "company-company").stdout
    assert (
        kz(
            "export",
            "--projection",
            "company-region",
            "--format",
            "gexf",
            "-o",
            str(tmp_path / "x.gexf"),
        ).returncode
        == 0
    )
    assert kz("draw", "--focus", "region:zhambyl", "-o", str(tmp_path / "z.png")).returncode == 0
    assert (tmp_path / "z.png").stat().st_size > 10_000
    assert "nodes" in kz("summary", "--projection", "company-company").stdout


def test_http_network_api():
    server = Server("--workers", "1", "--no-validate")
    try:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            ranked = c.get(
                "/api/network/rank", params={"measure": "degree", "type": "Company", "top": "3"}
            ).json()
            assert len(ranked) == 3 and all(r["type"] == "Company" for r in ranked)
            explained = c.get(
                "/api/network/path", params={"from": "company:tbea", "to": "place:alatau-city"}
            ).json()
            assert explained[0]["explanation"][-1].endswith("—supplies to→ Alatau City")
            assert (
                c.get(
                    "/api/network/path", params={"from": "TBEA e", "to": "Alatau City"}
                ).status_code
                == 400
            )
            ego_data = c.get("/api/network/ego", params={"node": "region:zhambyl"}).json()
            assert ego_data["center"] == str(entity("region", "zhambyl"))
            cyto = c.get("/api/network/projection/company-region").json()
            assert "elements" in cyto
            assert len(c.get("/api/network/communities").json()) >= 2
            assert "vis-network" in c.get("/network", params={"focus": "region:zhambyl"}).text
            page = c.get("/id/region/zhambyl", headers={"Accept": "text/html"}).text
            assert "/network?focus=" in page
    finally:
        server.stop()


def test_drawn_pictures_keep_whole_names(tmp_path, dataset):
    from kzgraph.network import graph as netgraph
    from kzgraph.network.draw import _wrap, draw_static

    g = netgraph.full_graph(dataset)
    ego = nx.ego_graph(g.to_undirected(), "https://w3id.org/kzgraph/id/company/tbea", radius=1)
    out = tmp_path / "tbea.svg"
    draw_static(ego, out)
    svg = out.read_text()
    longest = max((str(ego.nodes[n].get("label", n)) for n in ego), key=len)
    for line in _wrap(longest).split("\n"):
        assert line.replace("&", "&amp;") in svg, line

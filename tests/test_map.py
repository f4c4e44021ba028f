"""The map: region outlines as GeoSPARQL reference data, the GeoJSON API, and the page."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from rdflib import Literal, URIRef

from kzgraph.graph.geometry import GEO, write_geometry

from .server_process import Server

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_outlines_are_what_the_package_gives(tmp_path):
    """graph/reference/geometry-kz.trig is generated, never edited: regenerate and compare."""
    copy = tmp_path / "kzgraph"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(".venv", ".git", "node_modules", "tests", ".kzgraph-cache"),
    )
    (copy / "web" / "node_modules").symlink_to(ROOT / "web" / "node_modules")
    written = write_geometry(copy)
    assert written.read_text() == (ROOT / "graph" / "reference" / "geometry-kz.trig").read_text()


def test_every_region_has_an_outline_and_a_centroid(stores):
    store = stores["oxigraph"]
    rows = store.query(
        """SELECT ?code ?outline ?centre WHERE {
             ?r kz:iso3166_2Code ?code ; geo:hasGeometry/geo:asWKT ?outline ;
                geo:hasCentroid/geo:asWKT ?centre }"""
    ).rows
    codes = {str(code) for code, _o, _c in rows}
    all_codes = {str(c) for (c,) in store.query("SELECT ?c WHERE { ?r kz:iso3166_2Code ?c }").rows}
    assert codes == all_codes and len(codes) == 20
    for _code, outline, centre in rows:
        assert isinstance(outline, Literal) and outline.datatype == GEO.wktLiteral
        assert str(outline).startswith(("POLYGON((", "MULTIPOLYGON(((")) and str(centre).startswith(
            "POINT("
        )
    # the centroid of Zhambyl Region lies in southern Kazakhstan (roughly 69–75 E, 42–46 N)
    (point,) = store.query("SELECT ?w WHERE { region:zhambyl geo:hasCentroid/geo:asWKT ?w }").rows[
        0
    ]
    lon, lat = (float(v) for v in str(point)[6:-1].split())
    assert 69 < lon < 75 and 42 < lat < 46
    source = store.query(
        "SELECT ?s WHERE { GRAPH kzg:geometry-kz { kzg:geometry-kz prov:wasDerivedFrom ?s } }"
    ).rows
    assert source and isinstance(source[0][0], URIRef)
    described = store.query(
        f"ASK {{ GRAPH kzg:geometry-kz {{ <{source[0][0]}> a kz:SourceDocument ; dcterms:title ?t ; dcterms:license ?l }} }}"
    ).boolean
    assert described  # described like the ISO sources, licence too


@pytest.fixture(scope="module")
def server():
    s = Server("--workers", "1", "--no-validate")
    yield s
    s.stop()


def test_map_api_places_projects_and_totals_in_regions(server, seed_texts):
    data = httpx.get(server.url + "api/map", timeout=60).json()
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 20
    by_label = {f["properties"]["label"]: f["properties"] for f in data["features"]}
    zhambyl = by_label["Zhambyl Region"]
    projects = {p["label"]: p for p in zhambyl["projects"]}
    fufeng = projects["Fufeng Group corn processing plant in Zhambyl Region"]
    assert [a["statedAs"] for a in fufeng["amounts"]] == ["$800 million"]
    assert any("$800 million" in text for text in seed_texts.values())
    assert zhambyl["totals"] == {"USD": "800,000,000"}
    # a hedged figure is listed beside the total, never added to it
    almaty = by_label["Almaty Region"]
    assert any("projected at $3.7 billion" in h for h in almaty["hedged"])
    assert "USD" not in almaty["totals"]
    assert zhambyl["href"] == "/id/region/zhambyl"


def test_geometries_through_sparql(server):
    r = httpx.get(
        server.url + "sparql",
        params={"query": "SELECT ?w WHERE { region:atyrau geo:hasGeometry/geo:asWKT ?w }"},
        headers={"Accept": "application/sparql-results+json"},
        timeout=60,
    )
    binding = r.json()["results"]["bindings"][0]["w"]
    assert binding["datatype"] == str(GEO.wktLiteral)


def test_region_page_shows_a_short_outline(server):
    html = httpx.get(server.url + "id/region/zhambyl", headers={"Accept": "text/html"}).text
    assert "characters" in html and len(html) < 200_000

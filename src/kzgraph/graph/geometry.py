"""Outlines of Kazakhstan's first-level divisions as GeoSPARQL geometries, from a registry package.

The outlines come from ``@amcharts/amcharts5-geodata`` (npm, ``kazakhstan2023Low``), which
keys each of the 20 current divisions by its ISO 3166-2 code, so they join the ISO 3166-2:KZ
reference graph on ``kz:iso3166_2Code`` without any name matching. Each region gets a
``geo:hasGeometry`` (the outline as a ``geo:wktLiteral`` in CRS84, longitude first) and a
``geo:hasCentroid`` (the area-weighted centroid of its largest ring, computed here, for markers).
Everything sits in the named graph ``kzg:geometry-kz`` with its source described, like the ISO
reference data. ``scripts/generate_geometry.py`` writes ``graph/reference/geometry-kz.trig``.

>>> wkt_polygon([[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]])
'POLYGON((0 0, 1 0, 1 1, 0 0))'
>>> centroid([[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0], [0.0, 0.0]])
(1.0, 1.0)
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any

from rdflib import BNode, Dataset, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS

from kzgraph.core.namespaces import GRAPH, KZ, bind_prefixes, entity

GEO = Namespace("http://www.opengis.net/ont/geosparql#")
PACKAGE = "@amcharts/amcharts5-geodata"
FILE = "json/kazakhstan2023Low.json"
KEY = "geometry-kz"

Ring = list[list[float]]


def _number(x: float) -> str:
    text = f"{x:.4f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


def _ring(ring: Ring) -> str:
    return "(" + ", ".join(f"{_number(x)} {_number(y)}" for x, y in ring) + ")"


def wkt_polygon(rings: list[Ring]) -> str:
    """A GeoJSON polygon's rings as WKT."""
    return "POLYGON(" + ", ".join(_ring(r) for r in rings) + ")"


def wkt(geometry: dict[str, Any]) -> str:
    """A GeoJSON Polygon or MultiPolygon as WKT."""
    coords = geometry["coordinates"]
    if geometry["type"] == "Polygon":
        return wkt_polygon(coords)
    if geometry["type"] == "MultiPolygon":
        parts = ", ".join("(" + ", ".join(_ring(r) for r in poly) + ")" for poly in coords)
        return f"MULTIPOLYGON({parts})"
    raise ValueError(f"unsupported geometry type {geometry['type']!r}")


def _area(ring: Ring) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairwise(ring)) / 2


def centroid(ring: Ring) -> tuple[float, float]:
    """The area-weighted centroid of a closed ring (the shoelace formula)."""
    area = _area(ring)
    if area == 0:
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        return sum(xs) / len(xs), sum(ys) / len(ys)
    cx = sum((x0 + x1) * (x0 * y1 - x1 * y0) for (x0, y0), (x1, y1) in pairwise(ring))
    cy = sum((y0 + y1) * (x0 * y1 - x1 * y0) for (x0, y0), (x1, y1) in pairwise(ring))
    return round(cx / (6 * area), 4), round(cy / (6 * area), 4)


def _outer_rings(geometry: dict[str, Any]) -> list[Ring]:
    coords = geometry["coordinates"]
    if geometry["type"] == "Polygon":
        return [coords[0]]
    return [poly[0] for poly in coords]


def build_geometry(geojson: Path, regions_by_code: dict[str, URIRef], version: str) -> Dataset:
    """The named graph of outlines and centroids for every division the package has."""
    ds = bind_prefixes(Dataset())
    ds.bind("geo", GEO)
    g = ds.graph(GRAPH[KEY])
    source = entity("source", KEY)
    g.add((GRAPH[KEY], PROV.wasDerivedFrom, source))
    g.add((source, RDF.type, KZ.SourceDocument))
    title = f"{PACKAGE} {version}, {FILE}"
    g.add(
        (
            source,
            RDFS.label,
            Literal("Outlines of Kazakhstan's regions (amCharts geodata)", lang="en"),
        )
    )
    g.add((source, DCTERMS.title, Literal(title, lang="en")))
    g.add((source, DCTERMS.description, Literal(
        "Outlines of Kazakhstan's 20 first-level divisions (2023 boundaries), keyed by ISO "
        "3166-2 code, from the npm package @amcharts/amcharts5-geodata; centroids computed by "
        "kzgraph from the largest ring of each outline.", lang="en")))  # fmt: skip
    g.add((source, DCTERMS.source, Literal(f"npm {PACKAGE}@{version}")))
    g.add(
        (
            source,
            DCTERMS.license,
            URIRef("https://github.com/amcharts/amcharts5/blob/master/LICENSE"),
        )
    )
    data = json.loads(geojson.read_text(encoding="utf-8"))
    for feature in sorted(data["features"], key=lambda f: f["properties"]["id"]):
        code = feature["properties"]["id"]
        region = regions_by_code.get(code)
        if region is None:
            raise ValueError(
                f"{geojson}: {code} is not an ISO 3166-2:KZ code of the reference data"
            )
        outline, middle = BNode(f"outline-{code}"), BNode(f"centroid-{code}")
        g.add((region, GEO.hasGeometry, outline))
        g.add((outline, RDF.type, GEO.Geometry))
        g.add((outline, GEO.asWKT, Literal(wkt(feature["geometry"]), datatype=GEO.wktLiteral)))
        g.add((outline, PROV.wasDerivedFrom, source))
        largest = max(_outer_rings(feature["geometry"]), key=lambda r: abs(_area(r)))
        x, y = centroid(largest)
        g.add((region, GEO.hasCentroid, middle))
        g.add((middle, RDF.type, GEO.Geometry))
        g.add(
            (
                middle,
                GEO.asWKT,
                Literal(f"POINT({_number(x)} {_number(y)})", datatype=GEO.wktLiteral),
            )
        )
    return ds


def write_geometry(root: Path) -> Path:
    """Regenerate ``graph/reference/geometry-kz.trig`` from the installed npm package."""
    from kzgraph.core.errors import KzgraphError
    from kzgraph.core.settings import Settings
    from kzgraph.graph.loading import load

    package = root / "web" / "node_modules" / PACKAGE
    geojson = package / FILE
    if not geojson.exists():
        raise KzgraphError(f"{geojson} is missing: run bash scripts/setup.sh (npm ci --prefix web)")
    version = json.loads((package / "package.json").read_text())["version"]
    ds = load(Settings.discover(root))
    codes = {
        str(code): s for s, code in ds.subject_objects(KZ.iso3166_2Code) if isinstance(s, URIRef)
    }
    built = build_geometry(geojson, codes, version)
    out = root / "graph" / "reference" / f"{KEY}.trig"
    text = built.serialize(format="trig")
    header = f"# Generated by scripts/generate_geometry.py from {PACKAGE} {version}; do not edit."
    out.write_text(f"{header}\n{text}")
    return out


def geojson_geometry(text: str) -> dict[str, object]:
    """The GeoJSON form of a POLYGON, MULTIPOLYGON or POINT in the WKT this module writes.

    >>> geojson_geometry("POLYGON((0 0, 1 0, 1 1, 0 0))")["coordinates"]
    [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]]
    """
    import re

    kind, _, body = text.strip().partition("(")
    kind = kind.strip().upper()

    def ring(part: str) -> Ring:
        return [[float(v) for v in pair.split()] for pair in part.split(",")]

    if kind == "POINT":
        return {"type": "Point", "coordinates": [float(v) for v in body.rstrip(")").split()]}
    if kind == "POLYGON":
        return {
            "type": "Polygon",
            "coordinates": [ring(r) for r in re.findall(r"\(([^()]+)\)", body)],
        }
    if kind == "MULTIPOLYGON":
        polygons = re.findall(r"\(((?:\s*\([^()]+\)\s*,?)+)\)", body)
        return {
            "type": "MultiPolygon",
            "coordinates": [[ring(r) for r in re.findall(r"\(([^()]+)\)", p)] for p in polygons],
        }
    raise ValueError(f"unsupported WKT: {text[:40]!r}")

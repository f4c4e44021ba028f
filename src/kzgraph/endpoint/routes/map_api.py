"""The map: regions as GeoJSON with their projects and stated investment totals, and its page.

Outlines come from the reference graph ``kzg:geometry-kz`` (GeoSPARQL ``geo:asWKT``), projects
and amounts from the articles' graphs. Totals add only unhedged investment amounts, per
currency (tenge and dollars are never mixed); hedged figures ("over", "expected in 2025") are
listed beside the total, not added to it.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from kzgraph.endpoint.execution.state import ServerState
from kzgraph.endpoint.http.pages import local_href, render
from kzgraph.graph.geometry import geojson_geometry

OUTLINES = """
SELECT ?region ?wkt WHERE { ?region geo:hasGeometry/geo:asWKT ?wkt }"""

PROJECTS = """
SELECT ?region ?project ?status ?value ?currency ?statedAs ?qualifier WHERE {
  ?project kz:region ?region .
  FILTER EXISTS { ?project a/rdfs:subClassOf* kz:Project }
  OPTIONAL { ?project kz:status ?status }
  OPTIONAL { ?project kz:amount ?a . ?a kz:measure measure:investment ; kz:value ?value ;
             kz:currency/kz:iso4217Code ?currency ; kz:statedAs ?statedAs .
             OPTIONAL { ?a kz:qualifier ?qualifier } }
}"""


def map_data(state: ServerState) -> dict[str, Any]:
    """A GeoJSON FeatureCollection, one feature per region with an outline."""
    labels = state.labels()
    projects: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for region, project, status, value, currency, stated, qualifier in state.store.query(
        PROJECTS
    ).rows:
        entry = projects[str(region)].setdefault(
            str(project),
            {
                "label": labels.get(str(project), str(project)),
                "href": local_href(str(project)),
                "status": labels.get(str(status), "") if status is not None else "",
                "amounts": [],
            },
        )
        if value is not None:
            entry["amounts"].append(
                {"value": str(value), "currency": str(currency), "statedAs": str(stated),
                 "qualifier": str(qualifier) if qualifier is not None else ""}
            )  # fmt: skip
    features: list[dict[str, Any]] = []
    for region, text in state.store.query(OUTLINES).rows:
        items = sorted(projects.get(str(region), {}).values(), key=lambda p: p["label"])
        totals: dict[str, Decimal] = defaultdict(Decimal)
        hedged = []
        for item in items:
            for amount in item["amounts"]:
                if amount["qualifier"]:
                    hedged.append(f"{amount['statedAs']} ({item['label']})")
                else:
                    totals[amount["currency"]] += Decimal(amount["value"])
        features.append(
            {
                "type": "Feature",
                "geometry": geojson_geometry(str(text)),
                "properties": {
                    "iri": str(region),
                    "label": labels.get(str(region), str(region)),
                    "href": local_href(str(region)),
                    "projects": items,
                    "totals": {c: f"{v:,.0f}" for c, v in sorted(totals.items())},
                    "hedged": hedged,
                },
            }
        )
    features.sort(key=lambda f: f["properties"]["label"])
    return {"type": "FeatureCollection", "features": features}


async def regions(request: Request) -> Response:
    """GET /api/map: the regions with outlines, projects and totals, as GeoJSON."""
    state: ServerState = request.app.state.kz
    if "map" not in state.cache:
        state.cache["map"] = await anyio.to_thread.run_sync(map_data, state)
    return JSONResponse(state.cache["map"], media_type="application/geo+json")


async def page(request: Request) -> Response:
    """GET /map: Leaflet over the local GeoJSON, no tile server."""
    return HTMLResponse(render("map.html"))


def routes() -> list[Route]:
    """The map's routes."""
    return [Route("/api/map", regions, methods=["GET"]), Route("/map", page, methods=["GET"])]

"""Full dumps of the dataset under /dumps/, plain and gzipped, rebuilt when the data changes."""

from __future__ import annotations

import gzip

import anyio
from rdflib import Dataset
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from kzgraph.endpoint.execution.state import ServerState
from kzgraph.endpoint.http.responses import error
from kzgraph.graph.loading import new_dataset
from kzgraph.store.export import serialize

#: file name -> (media type, what it holds)
DUMPS = {
    "kzgraph.nq": ("application/n-quads", "all named graphs, N-Quads"),
    "kzgraph.trig": ("application/trig", "all named graphs, TriG"),
    "kzgraph.jsonld": ("application/ld+json", "all named graphs, JSON-LD"),
    "kzgraph.ttl": ("text/turtle", "the merged graph, Turtle"),
    "kzgraph.nt": ("application/n-triples", "the merged graph, N-Triples"),
}


def _dataset(state: ServerState) -> Dataset:
    ds = new_dataset()
    ds.parse(data=state.store.nquads(), format="nquads")
    return ds


def build_dump(state: ServerState, name: str) -> bytes:
    """The dump ``name`` (``kzgraph.trig`` or ``kzgraph.trig.gz``), cached per data generation."""
    key = f"dump:{name}"
    if key not in state.cache:
        if name.endswith(".gz"):
            state.cache[key] = gzip.compress(build_dump(state, name[:-3]), mtime=0)
        else:
            state.cache[key] = serialize(_dataset(state), name.rsplit(".", 1)[1])
    data: bytes = state.cache[key]
    return data


async def index(request: Request) -> Response:
    """A list of the dumps."""
    from kzgraph.endpoint.http.pages import render

    dumps = [(n, media, what) for n, (media, what) in DUMPS.items()]
    return HTMLResponse(render("dumps.html", dumps=dumps))


async def dump(request: Request) -> Response:
    """One dump file."""
    state: ServerState = request.app.state.kz
    name = request.path_params["name"]
    plain = name.removesuffix(".gz")
    if plain not in DUMPS:
        return error(404, f"no dump {name!r}; see /dumps/")
    body = await anyio.to_thread.run_sync(build_dump, state, name)
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    media = "application/gzip" if name.endswith(".gz") else f"{DUMPS[plain][0]}; charset=utf-8"
    return Response(body, media_type=media, headers=headers)


def routes() -> list[Route]:
    """The dump routes (the VoID description that lists them has its own, in ``void``)."""
    return [
        Route("/dumps/", index, methods=["GET"]),
        Route("/dumps/{name}", dump, methods=["GET"]),
    ]

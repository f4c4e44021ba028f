"""Serialise the whole dataset, named graphs included, in the standard RDF formats.

Formats that hold one graph (Turtle, N-Triples) receive the union of all graphs; the quad
formats (N-Quads, TriG, JSON-LD) keep each source's named graph.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

from rdflib import Dataset, Graph

from kzgraph.core.choices import RDF_EXPORT_FORMATS
from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import PREFIXES, bind_prefixes

if TYPE_CHECKING:
    import pyoxigraph as ox

#: Format name -> (rdflib serializer, keeps named graphs, media type)
FORMATS: dict[str, tuple[str, bool, str]] = {
    "ttl": ("turtle", False, "text/turtle"),
    "nt": ("nt", False, "application/n-triples"),
    "nq": ("nquads", True, "application/n-quads"),
    "trig": ("trig", True, "application/trig"),
    "jsonld": ("json-ld", True, "application/ld+json"),
    "xml": ("xml", False, "application/rdf+xml"),
}
assert tuple(FORMATS) == RDF_EXPORT_FORMATS, (
    "kzgraph.core.choices.RDF_EXPORT_FORMATS is out of date"
)


def serialize(ds: Dataset, fmt: str) -> bytes:
    r"""The dataset in ``fmt``; see :data:`FORMATS`.

    >>> from kzgraph.graph.loading import load
    >>> serialize(load(), "nq").count(b"\n") > 1000
    True
    """
    if fmt not in FORMATS:
        raise KzgraphError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    serializer, keeps_graphs, _media = FORMATS[fmt]
    if keeps_graphs:
        out = bind_prefixes(Dataset())
        for quad in ds.quads((None, None, None, None)):
            out.add(quad)  # type: ignore[arg-type]
        data = out.serialize(format=serializer, encoding="utf-8")
    else:
        g = bind_prefixes(Graph())
        for triple in ds.triples((None, None, None)):
            g.add(triple)
        data = g.serialize(format=serializer, encoding="utf-8")
    return data if isinstance(data, bytes) else data.encode("utf-8")


#: kzgraph's format names, as Oxigraph's serialisers.
_OX_FORMATS = {
    "ttl": "TURTLE",
    "nt": "N_TRIPLES",
    "nq": "N_QUADS",
    "trig": "TRIG",
    "jsonld": "JSON_LD",
    "xml": "RDF_XML",
}


def serialize_store(store: ox.Store, fmt: str, output: IO[bytes]) -> int:
    """Stream an Oxigraph store to ``output`` in ``fmt``; the number of quads written.

    A store of millions of quads never passes through rdflib (which would hold it all in
    memory several times over): Oxigraph serialises as it reads. The quad formats get the named
    graphs; the triple formats get the default graph, kzgraph's merge of them.
    """
    import pyoxigraph as ox

    if fmt not in FORMATS:
        raise KzgraphError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    keeps_graphs = FORMATS[fmt][1]
    count = 0

    def counted(quads: Iterator[ox.Quad]) -> Iterator[ox.Quad]:
        nonlocal count
        for quad in quads:
            count += 1
            yield quad

    if keeps_graphs:
        quads: Iterator[ox.Quad] = (
            quad
            for graph in store.named_graphs()
            for quad in store.quads_for_pattern(None, None, None, graph)
        )
    else:
        quads = store.quads_for_pattern(None, None, None, ox.DefaultGraph())
    ox.serialize(
        counted(quads),
        output,
        format=getattr(ox.RdfFormat, _OX_FORMATS[fmt]),
        prefixes=dict(PREFIXES) if fmt in ("ttl", "trig") else None,
    )
    return count

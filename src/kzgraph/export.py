"""Serialise the whole dataset, named graphs included, in the standard RDF formats.

Formats that hold one graph (Turtle, N-Triples) receive the union of all graphs; the quad
formats (N-Quads, TriG, JSON-LD) keep each source's named graph.
"""

from __future__ import annotations

from rdflib import Dataset, Graph

from kzgraph.loading import KzgraphError
from kzgraph.namespaces import bind_prefixes

#: Format name -> (rdflib serializer, keeps named graphs, media type)
FORMATS: dict[str, tuple[str, bool, str]] = {
    "ttl": ("turtle", False, "text/turtle"),
    "nt": ("nt", False, "application/n-triples"),
    "nq": ("nquads", True, "application/n-quads"),
    "trig": ("trig", True, "application/trig"),
    "jsonld": ("json-ld", True, "application/ld+json"),
    "xml": ("xml", False, "application/rdf+xml"),
}


def serialize(ds: Dataset, fmt: str) -> bytes:
    r"""The dataset in ``fmt``; see :data:`FORMATS`.

    >>> from kzgraph.loading import load
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

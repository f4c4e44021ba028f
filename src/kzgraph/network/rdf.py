"""Network measures back into RDF, in a derived named graph that says how it was made."""

from __future__ import annotations

from datetime import UTC, datetime

import networkx as nx
from rdflib import BNode, Dataset, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS, XSD

from kzgraph.core.namespaces import GRAPH, KZ, bind_prefixes
from kzgraph.network.measures import compute

DERIVED = GRAPH["derived/network-measures"]


def measures_graph(g: nx.Graph, measures: list[str], projection: str) -> Dataset:
    """``kz:networkScore`` nodes for each entity and measure, in the graph ``kzg:derived/…``."""
    ds = bind_prefixes(Dataset())
    out = ds.graph(DERIVED)
    activity = URIRef(str(DERIVED) + "#computation")
    out.add((DERIVED, RDF.type, PROV.Entity))
    out.add(
        (
            DERIVED,
            RDFS.label,
            Literal(f"Derived: network measures on the {projection} projection", lang="en"),
        )
    )
    out.add(
        (
            DERIVED,
            RDFS.comment,
            Literal(
                "Computed by kzgraph with networkx from the seeded graph; "
                "not stated by any source.",
                lang="en",
            ),
        )
    )
    out.add((DERIVED, PROV.wasGeneratedBy, activity))
    out.add((activity, RDF.type, PROV.Activity))
    out.add(
        (
            activity,
            PROV.endedAtTime,
            Literal(datetime.now(UTC).replace(microsecond=0), datatype=XSD.dateTime),
        )
    )
    out.add(
        (
            activity,
            DCTERMS.description,
            Literal(f"networkx {nx.__version__}: {', '.join(measures)}"),
        )
    )
    for measure in measures:
        for node, score in compute(g, measure).items():
            item = BNode()
            out.add((URIRef(node), KZ.networkScore, item))
            out.add((item, KZ.networkMeasure, Literal(measure)))
            out.add((item, KZ.value, Literal(round(score, 6), datatype=XSD.decimal)))
            out.add((item, DCTERMS.source, Literal(projection)))
    return ds

"""The names a user chooses among on the command line, free of heavy imports.

``kzgraph --help`` and every command's option parsing need these lists before any command runs;
the modules that implement them (rdflib serialisers, Oxigraph, networkx) take a tenth of a
second or more to import, so the names live here and those modules check at import time that
they implement exactly these (an added format fails loudly until it is listed).
"""

from __future__ import annotations

#: Query engines a command can run on (:mod:`kzgraph.store.engines`).
ENGINES = ("oxigraph", "rdflib")

#: Result formats of ``kzgraph query`` and ``kzgraph sparql`` (:mod:`kzgraph.queries.results`).
RESULT_FORMATS = ("table", "csv", "tsv", "json", "xml", "md")

#: RDF formats of ``kzgraph export`` (:mod:`kzgraph.store.export`).
RDF_EXPORT_FORMATS = ("ttl", "nt", "nq", "trig", "jsonld", "xml")

#: Centrality measures of ``kzgraph network`` (:mod:`kzgraph.network.measures`).
NETWORK_MEASURES = (
    "degree",
    "betweenness",
    "closeness",
    "eigenvector",
    "pagerank",
    "kcore",
    "brokerage",
)

#: Network export formats (:mod:`kzgraph.network.exports`).
NETWORK_FORMATS = ("graphml", "gexf", "cytoscape-json", "csv")

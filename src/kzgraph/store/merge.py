"""The one update that merges the named graphs into the default graph.

A module of its own, importing nothing, because three places run it — the store interface, a
query worker (which must stay light: see :mod:`kzgraph.endpoint.execution.worker_process`) and
``kzgraph push`` — and three copies of a SPARQL string drift apart.
"""

#: Every named graph's triples, copied into the default graph (a set: one copy each).
MERGE = "DROP SILENT DEFAULT ;\nINSERT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }"

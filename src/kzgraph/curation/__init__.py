"""Growing the graph from tables: checks, mapping with morph-kgc, reconciliation, import."""

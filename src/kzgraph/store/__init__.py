"""Where the graph lives: one store interface over rdflib and Oxigraph, bulk load, export, state."""

"""The routes: thin handlers for SPARQL, the Graph Store, linked data, API, map, network, search."""

"""Asking the graph: the saved-query catalogue, running, results, search, tables, stats."""

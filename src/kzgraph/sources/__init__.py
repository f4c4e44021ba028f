"""The registered sources and the checks that tie the graph to their words."""

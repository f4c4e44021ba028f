"""Stores that others run: the SPARQL 1.1 Protocol client, path rewriting, push."""

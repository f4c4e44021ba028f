"""What every stage shares: errors, IRIs, settings, option names, and small readers.

The readers are of tracker tables, of a figure in a source's words, and of SPARQL request text.
Nothing here imports a later stage, so every stage may import it.
"""

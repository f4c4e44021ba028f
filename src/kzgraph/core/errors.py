"""kzgraph's own error, in a module with no imports, so the command line can catch it cheaply.

Every command turns a :class:`KzgraphError` into one line and exit status 2; importing it from
:mod:`kzgraph.graph.loading` (where it long lived, and from where it is still re-exported) would
load rdflib before any command has decided whether it needs it.
"""

from __future__ import annotations


class KzgraphError(Exception):
    """Base class for errors kzgraph reports to users as one clear line."""

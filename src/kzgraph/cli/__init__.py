"""The ``kzgraph`` command line: one module per command group, argument parsing only.

The work lives in plain functions in the stage packages; :func:`main` is the entry point.
"""

from kzgraph.cli.commands import main

__all__ = ["main"]

"""kzgraph: an open knowledge graph of Kazakhstan–China economic ties.

The Python API gives notebooks the same dataset the command line and the endpoint use:

>>> import kzgraph
>>> ds = kzgraph.load()                       # an rdflib Dataset, one named graph per source
>>> kzgraph.validate(dataset=ds).conforms
True
>>> store = kzgraph.open_store("oxigraph", dataset=ds)
>>> store.query("ASK { company:fufeng-group kz:headquartersCountry country:CN }").boolean
True

The names below are imported when first used, so that a process needing one small module (a
query worker imports only :mod:`kzgraph.endpoint.worker_process`) does not load rdflib and
pyshacl with the package.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kzgraph.errors import KzgraphError
    from kzgraph.loading import GraphSyntaxError, load, load_shapes
    from kzgraph.namespaces import KZ, PREFIXES, entity
    from kzgraph.settings import Settings
    from kzgraph.stats import compute as stats
    from kzgraph.store import (
        OxigraphStore,
        QueryResult,
        QuerySyntaxError,
        RdflibStore,
        open_store,
    )
    from kzgraph.validation import Report, validate

_WHERE = {
    "GraphSyntaxError": ("kzgraph.loading", "GraphSyntaxError"),
    "KzgraphError": ("kzgraph.errors", "KzgraphError"),
    "load": ("kzgraph.loading", "load"),
    "load_shapes": ("kzgraph.loading", "load_shapes"),
    "KZ": ("kzgraph.namespaces", "KZ"),
    "PREFIXES": ("kzgraph.namespaces", "PREFIXES"),
    "entity": ("kzgraph.namespaces", "entity"),
    "Settings": ("kzgraph.settings", "Settings"),
    "stats": ("kzgraph.stats", "compute"),
    "OxigraphStore": ("kzgraph.store", "OxigraphStore"),
    "QueryResult": ("kzgraph.store", "QueryResult"),
    "QuerySyntaxError": ("kzgraph.store", "QuerySyntaxError"),
    "RdflibStore": ("kzgraph.store", "RdflibStore"),
    "open_store": ("kzgraph.store", "open_store"),
    "Report": ("kzgraph.validation", "Report"),
    "validate": ("kzgraph.validation", "validate"),
}

__all__ = [
    "KZ",
    "PREFIXES",
    "GraphSyntaxError",
    "KzgraphError",
    "OxigraphStore",
    "QueryResult",
    "QuerySyntaxError",
    "RdflibStore",
    "Report",
    "Settings",
    "entity",
    "load",
    "load_shapes",
    "open_store",
    "stats",
    "validate",
]


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562)."""
    if name not in _WHERE:
        raise AttributeError(f"module 'kzgraph' has no attribute {name!r}")
    module, attribute = _WHERE[name]
    value = getattr(import_module(module), attribute)
    globals()[name] = value
    return value

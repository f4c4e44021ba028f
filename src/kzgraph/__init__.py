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
query worker imports only :mod:`kzgraph.endpoint.execution.worker_process`) does not load rdflib and
pyshacl with the package.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kzgraph.core.errors import KzgraphError
    from kzgraph.core.namespaces import KZ, PREFIXES, entity
    from kzgraph.core.settings import Settings
    from kzgraph.graph.loading import GraphSyntaxError, load, load_shapes
    from kzgraph.queries.stats import compute as stats
    from kzgraph.store.engines import (
        OxigraphStore,
        QueryResult,
        QuerySyntaxError,
        RdflibStore,
        open_store,
    )
    from kzgraph.validation.report import Report, validate

_WHERE = {
    "GraphSyntaxError": ("kzgraph.graph.loading", "GraphSyntaxError"),
    "KzgraphError": ("kzgraph.core.errors", "KzgraphError"),
    "load": ("kzgraph.graph.loading", "load"),
    "load_shapes": ("kzgraph.graph.loading", "load_shapes"),
    "KZ": ("kzgraph.core.namespaces", "KZ"),
    "PREFIXES": ("kzgraph.core.namespaces", "PREFIXES"),
    "entity": ("kzgraph.core.namespaces", "entity"),
    "Settings": ("kzgraph.core.settings", "Settings"),
    "stats": ("kzgraph.queries.stats", "compute"),
    "OxigraphStore": ("kzgraph.store.engines", "OxigraphStore"),
    "QueryResult": ("kzgraph.store.engines", "QueryResult"),
    "QuerySyntaxError": ("kzgraph.store.engines", "QuerySyntaxError"),
    "RdflibStore": ("kzgraph.store.engines", "RdflibStore"),
    "open_store": ("kzgraph.store.engines", "open_store"),
    "Report": ("kzgraph.validation.report", "Report"),
    "validate": ("kzgraph.validation.report", "validate"),
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

"""kzgraph: an open knowledge graph of Kazakhstan–China economic ties.

The Python API gives notebooks the same dataset the command line and the endpoint use:

>>> import kzgraph
>>> ds = kzgraph.load()                       # an rdflib Dataset, one named graph per source
>>> kzgraph.validate(dataset=ds).conforms
True
>>> store = kzgraph.open_store("oxigraph", dataset=ds)
>>> store.query("ASK { company:fufeng-group kz:headquartersCountry country:CN }").boolean
True
"""

from kzgraph.loading import GraphSyntaxError, KzgraphError, load, load_shapes
from kzgraph.namespaces import KZ, PREFIXES, entity
from kzgraph.settings import Settings
from kzgraph.stats import compute as stats
from kzgraph.store import OxigraphStore, QueryResult, QuerySyntaxError, RdflibStore, open_store
from kzgraph.validation import Report, validate

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

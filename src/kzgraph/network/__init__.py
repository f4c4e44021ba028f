"""Company–project networks: the RDF graph turned into networkx graphs, measured and drawn."""

from kzgraph.network.graph import full_graph, resolve
from kzgraph.network.measures import MEASURES, rank
from kzgraph.network.paths import explain_path, shortest_paths
from kzgraph.network.projections import PROJECTIONS, load_projections, project

__all__ = [
    "MEASURES",
    "PROJECTIONS",
    "explain_path",
    "full_graph",
    "load_projections",
    "project",
    "rank",
    "resolve",
    "shortest_paths",
]

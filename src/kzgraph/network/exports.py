"""Files that Gephi and Cytoscape open: GraphML, GEXF, Cytoscape JSON, and CSV node/edge tables."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import networkx as nx

from kzgraph.core.choices import NETWORK_FORMATS
from kzgraph.core.errors import KzgraphError
from kzgraph.core.tables import neutralise

FORMATS = NETWORK_FORMATS


def _flat(g: nx.Graph) -> nx.Graph:
    """A copy whose attributes are all strings or numbers, which every format can hold."""
    out = g.copy()
    for _, data in out.nodes(data=True):
        for key, value in list(data.items()):
            if not isinstance(value, (str, int, float)):
                data[key] = str(value)
    for *_e, data in out.edges(data=True):
        for key, value in list(data.items()):
            if not isinstance(value, (str, int, float)):
                data[key] = str(value)
    return out


def export(g: nx.Graph, fmt: str, output: Path) -> list[Path]:
    """Write ``g`` as ``fmt``; CSV writes ``<stem>-nodes.csv`` and ``<stem>-edges.csv``."""
    flat = _flat(g)
    if fmt == "graphml":
        nx.write_graphml(flat, output)
        return [output]
    if fmt == "gexf":
        nx.write_gexf(flat, output)
        return [output]
    if fmt == "cytoscape-json":
        output.write_text(
            json.dumps(nx.cytoscape_data(flat), indent=1, ensure_ascii=False), encoding="utf-8"
        )
        return [output]
    if fmt == "csv":
        nodes_path = output.with_name(output.stem + "-nodes.csv")
        edges_path = output.with_name(output.stem + "-edges.csv")
        node_keys = sorted({k for _, d in flat.nodes(data=True) for k in d})
        with nodes_path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["id", *node_keys])
            for n, d in flat.nodes(data=True):
                writer.writerow(
                    [neutralise(str(x)) for x in [n, *(d.get(k, "") for k in node_keys)]]
                )
        edge_keys = sorted({k for *_e, d in flat.edges(data=True) for k in d})
        with edges_path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["source", "target", *edge_keys])
            for u, v, d in flat.edges(data=True):
                cells = [u, v, *(d.get(k, "") for k in edge_keys)]
                writer.writerow([neutralise(str(x)) for x in cells])
        return [nodes_path, edges_path]
    raise KzgraphError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")

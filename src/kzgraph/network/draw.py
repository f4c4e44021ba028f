"""Pictures of a network: PNG/SVG with matplotlib, and a self-contained interactive HTML page.

Colours stand for node types and sizes for a measure, so the central entities stand out.
"""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx

from kzgraph.core.errors import KzgraphError
from kzgraph.network.measures import compute

PALETTE = {
    "Company": "#d1495b",
    "Region": "#00798c",
    "Country": "#30638e",
    "City": "#66a182",
    "Corridor": "#edae49",
    "CorridorSection": "#edae49",
    "Forum": "#8d5a97",
    "BusinessCouncilMeeting": "#8d5a97",
    "AgreementBundle": "#6c757d",
}
#: One colour per kind of project, all warm, so projects read as one family of distinct kinds.
PROJECT_PALETTE = {
    "EnergyProject": "#f4a259",
    "IndustrialProject": "#c8553d",
    "AgriculturalProject": "#8cb369",
    "InfrastructureProject": "#e09f3e",
    "UrbanDevelopmentProject": "#b5838d",
    "ResourceProject": "#9e2a2b",
}
PROJECT_COLOUR = "#f6bd60"  # a project of no narrower kind, or a kind added later
OTHER_COLOUR = "#adb5bd"
VIS = (
    Path(__file__).resolve().parents[3]
    / "web"
    / "node_modules"
    / "vis-network"
    / "standalone"
    / "umd"
    / "vis-network.min.js"
)


def colour(node_type: str) -> str:
    """The colour of a node type; each kind of project has its own warm colour."""
    if node_type.endswith("Project"):
        return PROJECT_PALETTE.get(node_type, PROJECT_COLOUR)
    return PALETTE.get(node_type, OTHER_COLOUR)


def _sizes(g: nx.Graph, measure: str) -> dict[str, float]:
    scores = compute(g, measure) if g.number_of_edges() else dict.fromkeys(g, 0.0)
    top = max(scores.values(), default=0.0) or 1.0
    return {n: 0.2 + 0.8 * scores[n] / top for n in g}


def draw_static(g: nx.Graph, output: Path, measure: str = "pagerank", title: str = "") -> None:
    """A PNG or SVG: spring layout, labels for the larger nodes, a legend of types."""
    import matplotlib

    matplotlib.use("Agg")
    # SVG text stays text: searchable, selectable and editable in Inkscape or Illustrator
    matplotlib.rcParams["svg.fonttype"] = "none"
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    sizes = _sizes(g, measure)
    pos = nx.spring_layout(nx.Graph(g), seed=7, k=2.5 / max(1, len(g)) ** 0.5, iterations=300)
    fig, ax = plt.subplots(figsize=(16, 11), dpi=110)
    nx.draw_networkx_edges(nx.Graph(g), pos, ax=ax, alpha=0.3, width=0.8)
    nx.draw_networkx_nodes(
        g,
        pos,
        ax=ax,
        node_size=[60 + 1400 * sizes[n] for n in g],
        node_color=[colour(str(g.nodes[n].get("type", ""))) for n in g],
        linewidths=0.5,
        edgecolors="white",
    )
    threshold = sorted(sizes.values(), reverse=True)[min(len(sizes) - 1, 40)] if sizes else 0
    # whole names, wrapped, never cut; room around the drawing so none runs off the edge
    labels = {n: _wrap(str(g.nodes[n].get("label", n))) for n in g if sizes[n] >= threshold}
    nx.draw_networkx_labels(g, pos, labels=labels, ax=ax, font_size=8, clip_on=False)
    ax.margins(0.12)
    types = sorted({str(g.nodes[n].get("type", "")) for n in g})
    ax.legend(
        handles=[Patch(color=colour(t), label=t) for t in types],
        loc="lower left",
        fontsize=8,
        frameon=False,
    )
    ax.set_title(title or f"{g.graph.get('name', 'network')} — size by {measure}")
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(output)
    plt.close(fig)


def _wrap(label: str, width: int = 22) -> str:
    r"""A label broken into lines at word boundaries, so it is shown whole, never cut.

    >>> _wrap("Fufeng Group corn processing plant in Zhambyl Region")
    'Fufeng Group corn\nprocessing plant in\nZhambyl Region'
    """
    import textwrap

    return "\n".join(textwrap.wrap(label, width)) or label


def vis_data(g: nx.Graph, measure: str = "pagerank") -> dict[str, list[dict[str, object]]]:
    """Nodes and edges in vis-network's shape, for the HTML page and the /network view."""
    sizes = _sizes(g, measure)
    nodes = [
        {
            "id": n,
            "label": _wrap(str(d.get("label", n))),
            "title": f"{d.get('label', n)} ({d.get('type', '')})",
            "color": colour(str(d.get("type", ""))),
            "value": sizes[n],
            "group": str(d.get("type", "")),
        }
        for n, d in g.nodes(data=True)
    ]
    edges = [
        {
            "from": u,
            "to": v,
            "title": str(d.get("label") or d.get("relation") or ""),
            "arrows": "to" if g.is_directed() else "",
        }
        for u, v, d in g.edges(data=True)
    ]
    return {"nodes": nodes, "edges": edges}


def draw_html(g: nx.Graph, output: Path, measure: str = "pagerank", title: str = "") -> None:
    """One HTML file with vis-network inlined: opens offline, no CDN."""
    if not VIS.exists():
        raise KzgraphError(
            "vis-network is not installed: run bash scripts/setup.sh (npm ci --prefix web)"
        )
    data = json.dumps(vis_data(g, measure)).replace("</", "<\\/")
    script = VIS.read_text(encoding="utf-8")
    output.write_text(
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{title or g.graph.get('name', 'network')}</title>"
        "<style>html,body,#net{height:100%;margin:0}</style>"
        f"<script>{script}</script></head><body><div id='net'></div><script>"
        f"const data = {data};"
        "new vis.Network(document.getElementById('net'), {nodes: new vis.DataSet(data.nodes),"
        " edges: new vis.DataSet(data.edges)}, {nodes: {shape: 'dot', scaling: {min: 6, max: 40}},"
        " physics: {stabilization: {iterations: 200}}});"
        "</script></body></html>",
        encoding="utf-8",
    )


def draw(g: nx.Graph, output: Path, measure: str = "pagerank", title: str = "") -> None:
    """Pick the drawer by the file's ending."""
    suffix = output.suffix.lower()
    if suffix in (".png", ".svg"):
        draw_static(g, output, measure, title)
    elif suffix == ".html":
        draw_html(g, output, measure, title)
    else:
        raise KzgraphError(f"draw writes .png, .svg or .html, not {suffix or 'no ending'!r}")

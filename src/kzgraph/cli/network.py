"""``kzgraph network …``: argument parsing only; the work is in kzgraph.network."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kzgraph.cli.support import friendly_errors, make_backend, require_store, store_option
from kzgraph.core.choices import NETWORK_FORMATS, NETWORK_MEASURES
from kzgraph.core.errors import KzgraphError
from kzgraph.core.settings import Settings

if TYPE_CHECKING:
    import networkx as nx

# networkx and the network modules are imported by the commands that run, not with the CLI.


@dataclass
class NetworkContext:
    """A store to run projections on and, when the data is small, the full graph."""

    full: nx.MultiDiGraph | None
    settings: Settings
    store: object

    def graph(self, projection: str) -> nx.Graph:
        """The full graph, or a named projection of it."""
        if projection == "full":
            if self.full is None:
                raise KzgraphError(
                    "--store analyses projections (company-project, company-region, ...); "
                    "the full graph of a big store is not built: pass --projection"
                )
            return self.full
        from kzgraph.network.projections import project

        return project(projection, self.store, self.full, self.settings)  # type: ignore[arg-type]


def context(ctx: click.Context) -> NetworkContext:
    """Load once and keep on the click context: the seeded files, or an on-disk store."""
    from kzgraph.store.engines import OxigraphStore, open_store

    settings: Settings = ctx.obj
    backend = _option(ctx, "backend")
    if backend is not None:
        from kzgraph.remote.stores import RemoteStore

        return NetworkContext(None, settings, RemoteStore(make_backend(backend)))
    store_path = _store_option(ctx)
    if store_path is not None:
        return NetworkContext(None, settings, OxigraphStore.read_only(require_store(store_path)))
    from kzgraph.graph.loading import load
    from kzgraph.network import graph as netgraph

    ds = load(settings)
    return NetworkContext(netgraph.full_graph(ds), settings, open_store("oxigraph", dataset=ds))


def _option(ctx: click.Context, name: str) -> str | None:
    """An option given to the ``kzgraph network`` group, if any."""
    node: click.Context | None = ctx
    while node is not None:
        if node.info_name == "network" and node.params.get(name) is not None:
            return str(node.params[name])
        node = node.parent
    return None


def _store_option(ctx: click.Context) -> Path | None:
    """The ``--store`` given to ``kzgraph network``, if any."""
    path = _option(ctx, "store_path")
    return Path(path) if path is not None else None


def _label(g: nx.Graph, n: object) -> str:
    return str(g.nodes[n].get("label", n))


projection_option = click.option(
    "--projection",
    default="full",
    show_default=True,
    help="full, or a projection from queries/projections/ (company-project, company-company, ...).",
)


@click.group(name="network")
@store_option(
    "Analyse an on-disk Oxigraph store (opened read-only) instead of the seeded files; "
    "projections are built from it by SPARQL."
)
@click.option(
    "--backend",
    metavar="URL",
    default=None,
    help="Analyse a remote SPARQL endpoint filled by 'kzgraph push' (projections by SPARQL).",
)
def network(store_path: Path | None, backend: str | None) -> None:
    """Analyse the company–project network (networkx)."""


@network.command()
@projection_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@friendly_errors
def summary(ctx: click.Context, projection: str, as_json: bool) -> None:
    """Nodes, edges, density, components, and counts per node and edge type."""
    from kzgraph.network import measures

    g = context(ctx).graph(projection)
    facts = measures.summary(g)
    if as_json:
        click.echo(json.dumps(facts, indent=2))
        return
    click.echo(
        f"{projection}: {facts['nodes']} nodes, {facts['edges']} edges, "
        f"density {facts['density']:.4f}, "
        f"{facts['components']} components (largest {facts['largest_component']})"
    )
    click.echo("node types: " + ", ".join(f"{k} {v}" for k, v in facts["node_types"].items()))
    click.echo(
        "edge types: " + ", ".join(f"{k} {v}" for k, v in list(facts["edge_types"].items())[:15])
    )


@network.command()
@projection_option
@click.option(
    "--measure", type=click.Choice(NETWORK_MEASURES), default="pagerank", show_default=True
)
@click.option(
    "--type", "node_type", default=None, help="Only nodes of this type (Company, Region ...)."
)
@click.option("--top", default=10, show_default=True, type=int)
@click.option("--weighted", is_flag=True, help="Use edge weights where the measure supports them.")
@click.pass_context
@friendly_errors
def rank(
    ctx: click.Context,
    projection: str,
    measure: str,
    node_type: str | None,
    top: int,
    weighted: bool,
) -> None:
    """Rank nodes by a centrality measure."""
    from kzgraph.network import measures

    g = context(ctx).graph(projection)
    for i, (node, score) in enumerate(measures.rank(g, measure, node_type, top, weighted), 1):
        click.echo(f"{i:>3}  {score:10.4f}  {_label(g, node)}  [{g.nodes[node].get('type', '')}]")


@network.command()
@click.argument("source")
@click.argument("target")
@click.option("--max-hops", default=4, show_default=True, type=int)
@click.option(
    "--all",
    "all_paths",
    is_flag=True,
    help="All simple paths up to --max-hops, not only the shortest.",
)
@click.pass_context
@friendly_errors
def path(ctx: click.Context, source: str, target: str, max_hops: int, all_paths: bool) -> None:
    """How SOURCE reaches TARGET (labels, CURIEs or IRIs), hop by hop."""
    from kzgraph.network import graph as netgraph
    from kzgraph.network import paths

    g = context(ctx).full
    a, b = netgraph.resolve(g, source), netgraph.resolve(g, target)
    found = (
        paths.simple_paths(g, a, b, max_hops)
        if all_paths
        else paths.shortest_paths(g, a, b, max_hops)
    )
    for i, p in enumerate(found, 1):
        click.echo(f"path {i} ({len(p) - 1} hops):")
        for hop in paths.explain_path(g, p):
            click.echo(f"  {hop}")


@network.command()
@click.argument("center")
@click.option("--depth", default=1, show_default=True, type=int)
@click.pass_context
@friendly_errors
def ego(ctx: click.Context, center: str, depth: int) -> None:
    """The entities within --depth hops of CENTER."""
    from kzgraph.network import graph as netgraph
    from kzgraph.network import paths

    g = context(ctx).full
    node = netgraph.resolve(g, center)
    sub = paths.ego(g, node, depth)
    click.echo(
        f"{_label(g, node)}: {sub.number_of_nodes()} nodes, "
        f"{sub.number_of_edges()} edges within {depth} hop(s)"
    )
    for n in sorted(sub, key=lambda x: (str(sub.nodes[x].get("type")), _label(sub, x))):
        if n != node:
            click.echo(f"  [{sub.nodes[n].get('type', '')}] {_label(sub, n)}")


@network.command()
@projection_option
@click.pass_context
@friendly_errors
def communities(ctx: click.Context, projection: str) -> None:
    """Louvain communities (seeded, so repeatable)."""
    from kzgraph.network import measures

    g = context(ctx).graph(projection)
    for i, members in enumerate(measures.communities(g), 1):
        names = sorted(_label(g, n) for n in members)
        click.echo(
            f"community {i} ({len(members)}): "
            + "; ".join(names[:25])
            + (" …" if len(names) > 25 else "")
        )


@network.command(name="export")
@projection_option
@click.option(
    "--format", "fmt", type=click.Choice(NETWORK_FORMATS), default="graphml", show_default=True
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_context
@friendly_errors
def export_cmd(ctx: click.Context, projection: str, fmt: str, output: Path) -> None:
    """Write a projection for Gephi (GraphML, GEXF), Cytoscape (JSON) or spreadsheets (CSV)."""
    from kzgraph.network.exports import export as export_network

    g = context(ctx).graph(projection)
    for written in export_network(g, fmt, output):
        click.echo(f"wrote {written}", err=True)


@network.command()
@projection_option
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="FILE.png, FILE.svg or FILE.html (interactive, self-contained).",
)
@click.option(
    "--measure",
    type=click.Choice(NETWORK_MEASURES),
    default="pagerank",
    show_default=True,
    help="Node size.",
)
@click.option("--focus", default=None, help="Draw only this entity's neighbourhood.")
@click.option("--depth", default=1, show_default=True, type=int)
@click.pass_context
@friendly_errors
def draw(
    ctx: click.Context, projection: str, output: Path, measure: str, focus: str | None, depth: int
) -> None:
    """Draw a projection (or one entity's neighbourhood): colour by type, size by a measure."""
    from kzgraph.network import graph as netgraph
    from kzgraph.network import paths
    from kzgraph.network.draw import draw as draw_network

    nctx = context(ctx)
    g = nctx.graph(projection)
    title = ""
    if focus:
        node = netgraph.resolve(nctx.full, focus)
        g = paths.ego(nctx.full, node, depth)
        title = f"{_label(nctx.full, node)} — {depth}-hop neighbourhood"
    draw_network(g, output, measure, title)
    click.echo(f"wrote {output}", err=True)


@network.command(name="measures")
@projection_option
@click.option(
    "--measure",
    "chosen",
    multiple=True,
    type=click.Choice(NETWORK_MEASURES),
    help="Measures to write (default: degree, betweenness, pagerank).",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_context
@friendly_errors
def measures_cmd(
    ctx: click.Context, projection: str, chosen: tuple[str, ...], output: Path
) -> None:
    """Write measures as RDF (TriG) in the derived graph kzg:derived/network-measures."""
    from kzgraph.network.rdf import measures_graph

    g = context(ctx).graph(projection)
    ds = measures_graph(g, list(chosen) or ["degree", "betweenness", "pagerank"], projection)
    output.write_text(ds.serialize(format="trig"), encoding="utf-8")
    click.echo(f"wrote {output}", err=True)


@network.command(name="projections")
@click.pass_context
@friendly_errors
def projections_cmd(ctx: click.Context) -> None:
    """List the projections defined in queries/projections/."""
    from kzgraph.network.projections import load_projections

    for name, p in load_projections(ctx.obj).items():
        click.echo(f"{name:<18} {'directed' if p.directed else 'undirected'}  {p.summary}")

"""The ``kzgraph`` group: the ``--root`` option, and every command group registered on it.

Each command lives in the module of its group (:mod:`.data`, :mod:`.query`, :mod:`.publish`,
:mod:`.checks`, :mod:`.explore`, :mod:`.network`, :mod:`.sources`). Every command imports
what it needs when it runs: ``kzgraph --help`` and a saved query must not pay for rdflib's
parsers, pyshacl, networkx or matplotlib (``bench/speed.py`` measures the start).
"""

from __future__ import annotations

from pathlib import Path

import click

from kzgraph.cli import checks, data, explore, network, publish, query, sources
from kzgraph.core.settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="KZGRAPH_HOME",
    help="Project folder holding ontology/, graph/ and queries/ (default: this checkout).",
)
@click.version_option(package_name="kzgraph")
@click.pass_context
def main(ctx: click.Context, root: Path | None) -> None:
    """kzgraph: a knowledge graph of Kazakhstan–China economic ties."""
    ctx.obj = Settings.discover(root)


for command in (
    data.build,
    data.load_cmd,
    data.validate_cmd,
    data.stats,
    data.export,
    query.sparql,
    query.queries_cmd,
    query.query_cmd,
    publish.serve,
    publish.push,
    publish.docs_cmd,
    checks.lint_cmd,
    checks.diff_cmd,
    explore.search_cmd,
    explore.table_cmd,
    network.network,
    sources.source,
    sources.import_cmd,
):
    main.add_command(command)

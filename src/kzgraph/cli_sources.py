"""``kzgraph source …`` and ``kzgraph import``: argument parsing only.

The work is in :mod:`kzgraph.sources` (the registry) and :mod:`kzgraph.importing` (tables).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kzgraph.cli_support import friendly_errors
from kzgraph.settings import Settings


@click.group(name="source")
def source() -> None:
    """Register source documents and list the registry."""


@source.command(name="add")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--title", help="Headline (default: the text's first line, when it reads as one).")
@click.option(
    "--description", required=True, help="One sentence on what the source covers (required)."
)
@click.option("--publisher", help="Who published it, as the source names itself.")
@click.option("--date", help="Publication date: YYYY-MM-DD, YYYY-MM or YYYY.")
@click.option("--url", help="Where it was published (http or https).")
@click.option("--language", default="en", show_default=True, help="BCP 47 language tag.")
@click.pass_context
@friendly_errors
def add(
    ctx: click.Context,
    file: Path,
    title: str | None,
    description: str,
    publisher: str | None,
    date: str | None,
    url: str | None,
    language: str,
) -> None:
    """Keep FILE under sources/, record it in graph/sources.trig, and start its graph file."""
    from kzgraph.sources import register

    settings: Settings = ctx.obj
    done = register(
        file,
        settings,
        title=title,
        description=description,
        publisher=publisher,
        date=date,
        url=url,
        language=language,
    )
    rec = done.record
    if not done.created:
        click.echo(f"{file} is already registered as {rec.id} (same SHA-256); nothing changed")
        return
    click.echo(f"registered {rec.id}: sources/{rec.file.name} (sha256 {rec.sha256})")
    if done.graph_file is not None:
        rel = done.graph_file.relative_to(settings.root)
        click.echo(f"write its facts in {rel}, each citing a quotation of source:{rec.id}")


@source.command(name="list")
@click.pass_context
@friendly_errors
def list_cmd(ctx: click.Context) -> None:
    """One line per registered source: id, file, whether its text is unchanged, title."""
    from kzgraph.sources import records, sha256_of

    for rec in records(ctx.obj):
        if not rec.file.exists():
            state = "MISSING"
        elif rec.sha256 and sha256_of(rec.file) != rec.sha256:
            state = "CHANGED"
        else:
            state = "ok"
        click.echo(f"{rec.id}  {rec.file.name:<28} {state:<8} {rec.title or ''}")
    sys.stdout.flush()

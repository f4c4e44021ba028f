"""``kzgraph source …`` and ``kzgraph import``: argument parsing only.

The work is in :mod:`kzgraph.sources.registry` (the registry) and :mod:`kzgraph.curation.importing`
(tables).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kzgraph.cli.support import friendly_errors, store_option
from kzgraph.core.settings import Settings


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
    from kzgraph.sources.registry import register

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
        how = (
            "the same text, differing only in whitespace, quote marks or dashes"
            if done.same_text
            else "same SHA-256"
        )
        click.echo(f"{file} is already registered as {rec.id} ({how}); nothing changed")
        return
    kept = rec.file.name if rec.file is not None else rec.id
    click.echo(f"registered {rec.id}: sources/{kept} (sha256 {rec.sha256})")
    if done.graph_file is not None:
        rel = done.graph_file.relative_to(settings.root)
        click.echo(f"write its facts in {rel}, each citing a quotation of source:{rec.id}")


@source.command(name="list")
@click.pass_context
@friendly_errors
def list_cmd(ctx: click.Context) -> None:
    """One line per registered source: id, file (or address), whether its text is unchanged."""
    from kzgraph.sources.registry import records, sha256_of

    for rec in records(ctx.obj):
        if rec.file is None:
            click.echo(f"{rec.id}  {'cited by reference':<28} {'url':<8} {rec.url}")
            continue
        if not rec.file.exists():
            state = "MISSING"
        elif rec.sha256 and sha256_of(rec.file) != rec.sha256:
            state = "CHANGED"
        else:
            state = "ok"
        click.echo(f"{rec.id}  {rec.file.name:<28} {state:<8} {rec.title or ''}")
    sys.stdout.flush()


@source.command(name="cite")
@click.argument("url")
@click.option("--title", required=True, help="The headline as the publisher gives it.")
@click.option("--publisher", required=True, help="Who published it.")
@click.option("--date", help="Publication date: YYYY-MM-DD, YYYY-MM or YYYY.")
@click.option("--retrieved", required=True, help="The day you read it: YYYY-MM-DD.")
@click.option(
    "--description", required=True, help="One sentence, in your words, on what it covers."
)
@click.option("--language", default="en", show_default=True, help="BCP 47 language tag.")
@click.pass_context
@friendly_errors
def cite_cmd(
    ctx: click.Context,
    url: str,
    title: str,
    publisher: str,
    date: str | None,
    retrieved: str,
    description: str,
    language: str,
) -> None:
    """Register the article at URL by reference: its address and metadata, never its text."""
    from kzgraph.sources.registry import cite

    settings: Settings = ctx.obj
    done = cite(
        url, settings, title=title, publisher=publisher, date=date, retrieved=retrieved,
        description=description, language=language,
    )  # fmt: skip
    if not done.created:
        click.echo(f"{url} is already registered as {done.record.id}; nothing changed")
        return
    click.echo(f"registered {done.record.id}: {url} (cited by reference; no text kept)")
    if done.graph_file is not None:
        rel = done.graph_file.relative_to(settings.root)
        click.echo(
            f"cite it from a tracker row (source={done.record.id}, locator=…) or in {rel}, "
            "each fact with a kz:locator in your own words"
        )


@source.command(name="review")
@click.argument("source_id")
@click.pass_context
@friendly_errors
def review_cmd(ctx: click.Context, source_id: str) -> None:
    """The facts citing SOURCE_ID, under the words (quotation, locator or row) each cites."""
    from kzgraph.curation.review import review

    click.echo(review(ctx.obj, source_id).to_text())


@source.command(name="lookalikes")
@click.pass_context
@friendly_errors
def lookalikes_cmd(ctx: click.Context) -> None:
    """Firms and projects only one source names whose name is close to another's."""
    from kzgraph.curation.review import lookalikes

    found = lookalikes(ctx.obj)
    for item in found:
        click.echo(str(item))
    click.echo(f"{len(found)} lookalike(s)", err=True)


@click.command(name="import")
@click.argument("table", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    help="RML or YARRRML mapping (default: mappings/tracker.yarrrml.yml, for the template).",
)
@click.option(
    "--decisions",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Reviewer's decisions CSV (default: TABLE's name with .decisions.csv).",
)
@click.option("--dry-run", is_flag=True, help="Report, diff and validate; write nothing.")
@click.option("--title", help="Title of the table as a source (default: its file name).")
@click.option("--description", help="What the table is (recorded with it as a source).")
@store_option("Also load the new graph into this on-disk store.")
@click.option("--diff-lines", default=20, show_default=True, help="Triples shown per graph.")
@click.pass_context
@friendly_errors
def import_cmd(
    ctx: click.Context,
    table: Path,
    mapping: Path | None,
    decisions: Path | None,
    dry_run: bool,
    title: str | None,
    description: str | None,
    store_path: Path | None,
    diff_lines: int,
) -> None:
    """Import a tracker table (.csv or .xlsx) through a mapping, reconciled against the graph.

    Exit status: 0 when it imported (or would, with --dry-run), rows held for a decision
    included; 1 when the result would break the shapes; 2 for a table, cell, mapping or shape it
    cannot take (one line per problem, naming file, row and column). Nothing is written unless
    the exit status is 0. Every row is accounted for: read = taken + held + refused.
    """
    from kzgraph.curation.importing import import_table

    settings: Settings = ctx.obj
    decisions = decisions or table.with_name(table.stem + ".decisions.csv")
    result = import_table(
        table,
        settings,
        mapping=mapping,
        decisions=decisions,
        dry_run=dry_run,
        title=title,
        description=description,
        progress=lambda m: click.echo(f"{m} ...", err=True),
    )
    click.echo(result.summary())
    if dry_run:
        click.echo(result.diff().to_text(limit=diff_lines))
        click.echo("dry run: nothing written")
    if not result.report.conforms:
        click.echo("nothing written: the import would break the shapes above", err=True)
        sys.exit(1)
    if result.pending and not dry_run:
        click.echo(
            f"{len(result.pending)} open question(s) in {decisions}: fill in 'decision' "
            "(an IRI or CURIE to match, or 'new') and run the import again"
        )
    if store_path is not None and not dry_run and result.added:
        from kzgraph.sources.registry import documents_dir

        graph_file = documents_dir(settings) / f"{result.source_id}.trig"
        from kzgraph.cli.data import load_cmd

        ctx.invoke(load_cmd, files=(graph_file,), store_path=store_path, graph=None)

"""``kzgraph sparql``, ``queries``, ``query``: asking the graph from the shell.

Argument parsing only; the work lives in :mod:`kzgraph.queries`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kzgraph.cli.support import (
    F,
    backend_option,
    friendly_errors,
    inference_option,
    parse_params,
    project_settings,
    read_store,
    store_option,
)
from kzgraph.core.choices import ENGINES, RESULT_FORMATS
from kzgraph.core.settings import Settings

if TYPE_CHECKING:
    from kzgraph.store.engines import QueryResult, Store


def result_options(func: F) -> F:
    """The options every query command shares: format, labels or IRIs, engine, inference."""
    for option in reversed(
        [
            click.option(
                "--format",
                "fmt",
                type=click.Choice(RESULT_FORMATS),
                default="table",
                show_default=True,
            ),
            click.option("--iris", is_flag=True, help="Show IRIs in tables instead of labels."),
            click.option(
                "--engine", type=click.Choice(ENGINES), default="oxigraph", show_default=True
            ),
            inference_option,
            store_option("Answer from an on-disk Oxigraph store (opened read-only)."),
            backend_option,
        ]
    ):
        func = option(func)
    return func


def _print_result(result: QueryResult, fmt: str, store: Store, iris: bool) -> None:
    from kzgraph.queries import results
    from kzgraph.queries.running import labels_of

    shown = () if iris or fmt not in ("table", "md") else (t for row in result.rows for t in row)
    labels = labels_of(store, shown)
    click.echo(results.serialize(result, fmt, labels).rstrip("\n"))


@click.command()
@click.argument("query", required=False)
@click.option("--file", "query_file", type=click.File("r"), help="Read the query from a file.")
@result_options
@click.pass_context
@friendly_errors
def sparql(
    ctx: click.Context,
    query: str | None,
    query_file: Any,
    fmt: str,
    iris: bool,
    engine: str,
    inference: str,
    store_path: Path | None,
    backend: str | None,
) -> None:
    """Run an ad-hoc SPARQL query (kzgraph's prefixes are preset)."""
    if query_file is not None:
        query = query_file.read()
    if not query:
        raise click.UsageError("give a QUERY or --file")
    store = read_store(project_settings(ctx), store_path, backend, engine, inference)
    _print_result(store.query(query), fmt, store, iris)


@click.command(name="queries")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "md"]),
    default="text",
    show_default=True,
    help="md writes the catalogue page (queries/README.md).",
)
@click.pass_context
@friendly_errors
def queries_cmd(ctx: click.Context, fmt: str) -> None:
    """List the saved queries: name, summary and parameters."""
    from kzgraph.docs.catalogue_page import catalogue_markdown
    from kzgraph.queries.catalogue import load_catalogue

    catalogue = load_catalogue(project_settings(ctx))
    if fmt == "md":
        click.echo(catalogue_markdown(catalogue), nl=False)
        return
    width = max(len(name) for name in catalogue)
    for name, saved in catalogue.items():
        params = ", ".join(p.describe() for p in saved.parameters)
        click.echo(f"{name:<{width}}  {saved.summary}" + (f"  [{params}]" if params else ""))


class _SavedQueryCommand(click.Command):
    """``kzgraph query NAME --help`` adds the saved query's own description and parameters."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # --help is answered while the arguments are parsed: keep them to find NAME
        ctx.meta["kzgraph.args"] = list(args)
        return super().parse_args(ctx, args)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_help(ctx, formatter)
        args = ctx.meta.get("kzgraph.args", [])
        name = next((a for a in args if not a.startswith("-")), None)
        if name is None or not isinstance(ctx.obj, Settings):
            return
        from kzgraph.queries.catalogue import load_catalogue

        catalogue = load_catalogue(ctx.obj)
        saved = catalogue.get(name)
        if saved is None:
            return
        with formatter.section(f"Saved query {name}"):
            formatter.write_text(saved.summary)
            if saved.description:
                formatter.write_paragraph()
                formatter.write_text(saved.description)
        with formatter.section("Its parameters (--param NAME=VALUE)"):
            rows = [
                (p.describe(), ("required" if p.required else "optional")
                 + (f"; e.g. {saved.defaults[p.name]}" if p.name in saved.defaults else ""))
                for p in saved.parameters
            ]  # fmt: skip
            if rows:
                formatter.write_dl(rows)
            else:
                formatter.write_text("none")


@click.command(name="query", cls=_SavedQueryCommand)
@click.argument("name")
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter value; repeat for several.",
)
@result_options
@click.pass_context
@friendly_errors
def query_cmd(
    ctx: click.Context,
    name: str,
    params: tuple[str, ...],
    fmt: str,
    iris: bool,
    engine: str,
    inference: str,
    store_path: Path | None,
    backend: str | None,
) -> None:
    """Run the saved query NAME."""
    from kzgraph.queries.catalogue import get_query, mentioned, resolve_entities
    from kzgraph.queries.running import label_map

    values = parse_params(params)
    settings = project_settings(ctx)
    saved = get_query(name, settings)
    store = read_store(settings, store_path, backend, engine, inference)
    values = resolve_entities(
        saved, values, lambda: {str(k): v for k, v in label_map(store).items()}, mentioned(store)
    )
    bindings = saved.bind(values)
    _print_result(store.query(saved.text, bindings).without(saved.hidden), fmt, store, iris)

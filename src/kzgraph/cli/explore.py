"""``kzgraph search``: find entities and sentences by their words, without SPARQL.

Argument parsing only; the work is in :mod:`kzgraph.queries.search`.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kzgraph.cli.support import (
    backend_option,
    friendly_errors,
    one_store,
    parse_params,
    read_store,
    require_store,
    store_option,
)
from kzgraph.core.errors import KzgraphError
from kzgraph.core.settings import Settings

if TYPE_CHECKING:
    from kzgraph.queries import search
    from kzgraph.store.engines import Store


def open_index(
    settings: Settings, store_path: Path | None, backend: str | None
) -> search.SearchIndex:
    """The index of the data a command reads: the project's files, a store on disk, or a remote.

    For the files and an on-disk store it is kept (in ``.kzgraph-cache/`` and in the store's
    folder) and reused while the data is unchanged, so a second search does not load anything.
    """
    from kzgraph.graph.derived import cache_dir, digest, files_fingerprint
    from kzgraph.queries import search
    from kzgraph.store import state as store_state

    store: Store | None = None

    def the_store() -> Store:
        nonlocal store
        if store is None:
            store = read_store(settings, store_path, backend)
        return store

    progress = (lambda m: click.echo(m, err=True)) if sys.stderr.isatty() else None
    if backend is not None:
        return search.index_for(the_store(), None, None, progress)
    if store_path is not None:
        recorded = store_state.read(require_store(store_path))
        content = recorded.content if recorded is not None and not recorded.dirty else None
        if content is None:
            # an id is needed to know the index is fresh; reading it from the store costs one pass
            from kzgraph.store.engines import OxigraphStore

            opened = OxigraphStore.read_only(store_path)
            store = opened
            content = store_state.content_of(opened.store)
        kept = search.fresh(search.beside(store_path), content)
        if kept is not None:
            return kept  # built from this very content: the store is not read
        return search.index_for(the_store(), content, search.beside(store_path), progress)
    content = digest(files_fingerprint(settings), search.SCHEMA.encode())
    path = cache_dir(settings) / f"search-{content[:32]}.sqlite"
    # the files did not change: nothing is loaded
    index = search.fresh(path, content) or search.index_for(the_store(), content, path, progress)
    for old in cache_dir(settings).glob("search-*.sqlite"):
        if old != path:
            old.unlink(missing_ok=True)  # an index of files as they were before: never read again
    return index


@click.command(name="search")
@click.argument("words", nargs=-1, required=True)
@click.option(
    "--kind",
    type=click.Choice(["name", "quotation"]),
    default=None,
    help="Only names (labels, alternative labels, titles) or only quoted sentences.",
)
@click.option(
    "--class",
    "classes",
    multiple=True,
    metavar="CLASS",
    help="Only entities of this class or its subclasses (Company, kz:Project, an IRI or a "
    "label); repeat for several.",
)
@click.option("--limit", default=20, show_default=True, type=int, help="Most hits to show.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@store_option("Search an on-disk Oxigraph store (its index is kept in its folder).")
@backend_option
@click.pass_context
@friendly_errors
def search_cmd(
    ctx: click.Context,
    words: tuple[str, ...],
    kind: str | None,
    classes: tuple[str, ...],
    limit: int,
    fmt: str,
    store_path: Path | None,
    backend: str | None,
) -> None:
    """Find entities by the words of their names, and the quoted sentences that contain WORDS.

    Each word matches the start of a word ("invest" finds "investment"); all must appear. Put a
    phrase in quotes ('"gas chemical"') to match it as written. Every hit names its entity, the
    entity's class and the source article.
    """
    one_store(store_path, backend)  # before a kept index of either is read
    settings: Settings = ctx.obj
    index = open_index(settings, store_path, backend)
    wanted = [index.resolve_class(c) for c in classes]
    hits = index.search(" ".join(words), limit, kind, wanted)
    if fmt == "json":
        click.echo(json.dumps([h.as_json() for h in hits], ensure_ascii=False, indent=2))
        return
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["entity", "label", "class", "kind", "text", "sources"])
        for h in hits:
            for e in h.entities:
                sources = " ".join(s for s, _ in h.sources)
                writer.writerow([e.iri, e.label, e.cls or "", h.kind, h.text, sources])
        click.echo(out.getvalue(), nl=False)
        return
    if not hits:
        click.echo(f"no hits for {' '.join(words)!r}", err=True)
        return
    for number, h in enumerate(hits, 1):
        if h.kind == "name":
            e = h.entity
            cls = f" ({e.class_label})" if e.class_label else ""
            click.echo(f"{number:>3}. {e.label}{cls}  <{e.iri}>")
            click.echo(f"     name: {h.marked_text()}")
        else:
            click.echo(f"{number:>3}. \u201c{h.marked_text()}\u201d")
            about = ", ".join(
                e.label + (f" ({e.class_label})" if e.class_label else "") for e in h.entities
            )
            click.echo(f"     about: {about}")
        if h.sources:
            click.echo(f"     source: {'; '.join(label for _, label in h.sources)}")


def _split(values: tuple[str, ...]) -> list[str]:
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


@click.command(name="table")
@click.argument("cls", metavar="CLASS", required=False)
@click.option(
    "--columns",
    "-c",
    multiple=True,
    metavar="PATHS",
    help="Columns, comma-separated: property names, labels or CURIEs, steps joined with / "
    "(region,investor,amount/currency; ^investor walks backwards).",
)
@click.option(
    "--where", "-w", multiple=True, metavar="COLUMN=VALUE",
    help="Keep rows whose column has this value (a label, name, CURIE or IRI); repeat.",
)  # fmt: skip
@click.option(
    "--group-by", "-g", multiple=True, metavar="COLUMNS",
    help="Group rows by these columns (with --sum).",
)  # fmt: skip
@click.option(
    "--sum",
    "sum_column",
    metavar="COLUMN",
    default=None,
    help="Add up this column per group, per currency or unit and measure; hedged, conflicting "
    "and further-tranche figures are listed, never added.",
)
@click.option(
    "--query", "saved", metavar="NAME", default=None,
    help="Open the saved query NAME as the table; --where, --group-by and --sum refine it.",
)  # fmt: skip
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE",
              help="A parameter of --query.")  # fmt: skip
@click.option("--list-columns", is_flag=True, help="List the columns CLASS offers, and stop.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json", "xlsx"]), default="table",
    show_default=True,
)  # fmt: skip
@click.option("--iris", is_flag=True, help="IRIs instead of labels in table and CSV cells.")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Write to this file (needed for xlsx).",
)  # fmt: skip
@store_option("Read an on-disk Oxigraph store instead of the project's files.")
@backend_option
@click.pass_context
@friendly_errors
def table_cmd(
    ctx: click.Context,
    cls: str | None,
    columns: tuple[str, ...],
    where: tuple[str, ...],
    group_by: tuple[str, ...],
    sum_column: str | None,
    saved: str | None,
    params: tuple[str, ...],
    list_columns: bool,
    fmt: str,
    iris: bool,
    output: Path | None,
    store_path: Path | None,
    backend: str | None,
) -> None:
    """A table over any CLASS (Project, Company, kz:Agreement...): one row per instance.

    Examples: `kzgraph table Project -c region,investor,amount`;
    `kzgraph table Project --group-by region --sum amount` (per currency, hedges listed);
    `kzgraph table --query investments-by-firm -p firm=company:tbea --format csv`.
    """
    from kzgraph.graph.loading import load_shapes
    from kzgraph.queries import class_table
    from kzgraph.queries.catalogue import get_query
    from kzgraph.queries.running import label_map

    if (cls is None) == (saved is None):
        raise KzgraphError("give a CLASS or --query NAME (one of them)")
    if fmt == "xlsx" and output is None:
        raise KzgraphError("--format xlsx writes a file: give --output FILE.xlsx")
    settings: Settings = ctx.obj
    store = read_store(settings, store_path, backend)
    labels = {str(k): v for k, v in label_map(store).items()}
    request_where = class_table.Request.parse_where(where)
    if saved is not None:
        values = parse_params(params)
        query = get_query(saved, settings)
        result = store.query(query.text, query.bind(values)).without(query.hidden)
        table = class_table.from_result(result, labels, request_where, _split(group_by), sum_column)
    else:
        assert cls is not None
        schema = class_table.Schema.read(store, load_shapes(settings), labels)
        if list_columns:
            iri = schema.resolve_class(cls)
            for c in schema.columns_of(iri):
                source = f"declared by {c.declared_by}" if c.declared_by else "in the data"
                to = f" → {schema.labels.get(c.points_to, c.points_to)}" if c.points_to else ""
                click.echo(f"{c.name:<24} {c.label}{to}  ({source})")
            return
        table = class_table.build(
            schema,
            class_table.Request(cls, _split(columns), request_where, _split(group_by), sum_column),
        )
    data = table.write(fmt, iris)
    if output is not None:
        output.write_bytes(data)
        click.echo(f"wrote {len(table.rows)} rows to {output}", err=True)
    else:
        click.echo(data.decode(), nl=False)

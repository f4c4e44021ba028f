"""``kzgraph search``: find entities and sentences by their words, without SPARQL.

Argument parsing only; the work is in :mod:`kzgraph.search`.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import click

from kzgraph import search, store_state
from kzgraph.cli_support import (
    backend_option,
    friendly_errors,
    make_backend,
    require_store,
    store_option,
)
from kzgraph.derived import cache_dir, digest, files_fingerprint
from kzgraph.loading import KzgraphError
from kzgraph.querying import Store, label_map
from kzgraph.settings import Settings


def open_index(
    settings: Settings, store_path: Path | None, backend: str | None
) -> search.SearchIndex:
    """The index of the data a command reads: the project's files, a store on disk, or a remote.

    For the files and an on-disk store it is kept (in ``.kzgraph-cache/`` and in the store's
    folder) and reused while the data is unchanged, so a second search does not load anything.
    """
    store: Store | None = None

    def labels() -> dict[Any, str]:
        return dict(label_map(the_store()))

    def the_store() -> Store:
        nonlocal store
        if store is None:
            store = _open(settings, store_path, backend)
        return store

    progress = (lambda m: click.echo(m, err=True)) if sys.stderr.isatty() else None
    if backend is not None:
        return search.index_for(the_store(), labels, None, None, progress)
    if store_path is not None:
        recorded = store_state.read(require_store(store_path))
        content = recorded.content if recorded is not None and not recorded.dirty else None
        if content is None:
            # an id is needed to know the index is fresh; reading it from the store costs one pass
            from kzgraph.store import OxigraphStore

            opened = OxigraphStore.read_only(store_path)
            store = opened
            content = store_state.content_of(opened.store)
        return search.index_for(the_store(), labels, content, search.beside(store_path), progress)
    content = digest(files_fingerprint(settings), search.SCHEMA.encode())
    path = cache_dir(settings) / f"search-{content[:32]}.sqlite"
    return search.index_for(the_store(), labels, content, path, progress)


def _open(settings: Settings, store_path: Path | None, backend: str | None) -> Store:
    if backend is not None:
        from kzgraph.remote import RemoteStore

        return RemoteStore(make_backend(backend))
    from kzgraph.store import OxigraphStore, open_store

    if store_path is not None:
        return OxigraphStore.read_only(require_store(store_path))
    return open_store("oxigraph", settings=settings)


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
    if store_path is not None and backend is not None:
        raise KzgraphError("give --store or --backend, not both")
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

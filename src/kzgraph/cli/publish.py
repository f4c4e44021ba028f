"""``kzgraph serve``, ``push``, ``docs``: the graph for others (endpoint, remote store, site).

Argument parsing only; the work lives in :mod:`kzgraph.endpoint`, :mod:`kzgraph.remote`,
:mod:`kzgraph.docs`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kzgraph.cli.support import (
    friendly_errors,
    inference_option,
    make_backend,
    project_settings,
    store_option,
)
from kzgraph.core.errors import KzgraphError

if TYPE_CHECKING:
    pass


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=7878, show_default=True, type=int)
@store_option("On-disk Oxigraph store (default: in memory).")
@click.option(
    "--timeout",
    default=30.0,
    show_default=True,
    type=float,
    help="Longest a query may run, in seconds; requests may ask for less.",
)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=int,
    help="Queries answered at once: worker processes, or with --processes, threads in each "
    "serving process (sharing its one store handle).",
)
@click.option(
    "--worker-memory-mb",
    default=2048,
    show_default=True,
    type=int,
    help="Memory a query may use on top of its process's own (0: no limit); past it the "
    "process ends and is replaced.",
)
@click.option(
    "--answer-cache-mb",
    default=64,
    show_default=True,
    type=int,
    help="Memory for recent answers that cost 5 ms of CPU or more (up to 8 MB each), kept until "
    "the data changes (0: no answer is kept).",
)
@click.option(
    "--answer-disk-mb",
    default=1024,
    show_default=True,
    type=int,
    help="Disk beside a store (DIR.answers) for kept answers of any size; they outlive a restart.",
)
@click.option(
    "--processes",
    default=None,
    help="Serve with N processes on the port under a supervisor, each answering --workers "
    "queries at once in threads over one store handle (read-only; 'auto' = one per CPU). "
    "Default: one HTTP process in front of --workers worker processes.",
)
@click.option(
    "--max-rows",
    default=100_000,
    show_default=True,
    type=int,
    help="Most result rows sent for one query.",
)
@click.option("--max-request-bytes", default=1_000_000, show_default=True, type=int)
@click.option("--allow-updates", is_flag=True, help="Accept SPARQL Update and Graph Store writes.")
@click.option(
    "--token",
    envvar="KZGRAPH_TOKEN",
    default=None,
    help="Bearer token that writes must carry (or $KZGRAPH_TOKEN).",
)
@click.option("--no-validate", is_flag=True, help="Serve even if the graph fails validation.")
@click.option(
    "--max-queue",
    default=64,
    show_default=True,
    type=int,
    help="Requests that may wait for a worker; more get 503 with Retry-After.",
)
@click.option(
    "--max-answer-bytes",
    default=64_000_000,
    show_default=True,
    type=int,
    help="Largest answer body; longer results are cut at a row.",
)
@click.option(
    "--max-connections", default=1000, show_default=True, type=int, help="Open connections."
)
@click.option(
    "--header-timeout",
    default=10.0,
    show_default=True,
    type=float,
    help="Seconds a client has to send its request headers.",
)
@click.option(
    "--body-timeout",
    default=30.0,
    show_default=True,
    type=float,
    help="Seconds a client has to send its request body.",
)
@click.option(
    "--no-sandbox",
    is_flag=True,
    help="Do not install the seccomp filter that keeps the server off the network.",
)
@inference_option
@click.option(
    "--backend",
    metavar="URL",
    default=None,
    help="Serve a remote store's SPARQL endpoint (filled by 'kzgraph push') instead of an "
    "embedded store; credentials from KZGRAPH_BACKEND_USER/_PASSWORD.",
)
@click.option(
    "--backend-update",
    metavar="URL",
    default=None,
    help="The remote store's SPARQL Update URL, for --allow-updates (an Oxigraph server's "
    "follows from /query).",
)
@click.pass_context
@friendly_errors
def serve(
    ctx: click.Context, host: str, port: int, store_path: Path | None, timeout: float,
    workers: int, max_rows: int, max_request_bytes: int, allow_updates: bool,
    token: str | None, no_validate: bool, max_queue: int, max_answer_bytes: int,
    max_connections: int, header_timeout: float, body_timeout: float, no_sandbox: bool,
    inference: str, processes: str | None, answer_cache_mb: int, answer_disk_mb: int,
    worker_memory_mb: int,
    backend: str | None, backend_update: str | None,
) -> None:  # fmt: skip
    """Serve the SPARQL endpoint, API, linked-data pages and UI over the seeded graph."""
    from kzgraph.endpoint.config import ServerSettings
    from kzgraph.endpoint.serving.server import serve as run_server

    if processes is None:
        count = 0  # no supervisor: one HTTP process and its pool
    elif processes == "auto":
        count = len(os.sched_getaffinity(0))
    elif processes.isdigit() and int(processes) >= 1:
        count = int(processes)
    else:
        raise KzgraphError(f"--processes takes a number from 1 or 'auto', not {processes!r}")
    try:
        settings = ServerSettings(
            project=project_settings(ctx), store_path=store_path, timeout=timeout, workers=workers,
            processes=count, answer_cache_mb=answer_cache_mb, answer_disk_mb=answer_disk_mb,
            worker_memory_mb=worker_memory_mb,
            max_rows=max_rows, max_request_bytes=max_request_bytes, allow_updates=allow_updates,
            token=token, validate=not no_validate, inference=inference, max_queue=max_queue,
            max_answer_bytes=max_answer_bytes, max_connections=max_connections,
            header_timeout=header_timeout, body_timeout=body_timeout, sandbox=not no_sandbox,
            backend=make_backend(backend, backend_update) if backend is not None else None,
        )  # fmt: skip
    except ValueError as exc:
        raise KzgraphError(str(exc)) from None
    run_server(settings, host, port)


@click.command()
@click.option(
    "--backend",
    metavar="URL",
    required=True,
    help="The remote store's SPARQL query URL (an Oxigraph server's /query).",
)
@click.option("--backend-update", metavar="URL", default=None, help="Its SPARQL Update URL.")
@click.option("--backend-store", metavar="URL", default=None, help="Its Graph Store URL.")
@click.option(
    "--graph",
    metavar="IRI",
    default=None,
    help="With FILES: the graph their triples go to (default: graph/loaded/<file name>).",
)
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
@friendly_errors
def push(
    ctx: click.Context,
    backend: str,
    backend_update: str | None,
    backend_store: str | None,
    graph: str | None,
    files: tuple[Path, ...],
) -> None:
    """Put the project's named graphs, or your FILES, into a remote store, then verify counts.

    Without FILES the project's graphs replace their copies on the store and those that left
    the project are dropped. With FILES (any RDF format, gzipped or not) each file is read as
    `kzgraph load` reads it and its graphs replace their copies; nothing else is touched.
    """
    from tqdm import tqdm

    from kzgraph.remote.push import named_graphs, push_files
    from kzgraph.remote.push import push as push_graphs

    remote = make_backend(backend, backend_update, backend_store)
    if graph is not None and not files:
        raise click.UsageError("--graph names where FILES go: give the files too")
    if files:
        with tqdm(unit="triple", unit_scale=True, desc="pushing") as bar:
            report = push_files(list(files), remote, graph, lambda _g, n: bar.update(n))
    else:
        from kzgraph.graph.loading import load

        ds = load(project_settings(ctx))
        total = sum(len(g) for g in named_graphs(ds).values())
        with tqdm(total=total, unit="triple", unit_scale=True, desc="pushing") as bar:
            report = push_graphs(ds, remote, lambda _g, n: bar.update(n))
    click.echo(report.to_text())


@click.command(name="docs")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("site"),
    show_default=True,
)
@click.option(
    "--figures",
    is_flag=True,
    help="Instead: write the data's figures into README.md and docs/guides/*.md.",
)
@click.pass_context
@friendly_errors
def docs_cmd(ctx: click.Context, output: Path, figures: bool) -> None:
    """Generate the HTML documentation of the ontology, shapes, schemes, queries and guides."""
    if figures:
        from kzgraph.docs.data_figures import update

        changed = update(project_settings(ctx), say=lambda m: click.echo(m, err=True))
        click.echo(f"{len(changed)} file(s) updated" if changed else "every figure is current")
        return
    from kzgraph.docs.site import build_site

    for path in build_site(project_settings(ctx), output):
        click.echo(f"wrote {path}", err=True)

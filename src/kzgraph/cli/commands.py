"""The ``kzgraph`` command line: argument parsing only; the work lives in plain functions."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kzgraph.cli.support import (
    RDF_FORMAT_NAMES,
    AliasedChoice,
    F,
    backend_option,
    friendly_errors,
    make_backend,
    parse_params,
    read_store,
    require_store,
    store_option,
)
from kzgraph.core.choices import ENGINES, RDF_EXPORT_FORMATS, RESULT_FORMATS
from kzgraph.core.errors import KzgraphError
from kzgraph.core.settings import Settings

if TYPE_CHECKING:
    from kzgraph.store.engines import OxigraphStore, QueryResult, Store
    from kzgraph.validation.engines import FileValidation
    from kzgraph.validation.report import Report

# Every command imports what it needs when it runs: `kzgraph --help` and a saved query must not
# pay for rdflib's parsers, pyshacl, networkx or matplotlib (bench/cli.py measures the start).

inference_option = click.option(
    "--inference",
    type=click.Choice(["none", "rdfs", "owlrl"]),
    default="none",
    show_default=True,
    help="Query or validate over the RDFS or OWL 2 RL closure (named graph kzg:inferred).",
)


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


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


@main.command()
@store_option("Also write the dataset into an on-disk Oxigraph store at this path.")
@click.pass_context
@friendly_errors
def build(ctx: click.Context, store_path: Path | None) -> None:
    """Load ontology and graph, and print counts per named graph and per class."""
    from kzgraph.graph.loading import data_files, load, ontology_files
    from kzgraph.queries.stats import compute
    from kzgraph.store import state as store_state
    from kzgraph.store.engines import OxigraphStore, open_store

    settings = _settings(ctx)
    files = [*ontology_files(settings), *data_files(settings)]
    started = time.perf_counter()
    click.echo(f"loading {len(files)} files from {settings.root}", err=True)
    ds = load(settings)
    click.echo(f"loaded in {time.perf_counter() - started:.2f} s", err=True)
    if store_path is not None:
        from kzgraph.endpoint.execution.answer_cache import forget_beside

        store_path.mkdir(parents=True, exist_ok=True)
        store_state.mark_dirty(store_path)
        forget_beside(store_path)
        store = open_store("oxigraph", store_path, settings, dataset=ds)
        assert isinstance(store, OxigraphStore)
        click.echo(f"wrote {len(store)} quads to the Oxigraph store at {store_path}", err=True)
        record_validation(settings, store, store_path, store_state.content_of(store.store))
    click.echo(compute(ds).to_text())


@main.command(name="load")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@store_option("The on-disk Oxigraph store to load into (created if missing).", required=True)
@click.option("--graph", default=None, help="Named graph for the triples (default: one per file).")
@click.pass_context
@friendly_errors
def load_cmd(
    ctx: click.Context, files: tuple[Path, ...], store_path: Path, graph: str | None
) -> None:
    """Load RDF files (N-Quads, TriG, Turtle, N-Triples, RDF/XML, JSON-LD, gzipped or not).

    Every file is checked before anything is written, so a syntax error leaves the store as it
    was; then each is bulk-loaded into its graphs and into the default graph, the merge.
    """
    import pyoxigraph as ox
    from tqdm import tqdm

    from kzgraph.endpoint.execution.answer_cache import forget_beside
    from kzgraph.queries.catalogue import ParameterError, expand_iri
    from kzgraph.store import state as store_state
    from kzgraph.store.bulk import (
        LINE_FORMATS,
        check,
        default_graph_for,
        format_of,
        load_file,
        unpacked,
    )
    from kzgraph.store.engines import OxigraphStore

    target = None
    if graph is not None:
        try:
            target = ox.NamedNode(str(expand_iri(graph, "graph")))
        except ParameterError as exc:
            raise KzgraphError(str(exc)) from None
    from kzgraph.validation.engines import DEFAULT_ENGINE, FileValidation, check_shapes

    settings = _settings(ctx)
    check_shapes(DEFAULT_ENGINE, settings.shapes_file)  # refused before anything is written
    total = sum(f.stat().st_size for f in files)
    for f in files:
        format_of(f)  # an unknown extension is refused before anything is read
    store = OxigraphStore(store_path)
    # A store that held nothing is emptied again if a file fails to parse, so it is loaded at
    # once; a store with data is only written once every file has parsed.
    fresh = store.is_empty()
    if not fresh:
        with tqdm(total=total, unit="B", unit_scale=True, desc="checking") as bar:
            for f in files:
                check(f, bar.update)
    before = store_state.mark_dirty(store_path)  # a crash from here on makes the next start recheck
    forget_beside(store_path)
    loaded: list[tuple[str, str]] = []
    started = time.perf_counter()
    running: FileValidation | None = None
    with contextlib.ExitStack() as stack:
        if fresh and len(files) == 1 and format_of(files[0]) in LINE_FORMATS:
            # one line-based file into an empty store: validated as it is, while it loads
            folder = stack.enter_context(tempfile.TemporaryDirectory(dir=store_path.parent))
            gz = files[0].suffix.lower() == ".gz"  # a plain file is read as it is
            with tqdm(
                total=total, unit="B", unit_scale=True, desc="unpacking", disable=not gz
            ) as bar:
                plain, digest = unpacked(files[0], Path(folder), bar.update)
            running = FileValidation(settings.shapes_file, plain)
            click.echo("validating the file (shacl engine) while it loads ...", err=True)
            sources = [(plain, files[0], digest)]
        else:
            sources = [(f, f, None) for f in files]
        with tqdm(total=sum(p.stat().st_size for p, _, _ in sources), unit="B", unit_scale=True,
                  desc="loading") as bar:  # fmt: skip
            for path, given, known in sources:
                try:
                    digest = load_file(store.store, path, target, bar.update, shown_as=given)
                except KzgraphError:
                    if fresh:
                        store.store.clear()
                        store.store.flush()
                        store_state.write(store_path, store_state.StoreState())
                    raise
                loaded.append((known or digest, (target or default_graph_for(given)).value))
        store.store.flush()
        seconds = time.perf_counter() - started
        size = len(store)
        base = f"{0:064x}" if fresh else None if before.dirty else before.content
        if base:
            content = store_state.with_files(base, loaded)
        else:  # the store's record was missing or stale before: its merge and id are redone
            with tqdm(total=size, unit="quad", unit_scale=True, desc="merging") as bar:
                store.bulk_refresh_union(bar.update)
            content = store_state.content_of(store.store)
        click.echo(
            f"loaded {len(files)} file(s) in {seconds:.1f} s; the store holds {size:,} quads",
            err=True,
        )
        record_validation(settings, store, store_path, content, running)


def record_validation(
    settings: Settings,
    store: OxigraphStore,
    store_path: Path,
    content: str,
    running: FileValidation | None = None,
) -> None:
    """Validate a store after a load or build and record the outcome with its content id.

    The user's own RDF need not follow kzgraph's shapes, so findings are reported, not refused;
    a server started on the store later reuses the record instead of validating again.
    """
    from kzgraph.graph import derived
    from kzgraph.graph.loading import load_shapes
    from kzgraph.store import state as store_state
    from kzgraph.validation.report import validate_store

    started = time.perf_counter()
    state = store_state.StoreState(content)
    if running is None:
        click.echo("validating the store (shacl engine) ...", err=True)
    report = validate_store(
        store.store,
        load_shapes(settings),
        engine="shacl",
        shapes_file=settings.shapes_file,
        running=running,
    )
    key = derived.store_validation_key(settings, content)
    state.validated = {"key": key, "conforms": report.conforms, "findings": len(report.findings)}
    store_state.write(store_path, state)
    outcome = (
        "conforms to the shapes"
        if report.conforms
        else f"does not conform: {len(report.findings)} finding(s); "
        f"kzgraph validate --store {store_path} lists them"
    )
    click.echo(f"validation: {outcome} ({time.perf_counter() - started:.1f} s)", err=True)


@main.command(name="validate")
@click.option(
    "--format",
    "fmt",
    type=AliasedChoice(
        {
            "text": "text",
            "txt": "text",
            "json": "json",
            **{k: "turtle" for k, v in RDF_FORMAT_NAMES.items() if v == "ttl"},
        }
    ),
    default="text",
    show_default=True,
    help="Report format.",
)
@click.option(
    "--no-cache", is_flag=True, help="Validate even when these exact inputs conformed before."
)
@click.option(
    "--engine",
    type=click.Choice(["shacl", "pyshacl", "sparql"]),
    default=None,
    help="shacl (the default; Rust; all 98 W3C core tests), pyshacl (the reference, slow "
    "past 100k quads) or sparql (the shapes compiled to SPARQL: fast, refuses what it cannot "
    "run; the only one for --backend, and its default). A shape an engine cannot run is "
    "refused in one line, exit 2.",
)
@store_option("Validate this on-disk Oxigraph store instead of the seeded files.")
@inference_option
@backend_option
@click.pass_context
@friendly_errors
def validate_cmd(
    ctx: click.Context,
    fmt: str,
    no_cache: bool,
    engine: str | None,
    store_path: Path | None,
    inference: str,
    backend: str | None,
) -> None:
    """Validate the graph against the SHACL shapes; exit 1 on a violation, 2 on a refusal.

    Warnings and infos are listed but never fail the exit code, on any engine. A conforming
    result is remembered by the SHA-256 of the data files, ontology, shapes and engine; unchanged
    inputs answer at once (the server uses the same record).
    """
    from kzgraph.graph import derived
    from kzgraph.graph.loading import load, load_shapes
    from kzgraph.validation.engines import check_shapes
    from kzgraph.validation.inference import expand
    from kzgraph.validation.report import validate

    settings = _settings(ctx)
    engine = engine or ("sparql" if backend is not None else "shacl")
    if backend is not None:
        from kzgraph.remote.stores import RemoteStore
        from kzgraph.validation.report import validate_store

        if engine != "sparql" or store_path is not None or inference != "none":
            raise KzgraphError("--backend validates the remote store with --engine sparql only")
        check_shapes("sparql", settings.shapes_file)
        click.echo(f"validating {backend} against ontology/shapes.ttl (SPARQL) ...", err=True)
        remote = RemoteStore(make_backend(backend))
        _print_report(validate_store(remote, load_shapes(settings)), fmt)
        return
    check_shapes(engine, settings.shapes_file)
    if store_path is not None:
        _validate_store_cmd(settings, store_path, engine, fmt, inference)
        return
    key = derived.validation_key(settings, derived.files_fingerprint(settings), inference, engine)
    if fmt == "text" and not no_cache and derived.cached_conformance(settings, key):
        click.echo(
            f"(unchanged inputs, sha256 {key[:12]}…: the last run conformed; --no-cache re-runs)",
            err=True,
        )
        click.echo("Conforms: the graph satisfies every shape.")
        return
    click.echo(f"validating against ontology/shapes.ttl ({engine}) ...", err=True)
    dataset = expand(load(settings), inference) if inference != "none" else None
    report = validate(settings, dataset=dataset, engine=engine)
    derived.remember_conformance(settings, key, report.conforms, len(report.findings))
    _print_report(report, fmt)


def _print_report(report: Report, fmt: str) -> None:
    """Print a validation report in ``fmt`` and exit 1 when it does not conform."""
    if fmt == "json":
        click.echo(report.to_json())
    elif fmt == "turtle":
        click.echo(report.to_turtle())
    else:
        click.echo(report.to_text())
    sys.exit(0 if report.conforms else 1)


def _validate_store_cmd(
    settings: Settings, store_path: Path, engine: str, fmt: str, inference: str
) -> None:
    """Validate an on-disk store with ``engine`` (pyshacl reads it into memory first)."""
    import pyoxigraph as ox

    from kzgraph.graph.loading import load_shapes
    from kzgraph.store.engines import OxigraphStore
    from kzgraph.validation.report import validate_graph, validate_store

    if inference != "none":
        raise KzgraphError("--inference applies to the seeded files, not to --store")
    store = OxigraphStore.read_only(require_store(store_path))
    click.echo(f"validating {store_path} against ontology/shapes.ttl ({engine}) ...", err=True)
    if engine == "pyshacl":
        from rdflib import Graph

        data = Graph()
        data.parse(
            data=store.store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph()),
            format="nt",
        )
        report = validate_graph(data, load_shapes(settings))
    else:
        report = validate_store(
            store.store,
            load_shapes(settings),
            threads=os.cpu_count() or 1,
            engine=engine,
            shapes_file=settings.shapes_file,
        )
    _print_report(report, fmt)


@main.command()
@store_option("Count an on-disk Oxigraph store (by SPARQL) instead of the seeded files.")
@backend_option
@click.pass_context
@friendly_errors
def stats(ctx: click.Context, store_path: Path | None, backend: str | None) -> None:
    """Print triple counts per named graph, instances per class and quotations per source."""
    if store_path is None and backend is None:
        from kzgraph.graph.loading import load
        from kzgraph.queries.stats import compute

        click.echo(compute(load(_settings(ctx))).to_text())
        return
    from kzgraph.queries.stats import compute_store

    click.echo(compute_store(read_store(_settings(ctx), store_path, backend)).to_text())


@main.command()
@click.option(
    "--format",
    "fmt",
    type=AliasedChoice({k: v for k, v in RDF_FORMAT_NAMES.items() if v in RDF_EXPORT_FORMATS}),
    default=None,
    help="ttl, nt and xml merge the named graphs; nq, trig and jsonld keep them "
    "(default: from --output's extension, else trig).",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None)
@store_option("Export an on-disk Oxigraph store (streamed, opened read-only).")
@backend_option
@click.pass_context
@friendly_errors
def export(
    ctx: click.Context,
    fmt: str | None,
    output: Path | None,
    store_path: Path | None,
    backend: str | None,
) -> None:
    """Write the whole dataset (or a store's, or a remote store's graphs) to stdout or -o."""
    from kzgraph.store import export as export_mod

    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output is not None else ""
        fmt = RDF_FORMAT_NAMES.get(suffix, "trig")
    if store_path is not None:
        store = read_store(_settings(ctx), store_path, backend)
        target = output.open("wb") if output is not None else sys.stdout.buffer
        try:
            written = export_mod.serialize_store(store.store, fmt, target)  # type: ignore[attr-defined]
        finally:
            if output is not None:
                target.close()
        if output is not None:
            click.echo(f"wrote {written:,} quads to {output}", err=True)
        return
    if backend is not None:
        from kzgraph.graph.loading import new_dataset
        from kzgraph.remote.stores import RemoteStore

        ds = new_dataset()
        ds.parse(data=RemoteStore(make_backend(backend)).nquads(), format="nquads")
    else:
        from kzgraph.graph.loading import load

        ds = load(_settings(ctx))
    data = export_mod.serialize(ds, fmt)
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)
        click.echo(f"wrote {len(data)} bytes to {output}", err=True)


@main.command()
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

        ds = load(_settings(ctx))
        total = sum(len(g) for g in named_graphs(ds).values())
        with tqdm(total=total, unit="triple", unit_scale=True, desc="pushing") as bar:
            report = push_graphs(ds, remote, lambda _g, n: bar.update(n))
    click.echo(report.to_text())


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


@main.command()
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
    store = read_store(_settings(ctx), store_path, backend, engine, inference)
    _print_result(store.query(query), fmt, store, iris)


@main.command(name="queries")
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

    catalogue = load_catalogue(_settings(ctx))
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


@main.command(name="query", cls=_SavedQueryCommand)
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
    settings = _settings(ctx)
    saved = get_query(name, settings)
    store = read_store(settings, store_path, backend, engine, inference)
    values = resolve_entities(
        saved, values, lambda: {str(k): v for k, v in label_map(store).items()}, mentioned(store)
    )
    bindings = saved.bind(values)
    _print_result(store.query(saved.text, bindings).without(saved.hidden), fmt, store, iris)


@main.command()
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
            project=_settings(ctx), store_path=store_path, timeout=timeout, workers=workers,
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


@main.command(name="lint")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--min-severity",
    type=click.Choice(["INFO", "WARNING", "ERROR"]),
    default="INFO",
    show_default=True,
    help="Hide findings below this severity.",
)
@click.pass_context
@friendly_errors
def lint_cmd(ctx: click.Context, fmt: str, min_severity: str) -> None:
    """Hygiene checks on ontology, shapes, data and queries; exit 1 on any ERROR."""
    from kzgraph.validation import lint as lint_mod

    order = {"ERROR": 0, "WARNING": 1, "INFO": 2}
    findings = lint_mod.lint(_settings(ctx))
    shown = [f for f in findings if order[f.severity] <= order[min_severity]]
    click.echo(lint_mod.to_json(shown) if fmt == "json" else lint_mod.to_text(shown))
    sys.exit(1 if any(f.severity == "ERROR" for f in findings) else 0)


@main.command(name="diff")
@click.argument("old")
@click.argument("new", default=".")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "trig"]), default="text", show_default=True
)
@click.pass_context
@friendly_errors
def diff_cmd(ctx: click.Context, old: str, new: str, fmt: str) -> None:
    """Terms and facts added, removed or changed between OLD and NEW (folders or git revisions)."""
    from kzgraph.graph.diff import diff

    result = diff(old, new, _settings(ctx).root)
    click.echo(result.to_text() if fmt == "text" else result.to_rdf().serialize(format="trig"))


@main.command(name="docs")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("site"),
    show_default=True,
)
@click.pass_context
@friendly_errors
def docs_cmd(ctx: click.Context, output: Path) -> None:
    """Generate the HTML documentation of the ontology, shapes, schemes and queries."""
    from kzgraph.docs.site import build_site

    for path in build_site(_settings(ctx), output):
        click.echo(f"wrote {path}", err=True)


def _register_network() -> None:
    from kzgraph.cli.explore import search_cmd, table_cmd
    from kzgraph.cli.network import network
    from kzgraph.cli.sources import import_cmd, source

    main.add_command(network)
    main.add_command(source)
    main.add_command(import_cmd)
    main.add_command(search_cmd)
    main.add_command(table_cmd)


_register_network()

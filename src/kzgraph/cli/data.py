"""``kzgraph build``, ``load``, ``validate``, ``stats``, ``export``: the data in, checked, out.

Argument parsing only; the work lives in the stage packages.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kzgraph.cli.support import (
    RDF_FORMAT_NAMES,
    AliasedChoice,
    backend_option,
    friendly_errors,
    inference_option,
    make_backend,
    project_settings,
    read_store,
    require_store,
    store_option,
)
from kzgraph.core.choices import RDF_EXPORT_FORMATS
from kzgraph.core.errors import KzgraphError
from kzgraph.core.settings import Settings

if TYPE_CHECKING:
    import pyoxigraph as ox

    from kzgraph.store.engines import OxigraphStore, Store
    from kzgraph.validation.engines import FileValidation
    from kzgraph.validation.report import Report


@click.command()
@store_option("Also write the dataset into an on-disk Oxigraph store at this path.")
@click.pass_context
@friendly_errors
def build(ctx: click.Context, store_path: Path | None) -> None:
    """Load ontology and graph, and print counts per named graph and per class."""
    from kzgraph.graph.loading import data_files, load, ontology_files
    from kzgraph.queries.stats import compute
    from kzgraph.store import state as store_state
    from kzgraph.store.engines import OxigraphStore, open_store

    settings = project_settings(ctx)
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


@click.command(name="load")
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
    from tqdm import tqdm

    from kzgraph.endpoint.execution.answer_cache import forget_beside
    from kzgraph.store import state as store_state
    from kzgraph.store.bulk import check, default_graph_for, format_of, load_file
    from kzgraph.store.engines import OxigraphStore
    from kzgraph.validation.engines import DEFAULT_ENGINE, check_shapes

    target = _graph_target(graph)
    settings = project_settings(ctx)
    check_shapes(DEFAULT_ENGINE, settings.shapes_file)  # refused before anything is written
    total = sum(f.stat().st_size for f in files)
    for f in files:
        format_of(f)  # an unknown extension is refused before anything is read
    store = OxigraphStore(store_path)
    fresh = store.is_empty()  # loaded at once, emptied again on a parse error; else checked first
    if not fresh:
        with tqdm(total=total, unit="B", unit_scale=True, desc="checking") as bar:
            for f in files:
                check(f, bar.update)
    before = store_state.mark_dirty(store_path)  # a crash from here on makes the next start recheck
    forget_beside(store_path)
    loaded: list[tuple[str, str]] = []
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        sources, running = _validated_as_loaded(files, fresh, stack, store_path, settings)
        with tqdm(total=sum(p.stat().st_size for p, _, _ in sources), unit="B", unit_scale=True,
                  desc="loading") as bar:  # fmt: skip
            for path, given, known in sources:
                try:
                    digest = load_file(store.store, path, target, bar.update, shown_as=given)
                except KzgraphError:
                    if fresh:  # emptied again, its record with it
                        store.store.clear()
                        store.store.flush()
                        store_state.write(store_path, store_state.StoreState())
                    raise
                loaded.append((known or digest, (target or default_graph_for(given)).value))
        store.store.flush()
        seconds = time.perf_counter() - started
        size = len(store)
        base = f"{0:064x}" if fresh else None if before.dirty else before.content
        content = _content_after(store, base, loaded)
        click.echo(
            f"loaded {len(files)} file(s) in {seconds:.1f} s; the store holds {size:,} quads",
            err=True,
        )
        record_validation(settings, store, store_path, content, running)


def _validated_as_loaded(
    files: tuple[Path, ...],
    fresh: bool,
    stack: contextlib.ExitStack,
    store_path: Path,
    settings: Settings,
) -> tuple[list[tuple[Path, Path, str | None]], FileValidation | None]:
    """What to load (path read, path shown, known digest), and the validation running beside.

    One line-based file into an empty store is validated as it is, in a thread while it loads
    (a gzipped one is unpacked beside the store first: the engine reads plain files); any other
    load is validated on the store afterwards.
    """
    from tqdm import tqdm

    from kzgraph.store.bulk import LINE_FORMATS, format_of, unpacked
    from kzgraph.validation.engines import FileValidation

    if not (fresh and len(files) == 1 and format_of(files[0]) in LINE_FORMATS):
        return [(f, f, None) for f in files], None
    folder = stack.enter_context(tempfile.TemporaryDirectory(dir=store_path.parent))
    gz = files[0].suffix.lower() == ".gz"
    size = files[0].stat().st_size
    with tqdm(total=size, unit="B", unit_scale=True, desc="unpacking", disable=not gz) as bar:
        plain, digest = unpacked(files[0], Path(folder), bar.update)
    running = FileValidation(settings.shapes_file, plain)
    click.echo("validating the file (shacl engine) while it loads ...", err=True)
    return [(plain, files[0], digest)], running


def _graph_target(graph: str | None) -> ox.NamedNode | None:
    """The named graph ``--graph`` names (an IRI or a CURIE), or None for one per file."""
    import pyoxigraph as ox

    from kzgraph.queries.catalogue import ParameterError, expand_iri

    if graph is None:
        return None
    try:
        return ox.NamedNode(str(expand_iri(graph, "graph")))
    except ParameterError as exc:
        raise KzgraphError(str(exc)) from None


def _content_after(store: OxigraphStore, base: str | None, loaded: list[tuple[str, str]]) -> str:
    """The store's content id after a load: grown by the files', or derived again from the store.

    Derived again (the merge redone first) when the store's record was missing or stale before
    the load, since then the id it held no longer said what the store holds.
    """
    from tqdm import tqdm

    from kzgraph.store import state as store_state

    if base:
        return store_state.with_files(base, loaded)
    with tqdm(total=len(store), unit="quad", unit_scale=True, desc="merging") as bar:
        store.bulk_refresh_union(bar.update)
    return store_state.content_of(store.store)


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


@click.command(name="validate")
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

    settings = project_settings(ctx)
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


@click.command()
@store_option("Count an on-disk Oxigraph store (by SPARQL) instead of the seeded files.")
@backend_option
@click.pass_context
@friendly_errors
def stats(ctx: click.Context, store_path: Path | None, backend: str | None) -> None:
    """Print what the graph holds: projects, firms, regions, the network; per graph and class."""
    from kzgraph.network.projections import largest_components
    from kzgraph.queries.stats import compute, compute_store

    settings = project_settings(ctx)
    if store_path is None and backend is None:
        from kzgraph.graph.loading import load
        from kzgraph.store.engines import OxigraphStore

        ds = load(settings)
        embedded = OxigraphStore()
        embedded.load_dataset(ds)
        counts = compute(ds)
        store: Store = embedded
    else:
        store = read_store(settings, store_path, backend)
        counts = compute_store(store)
    for name, (nodes, largest) in largest_components(store, settings).items():
        counts.summary[f"{name}: largest component, of nodes"] = largest
        counts.summary[f"{name}: nodes"] = nodes
    click.echo(counts.to_text())


@click.command()
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
        store = read_store(project_settings(ctx), store_path, backend)
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

        ds = load(project_settings(ctx))
    data = export_mod.serialize(ds, fmt)
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)
        click.echo(f"wrote {len(data)} bytes to {output}", err=True)

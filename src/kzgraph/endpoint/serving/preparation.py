"""What a server starts from: the data checked and ready, embedded or remote.

Kept apart from :mod:`kzgraph.endpoint.serving.server` (which binds the port and runs the event
loop) so that the ``--processes`` supervisor (:mod:`kzgraph.endpoint.serving.processes`), which
prepares once and forks, and the single-process server both read it without importing each other.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kzgraph.core.errors import KzgraphError
from kzgraph.docs import build as docs_build
from kzgraph.endpoint.config import ServerSettings
from kzgraph.endpoint.execution.state import ServerState, nquads_of
from kzgraph.graph.loading import load, new_dataset
from kzgraph.store.engines import OxigraphStore
from kzgraph.validation.engines import DEFAULT_ENGINE, check_shapes

log = logging.getLogger("kzgraph.endpoint")


@dataclass
class Prepared:
    """A checked store, ready to serve: what every serving process starts from."""

    store: OxigraphStore
    #: What validation found (empty with --no-validate).
    validation: dict[str, Any] = field(default_factory=dict)
    docs_dir: Path | None = None


def prepare(settings: ServerSettings, relay: str | None = None) -> ServerState:
    """The state a single-process server answers from, its worker pool started.

    ``relay``: with a backend, the Unix socket of the relay that reaches it.
    """
    if settings.backend is not None:
        return prepare_remote(settings, relay)
    return start_state(settings, prepare_data(settings))


def prepare_remote(settings: ServerSettings, relay: str | None) -> ServerState:
    """Serve a remote store: reachable, validated unless told not to, read-only."""
    import dataclasses
    import os

    from kzgraph.graph.loading import load_shapes
    from kzgraph.remote.stores import RemoteStore, graph_counts
    from kzgraph.validation.report import validate_store

    assert settings.backend is not None
    # the server's own reads (labels, pages, counts) get the request time limit too
    backend = dataclasses.replace(settings.backend, timeout=max(settings.timeout, 60.0))
    store = RemoteStore(backend, relay)
    counts = graph_counts(store)  # reachable, credentials accepted, and not empty
    size = sum(counts.values())
    if size == 0:
        raise KzgraphError(
            f"the backend {backend.query_url} holds no named graph: fill it with "
            f"'kzgraph push --backend {backend.query_url}' first"
        )
    mode = "writes allowed" if settings.allow_updates else "read-only"
    log.info("backend: %s, %d quads in named graphs (%s)", backend.query_url, size, mode)
    validation: dict[str, Any] = {}
    if settings.validate:
        check_shapes("sparql", settings.project.shapes_file)
        log.info("validation: running the SPARQL-compiled shapes on the backend ...")
        report = validate_store(store, load_shapes(settings.project), threads=os.cpu_count() or 1)
        if not report.conforms:
            raise KzgraphError(
                f"the backend does not conform to the shapes ({len(report.findings)} findings); "
                f"run 'kzgraph validate --backend {backend.query_url}', or start with "
                "--no-validate\n" + report.to_text()[:20_000]
            )
        log.info("validation: the backend conforms to the shapes")
        validation = {"conforms": True, "findings": 0, "scope": "full"}
    state = ServerState.start_remote(settings, store, relay, sorted(counts))
    state.validation = validation
    state.docs_dir = docs_build.start(
        settings.project, json.dumps(counts, sort_keys=True).encode(), store
    )
    return state


def start_state(settings: ServerSettings, prepared: Prepared) -> ServerState:
    """Start the worker pool over a prepared store."""
    state = ServerState.start(settings, prepared.store)
    state.validation = dict(prepared.validation)
    state.docs_dir = prepared.docs_dir
    where = "on snapshots" if prepared.store.path is not None else "on copies"
    log.info("workers: %d processes %s, timeout %g s", settings.workers, where, settings.timeout)
    return state


def prepare_data(settings: ServerSettings) -> Prepared:
    """The checked store; refuses a graph that fails validation unless told.

    An on-disk store that already holds data is the source of truth and is opened as it is:
    nothing is re-read, re-hashed or re-validated when its recorded content id and shapes are
    unchanged (:mod:`kzgraph.store.state`), so start-up does not grow with the data. Otherwise
    (a new store, the in-memory default, or --inference) the dataset is built from the files.
    """
    if settings.validate:  # shapes the engine cannot run are refused before anything is written
        check_shapes(DEFAULT_ENGINE, settings.project.shapes_file)
    store = OxigraphStore(settings.store_path)
    if settings.store_path is not None and not store.is_empty() and settings.inference == "none":
        return prepare_existing(settings, store, settings.store_path)
    return prepare_from_files(settings, store)


def prepare_existing(settings: ServerSettings, store: OxigraphStore, path: Path) -> Prepared:
    """Serve an existing on-disk store, checking only what its record does not vouch for."""
    from kzgraph.graph import derived
    from kzgraph.graph.loading import load_shapes
    from kzgraph.store import state as store_state
    from kzgraph.validation.report import validate_store

    recorded = store_state.read(path)
    if recorded is None or recorded.dirty or not recorded.content:
        log.info("store: no clean record of its content; re-deriving the merge and its id")
        store.bulk_refresh_union()
        recorded = store_state.StoreState(store_state.content_of(store.store))
        store_state.write(path, recorded)
    content = recorded.content or ""
    log.info("store: %s, content %s…", path, content[:12])
    if settings.validate:
        key = derived.store_validation_key(settings.project, content)
        conforms = recorded.conforms_for(key)
        if conforms is None:
            log.info("validation: running the shacl engine on the store ...")
            report = validate_store(
                store.store,
                load_shapes(settings.project),
                engine=DEFAULT_ENGINE,
                shapes_file=settings.project.shapes_file,
            )
            recorded.validated = {
                "key": key,
                "conforms": report.conforms,
                "findings": len(report.findings),
            }
            store_state.write(path, recorded)
            if not report.conforms:
                raise KzgraphError(
                    f"the store does not conform to the shapes ({len(report.findings)} findings); "
                    f"run 'kzgraph validate --store {path}', or start with --no-validate\n"
                    + report.to_text()[:20_000]
                )
        elif not conforms:
            raise KzgraphError(
                f"the store does not conform to the shapes (recorded for this content); run "
                f"'kzgraph validate --store {path}', or start with --no-validate"
            )
        log.info(
            "validation: the store conforms to the shapes%s",
            "" if conforms is None else " (recorded)",
        )
    validation = {"conforms": True, "findings": 0, "scope": "full"} if settings.validate else {}
    # keyed by the store's content id: graph/ is not read, whatever its size
    docs = docs_build.start(settings.project, content.encode(), store)
    return Prepared(store, validation, docs)


def prepare_from_files(settings: ServerSettings, store: OxigraphStore) -> Prepared:
    """Fill the store from the project's files (with --inference, from a store's own data)."""
    from kzgraph.graph import derived
    from kzgraph.store import state as store_state
    from kzgraph.validation.inference import INFERRED, expand

    fresh = store.is_empty()
    # What the data is, for the caches: the files when the store is filled from them (blank
    # node names change on every parse), else the store's own N-Quads (its names persist).
    if fresh:
        ds = load(settings.project)
        fingerprint = derived.files_fingerprint(settings.project)
    else:
        fingerprint = nquads_of(store.store)
        ds = new_dataset()
        ds.parse(data=fingerprint, format="nquads")
        ds.remove_graph(ds.graph(INFERRED))
    if settings.inference != "none":
        expand(ds, settings.inference)
        log.info("inference: %s closure added as %s", settings.inference, INFERRED)
    path = settings.store_path
    if path is not None:
        store_state.mark_dirty(path)
    store.load_dataset(ds)
    recorded = store_state.StoreState(store_state.content_of(store.store))
    if path is not None:
        store_state.write(path, recorded)
    log.info("store: %s, %d quads", path or "in memory", len(store))
    if settings.validate:
        check_conformance(settings, store, fingerprint)
        if path is not None:  # pyshacl and the SPARQL engine agree; a restart reuses this
            key = derived.store_validation_key(settings.project, recorded.content or "")
            recorded.validated = {"key": key, "conforms": True, "findings": 0}
            store_state.write(path, recorded)
    validation = {"conforms": True, "findings": 0, "scope": "full"} if settings.validate else {}
    return Prepared(store, validation, docs_build.start(settings.project, fingerprint, store))


def check_conformance(settings: ServerSettings, store: OxigraphStore, nquads: bytes) -> None:
    """Validate unless a report for exactly this data and these shapes is already on disk."""
    from kzgraph.graph import derived
    from kzgraph.graph.loading import load_shapes
    from kzgraph.validation.report import validate_store

    key = derived.validation_key(settings.project, nquads, settings.inference, DEFAULT_ENGINE)
    cached = derived.cached_conformance(settings.project, key)
    if cached is True:
        log.info("validation: unchanged data and shapes (%s…), conforms (cached)", key[:12])
        return
    log.info("validation: running the %s engine ...", DEFAULT_ENGINE)
    report = validate_store(
        store.store,
        load_shapes(settings.project),
        engine=DEFAULT_ENGINE,
        shapes_file=settings.project.shapes_file,
    )
    derived.remember_conformance(settings.project, key, report.conforms, len(report.findings))
    if not report.conforms:
        raise KzgraphError(
            f"the graph does not conform to the shapes ({len(report.findings)} findings); "
            "run 'kzgraph validate', or start with --no-validate\n" + report.to_text()
        )
    log.info("validation: the graph conforms to the shapes")

"""Start the endpoint: load, validate, fill the store, start the workers, serve with uvicorn."""

from __future__ import annotations

import errno
import logging
import socket
import sys
from pathlib import Path

import uvicorn
from rdflib import Dataset

from kzgraph.endpoint.config import ServerSettings
from kzgraph.endpoint.state import ServerState, nquads_of
from kzgraph.loading import KzgraphError, load, new_dataset
from kzgraph.store import OxigraphStore
from kzgraph.validation import validate

log = logging.getLogger("kzgraph.endpoint")


def prepare(settings: ServerSettings) -> ServerState:
    """The state a server answers from; refuses a graph that fails validation unless told.

    The dataset is built once: from the files for a new store, from the store when an on-disk
    store already holds data (which may carry updates); inference and validation both use it.
    """
    from kzgraph import derived
    from kzgraph.inference import INFERRED, expand

    store = OxigraphStore(settings.store_path)
    fresh = len(store) == 0
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
    if fresh or settings.inference != "none":
        store.load_dataset(ds)
    else:
        store.refresh_union()  # re-derive the merge: a store from before a crash is consistent
    log.info("store: %s, %d quads", settings.store_path or "in memory", len(store))
    if settings.validate:
        check_conformance(settings, ds, fingerprint)
    state = ServerState.start(settings, store)
    state.docs_dir = build_docs(settings, fingerprint)
    log.info("workers: %d processes, timeout %g s", settings.workers, settings.timeout)
    return state


def check_conformance(settings: ServerSettings, ds: Dataset, nquads: bytes) -> None:
    """Validate unless a report for exactly this data and these shapes is already on disk."""
    from kzgraph import derived

    key = derived.validation_key(settings.project, nquads, settings.inference)
    cached = derived.cached_conformance(settings.project, key)
    if cached is True:
        log.info("validation: unchanged data and shapes (%s…), conforms (cached)", key[:12])
        return
    log.info("validation: running pyshacl ...")
    report = validate(settings.project, dataset=ds)
    derived.remember_conformance(settings.project, key, report.conforms, len(report.findings))
    if not report.conforms:
        raise KzgraphError(
            f"the graph does not conform to the shapes ({len(report.findings)} findings); "
            "run 'kzgraph validate', or start with --no-validate\n" + report.to_text()
        )
    log.info("validation: the graph conforms to the shapes")


def build_docs(settings: ServerSettings, nquads: bytes) -> Path | None:
    """The documentation site, reused from the cache when its inputs are unchanged."""
    from kzgraph import derived
    from kzgraph.docs import build_site

    key = derived.docs_key(settings.project, nquads)
    try:
        site, cached = derived.cached_site(
            settings.project, key, lambda target: build_site(settings.project, target)
        )
    except Exception as exc:
        log.warning("documentation not built: %s", exc)
        return None
    log.info("documentation: %s %s, served at /ontology/", "reused" if cached else "built", site)
    return site


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything else so a busy port fails at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = (
            "is already in use"
            if exc.errno == errno.EADDRINUSE
            else f"cannot be bound ({exc.strerror})"
        )
        raise KzgraphError(
            f"port {port} on {host} {reason}: stop the other server or pass --port"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(settings: ServerSettings, host: str, port: int) -> None:
    """Run the server until interrupted.

    Order matters: bind the port, then install the network sandbox, then start the workers
    (which inherit it), then serve on the already-bound socket.
    """
    from kzgraph.endpoint.app import create_app
    from kzgraph.endpoint.http import DeadlineH11Protocol
    from kzgraph.endpoint.sandbox import SandboxUnavailableError, deny_network

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    sock = bind(host, port)
    sandboxed = False
    if settings.sandbox:
        try:
            deny_network()
            sandboxed = True
        except SandboxUnavailableError as exc:
            sock.close()
            raise KzgraphError(
                f"{exc}; the endpoint refuses to serve without its network sandbox "
                "(install libseccomp2, or start with --no-sandbox on a trusted network)"
            ) from None
        log.info("sandbox: this process and its workers cannot open network connections")
    else:
        log.warning("sandbox: OFF (--no-sandbox); SERVICE and LOAD are refused by the parser only")
    state = prepare(settings)
    state.sandboxed = sandboxed
    app = create_app(state)
    DeadlineH11Protocol.header_timeout = settings.header_timeout
    config = uvicorn.Config(
        app,
        http=DeadlineH11Protocol,
        access_log=False,
        log_level="warning",
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    log.info("serving on http://%s:%d/ (SPARQL at /sparql); press Ctrl+C to stop", host, port)
    server.run(sockets=[sock])


__all__ = ["load", "prepare", "serve"]

"""Start the endpoint: load, validate, fill the store, start the workers, serve with uvicorn."""

from __future__ import annotations

import errno
import logging
import socket
import sys
import tempfile
from pathlib import Path

import uvicorn

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
    from kzgraph.inference import INFERRED, expand

    store = OxigraphStore(settings.store_path)
    fresh = len(store) == 0
    if fresh:
        ds = load(settings.project)
    else:
        ds = new_dataset()
        ds.parse(data=nquads_of(store.store), format="nquads")
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
        report = validate(settings.project, dataset=ds)
        if not report.conforms:
            raise KzgraphError(
                f"the graph does not conform to the shapes ({len(report.findings)} findings); "
                "run 'kzgraph validate', or start with --no-validate\n" + report.to_text()
            )
        log.info("validation: the graph conforms to the shapes")
    state = ServerState.start(settings, store)
    state.docs_dir = build_docs(settings)
    log.info("workers: %d processes, timeout %g s", settings.workers, settings.timeout)
    return state


def build_docs(settings: ServerSettings) -> Path | None:
    """The documentation site in a temporary folder; a failure is logged, not fatal."""
    from kzgraph.docs import build_site

    target = Path(tempfile.mkdtemp(prefix="kzgraph-docs-"))
    try:
        build_site(settings.project, target)
    except Exception as exc:
        log.warning("documentation not built: %s", exc)
        return None
    log.info("documentation: built in %s, served at /ontology/", target)
    return target


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

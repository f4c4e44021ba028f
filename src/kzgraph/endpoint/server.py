"""Start the endpoint: load, validate, fill the store, start the workers, serve with uvicorn."""

from __future__ import annotations

import logging
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


def serve(settings: ServerSettings, host: str, port: int) -> None:
    """Run the server until interrupted."""
    from kzgraph.endpoint.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    state = prepare(settings)
    app = create_app(state)
    log.info("serving on http://%s:%d/ (SPARQL at /sparql)", host, port)
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")


__all__ = ["load", "prepare", "serve"]

"""The documentation site a server shows at /ontology/, built beside the serving, not before it.

Building the site takes seconds whatever the data's size (pyLODE, the class picture): a server
starts answering first, and the site's pages wait for it (:func:`wait`). Its figures, the
instances of each class, are asked of the store being served before anything else starts
(:func:`kzgraph.docs.site.class_facts`, two queries), so the build itself touches no store, and
serving processes forked meanwhile share nothing with it but the folder it appears in, whole.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import anyio

from kzgraph.core.settings import Settings
from kzgraph.docs.site import Queryable, build_site, class_facts
from kzgraph.graph import derived

log = logging.getLogger("kzgraph.endpoint")

#: Seconds a page request waits for a site still being built before it is answered 503.
WAIT_SECONDS = 30.0


def failed_marker(site: Path) -> Path:
    """The file that says why the site for ``site`` could not be built."""
    return site.with_name(site.name + ".failed")


def start(settings: Settings, data: bytes, store: Queryable) -> Path | None:
    """The folder the site for this data is (or will be) in; built in the background if new.

    ``data`` names the data for the cache key (the files' fingerprint or the store's content
    id); ``store`` answers the figures. None when even the figures cannot be had.
    """
    key = derived.docs_key(settings, data)
    site = derived.site_folder(settings, key)
    if (site / "index.html").exists():
        log.info("documentation: reused %s, served at /ontology/", site)
        return site
    try:
        facts = class_facts(store)
    except Exception as exc:
        log.warning("documentation not built: %s", exc)
        return None
    failed_marker(site).unlink(missing_ok=True)

    def build() -> None:
        started = time.perf_counter()
        try:
            derived.cached_site(settings, key, lambda target: build_site(settings, target, facts))
        except Exception as exc:
            failed_marker(site).parent.mkdir(parents=True, exist_ok=True)
            failed_marker(site).write_text(str(exc) or type(exc).__name__, encoding="utf-8")
            log.warning("documentation not built: %s", exc)
            return
        seconds = time.perf_counter() - started
        log.info("documentation: built %s in %.1f s, served at /ontology/", site, seconds)

    threading.Thread(target=build, name="kzgraph-docs", daemon=True).start()
    return site


async def wait(site: Path, seconds: float = WAIT_SECONDS) -> tuple[int, str] | None:
    """Wait for ``site`` to be built: None once it is, else a status and why.

    404 when the build failed, 503 while it is still running past ``seconds``.
    """
    deadline = time.monotonic() + seconds
    while not (site / "index.html").exists():
        marker = failed_marker(site)
        if marker.exists():
            why = marker.read_text(encoding="utf-8")
            return 404, f"the documentation could not be built: {why}"
        if time.monotonic() > deadline:
            return 503, "the documentation is still being built; try again in a few seconds"
        await anyio.sleep(0.1)
    return None

"""What a running server holds: the authoritative store, the worker pool, and caches.

The primary store is the only one written. An on-disk store is shared with the workers through
read-only snapshots (:mod:`kzgraph.endpoint.execution.snapshots`); the small in-memory default hands
them N-Quads instead. Each write also updates the store's recorded content id
(:mod:`kzgraph.store.state`), so a restart on unchanged data redoes nothing.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pyoxigraph as ox
from rdflib import Graph

from kzgraph.core.namespaces import PREFIXES
from kzgraph.core.sparql_text import Scan, scan
from kzgraph.endpoint.config import ServerSettings
from kzgraph.endpoint.execution import answer_cache
from kzgraph.endpoint.execution.answer_cache import AnswerCache
from kzgraph.endpoint.execution.inline import InlineRunner
from kzgraph.endpoint.execution.metrics import Metrics
from kzgraph.endpoint.execution.remote_pool import RemotePool
from kzgraph.endpoint.execution.snapshots import Snapshots
from kzgraph.endpoint.execution.workers import QueryPool
from kzgraph.endpoint.execution.write_scope import (
    iris_in,
    local_iris,
    pointing_to,
    remote_iris,
    remote_iris_in,
    scoped_merge,
)
from kzgraph.queries.catalogue import SavedQuery, load_catalogue
from kzgraph.queries.running import label_map
from kzgraph.remote.stores import RemoteStore
from kzgraph.store import state as store_state
from kzgraph.store.engines import OxigraphStore


def named_quads(store: ox.Store) -> list[ox.Quad]:
    """Every quad of the named graphs; the default graph only repeats them."""
    return [q for q in store if not isinstance(q.graph_name, ox.DefaultGraph)]


log = logging.getLogger("kzgraph.endpoint")

#: How long an answer from a remote store is kept (README: "When the graph outgrows one machine").
REMOTE_ANSWER_SECONDS = 10.0


@dataclass
class ServerState:
    """The store the server answers from; ``pool`` holds read-only copies in worker processes."""

    settings: ServerSettings
    #: The embedded store, or with --backend the remote one (reached through the relay).
    store: OxigraphStore | RemoteStore
    #: The worker pool, with several serving processes this process's own query thread, or
    #: with --backend the proxy to the remote store.
    pool: QueryPool | InlineRunner | RemotePool
    catalogue: dict[str, SavedQuery] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)
    generation: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _write_lock: threading.Lock = field(default_factory=threading.Lock)
    _derive_lock: threading.RLock = field(default_factory=threading.RLock)
    _key_locks: dict[str, threading.Lock] = field(default_factory=dict)
    _labels: dict[str, str] | None = None
    _graphs: list[str] | None = None
    _size: int | None = None
    _counting: bool = False
    _shapes: Graph | None = None
    _precheck_runs_all: bool | None = None
    docs_dir: Path | None = None
    #: True once the seccomp filter keeps this process and its workers off the network.
    sandboxed: bool = False
    #: Things derived from the data (dumps, network graphs), dropped whenever the data changes.
    cache: dict[str, Any] = field(default_factory=dict)
    #: Read-only checkpoints the workers read, when the store is on disk.
    snapshots: Snapshots | None = None
    #: The last validation's outcome: conforms, findings, and whether it was full or focused.
    validation: dict[str, Any] = field(default_factory=dict)
    #: Recent slow answers, emptied whenever the data changes.
    answers: AnswerCache = field(default_factory=AnswerCache)
    #: For a store on disk, what its kept answers are keyed on (:func:`answer_cache.data_id`).
    data: str | None = None

    def __post_init__(self) -> None:
        self.answers = AnswerCache(max_bytes=self.settings.answer_cache_mb * 1_000_000)

    @classmethod
    def start(cls, settings: ServerSettings, store: OxigraphStore) -> ServerState:
        """Start the worker pool on a snapshot of an on-disk store, or on a copy of its data."""
        snapshots = None
        source: bytes | str
        if store.path is not None:
            snapshots = Snapshots(store.store, store.path)
            source = snapshots.publish()
        else:
            source = nquads_of(store.store)
        pool = QueryPool(
            source,
            size=settings.workers,
            max_rows=settings.max_rows,
            memory_mb=settings.worker_memory_mb,
            max_queue=settings.max_queue,
            max_bytes=settings.max_answer_bytes,
        )
        if snapshots is not None:
            pool.on_retired = snapshots.retire
        state = cls(settings, store, pool, load_catalogue(settings.project))
        state.snapshots = snapshots
        if store.path is not None:
            state.keep_answers_beside(store.path)
        return state

    def keep_answers_beside(self, path: Path) -> None:
        """Keep slow answers in files beside the store at ``path``, keyed on its content id."""
        recorded = store_state.read(path)
        if self.settings.answer_cache_mb <= 0 or recorded is None or not recorded.content:
            return
        self.answers = AnswerCache(
            max_bytes=self.settings.answer_cache_mb * 1_000_000,
            shared=answer_cache.beside(path),
            disk_bytes=self.settings.answer_disk_mb * 1_000_000,
        )
        self.data = answer_cache.data_id(
            recorded.content, self.settings.max_rows, self.settings.max_answer_bytes
        )

    def answers_key_part(self) -> int | str:
        """What an answer is kept under besides the request.

        The data's id for a store on disk (the same after a restart), else the generation.
        """
        return self.data if self.data is not None else self.generation

    @classmethod
    def start_remote(
        cls, settings: ServerSettings, store: RemoteStore, uds: str | None, graphs: list[str]
    ) -> ServerState:
        """Serve a remote store: queries go to it through the relay at ``uds``.

        ``graphs``: its named graphs of data, listed once at start-up (read-only: they do not
        change while it serves).
        """
        pool = RemotePool(
            store.backend,
            uds,
            size=settings.workers,
            max_rows=settings.max_rows,
            max_queue=settings.max_queue,
            max_bytes=settings.max_answer_bytes,
            store_kind=store.kind,
        )
        pool.graphs = graphs
        state = cls(settings, store, pool, load_catalogue(settings.project))
        state._graphs = graphs
        # other writers (kzgraph push, the store's own clients) change a remote store unseen:
        # its answers are kept a short, stated while (and say their Age), never indefinitely;
        # every answer, however quick: each one costs a request to the store
        state.answers = AnswerCache(
            max_bytes=settings.answer_cache_mb * 1_000_000,
            max_age=REMOTE_ANSWER_SECONDS,
            min_cpu_seconds=0.0,
        )
        return state

    @property
    def local(self) -> OxigraphStore:
        """The embedded store, for what only it does (writes); a remote one is read-only here."""
        if not isinstance(self.store, OxigraphStore):
            raise RuntimeError("the remote store is read-only through this server")
        return self.store

    def graphs(self) -> list[str]:
        """The named graphs, sorted; cached until the data changes.

        One thread lists them while the others wait for its list: at millions of quads, or on a
        remote store, every request at once listing them anew would swamp the store.
        """
        with self._derive_lock:
            if self._graphs is None:
                self._graphs = self.store.graph_names()
            return self._graphs

    def size(self) -> int:
        """Quads in the named graphs; cached until the data changes."""
        if self._size is None:
            self._size = len(self.store)
        return self._size

    def size_if_known(self) -> int | None:
        """The quad count if counted, else None, starting a count in a background thread.

        Counting takes 15 s at ten million quads: /healthz must answer at once, and nothing
        may stall the event loop, so it reports the count only once a thread has made it.
        """
        if self._size is None and not self._counting:
            self._counting = True
            generation = self.generation

            def count() -> None:
                try:
                    size = len(self.store)
                    if generation == self.generation:
                        self._size = size
                except Exception as exc:  # a remote store that is gone: /healthz says so
                    log.debug("counting the quads failed: %s", exc)
                finally:
                    self._counting = False

            threading.Thread(target=count, name="kzgraph-count", daemon=True).start()
        return self._size

    def derive(self, key: str, make: Callable[[], Any]) -> Any:
        """``make()``'s result, kept in :attr:`cache` under ``key`` until the data changes.

        One thread makes it while the others asking for the same key wait. Slow ones (the
        search index takes minutes at ten million quads) hold up nothing else: not the labels
        or graphs every page needs. A result made from data a write has changed meanwhile goes
        to its caller but is not kept.
        """
        with self._lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            if key in self.cache:
                return self.cache[key]
            generation = self.generation
            value = make()
            if generation == self.generation:
                self.cache[key] = value
            return value

    def labels(self) -> dict[str, str]:
        """IRI → English label, cached until the data changes (made by one thread at a time)."""
        with self._derive_lock:
            if self._labels is None:
                self._labels = {str(iri): label for iri, label in label_map(self.store).items()}
            return self._labels

    async def labels_async(self) -> dict[str, str]:
        """:meth:`labels` for a request handler: computed on a thread, never on the event loop.

        The first call after a write reads every label in the store (seconds at millions of
        quads), which on the loop would hold up every other request meanwhile.
        """
        labels = self._labels
        if labels is not None:
            return labels
        return await anyio.to_thread.run_sync(self.labels)

    async def graphs_async(self) -> list[str]:
        """:meth:`graphs` for a request handler, listed on a thread when not cached."""
        graphs = self._graphs
        if graphs is not None:
            return graphs
        return await anyio.to_thread.run_sync(self.graphs)

    def write(
        self,
        update: str,
        base_iri: str | None = None,
        changed_by: str | None = None,
        graph: str | None = None,
        scanned: Scan | None = None,
    ) -> bool | None:
        """Apply one SPARQL Update and re-derive the default graph, in one transaction.

        With ``graph``, whether that graph existed just before this write, read under the write
        lock: the Graph Store's 201 (created) or 204 stays right under concurrent writers.

        Oxigraph runs a request's operations atomically, so the user's operations, the merge
        after each of them, and the final merge either all take effect or none does (a kill -9
        in the middle leaves the previous state). Writes are serialised by a lock.

        ``changed_by`` is the client's own update (without the merges): when it names every node
        it changes (INSERT DATA, DELETE DATA, a graph dropped or replaced), only those nodes and
        the nodes pointing to them are validated again; otherwise the whole store is.
        ``scanned`` is the reading of ``changed_by`` the request's handling already made (the
        safety rules' :class:`Scan`); without it the text is read here, once.
        """
        if changed_by is not None and scanned is None:
            scanned = scan(changed_by, PREFIXES, base_iri)
        if not isinstance(self.store, OxigraphStore):
            return self._write_remote(update, base_iri, changed_by, graph, scanned)
        with self._write_lock:
            existed = self.store.has_graph(graph) if graph is not None else None
            path = self.local.path
            before = store_state.mark_dirty(path) if path is not None else None
            found = scanned.touched if scanned is not None else None
            focus: set[str] | None = None
            if found is not None:
                focus = set(found[0])
                for graph in found[1]:  # what a dropped graph held is touched too
                    focus |= iris_in(self.local.store, graph)
            self.local.store.update(update, base_iri=base_iri)
            self.local.store.flush()
            if path is not None and before is not None:
                new = store_state.chained(before.content, update)
                store_state.write(path, store_state.StoreState(new))
                if self.data is not None:  # answers on disk are now kept under the new id
                    self.data = answer_cache.data_id(
                        new, self.settings.max_rows, self.settings.max_answer_bytes
                    )
            self.changed()
            self.revalidate(focus)
        return existed

    def _write_remote(
        self,
        update: str,
        base_iri: str | None,
        changed_by: str | None,
        graph: str | None,
        scanned: Scan | None,
    ) -> bool | None:
        """One write at the remote store's Update service, its merge kept in the same request.

        On a store whose default graph is the merge (Oxigraph server) the merge steps are the
        embedded store's; Virtuoso keeps its merge in a graph of its own: a write that names its
        graphs redoes their share of it, any other the whole merge, unlogged (too big for one
        logged transaction at a million quads). One request either way, so the store applies
        both or neither as far as it makes one request atomic (Oxigraph: one transaction). Then
        it is validated again: only the nodes a ground update names (and those of a dropped
        graph, read before it goes, and the nodes pointing to them) while the store conformed,
        as on the embedded store; otherwise the whole store.
        """
        # Long on purpose (67 lines): one write at a remote store: the merge per store kind, the
        # request, and the revalidation, under one lock.
        from kzgraph.core.sparql_text import graphs_written
        from kzgraph.remote.stores import BackendError, RemoteStore
        from kzgraph.remote.virtuoso import (
            MERGED,
            VIRTUOSO_UNLOGGED,
            virtuoso_drops,
            virtuoso_merge,
        )

        store = self.store
        assert isinstance(store, RemoteStore)
        with self._write_lock:
            existed = store.has_graph(graph) if graph is not None else None
            found = scanned.touched if scanned is not None else None
            focus: set[str] | None = None
            if found is not None:  # what a dropped graph held is touched too: read it first
                focus = set(found[0])
                for dropped in found[1]:
                    focus |= remote_iris_in(store, dropped)
            pragma = ""
            if store.kind == "virtuoso":
                own = changed_by if changed_by is not None else update
                own = virtuoso_drops(own, store.has_graph)
                # Virtuoso's own spelling of the drops is a new text, so it is read again
                touched = graphs_written(own, PREFIXES, base_iri)
                if touched is not None:  # only those graphs' share of the merge is redone
                    text = scoped_merge(own, touched, into=MERGED)
                else:  # the merge redone whole, too big for one logged transaction
                    pragma = VIRTUOSO_UNLOGGED
                    text = own.rstrip().rstrip(";") + " ;\n" + virtuoso_merge(logged=True)
            else:
                text = update
            if base_iri:
                text = f"BASE <{ox.NamedNode(base_iri).value}>\n{text}"
            text = pragma + text
            try:
                store.update(text)
            except BackendError:
                if isinstance(self.pool, RemotePool):
                    self.pool.forget_health()
                raise
            self.changed()
            graphs = self.graphs()
            if isinstance(self.pool, RemotePool):
                self.pool.graphs = graphs  # the dataset sent with each query to Virtuoso
                self.pool.forget_edges()
            self.revalidate(focus)
        return existed

    def shapes(self) -> Graph:
        """The shapes graph, parsed once: every write's validation uses it."""
        if self._shapes is None:
            from kzgraph.graph.loading import load_shapes

            self._shapes = load_shapes(self.settings.project)
        return self._shapes

    def precheck_runs_all(self) -> bool:
        """Whether the compiled engine runs every shape: worked out once, not on every write."""
        if self._precheck_runs_all is None:
            from kzgraph.validation.shacl_scope import problems

            self._precheck_runs_all = not problems(self.shapes())
        return self._precheck_runs_all

    def revalidate(self, focus: set[str] | None) -> None:
        """Validate after a write, only ``focus`` and what points to it where that suffices.

        Focusing is sound when the data conformed before the write; otherwise everything is
        checked. The outcome is kept in ``validation`` and in the store's record.
        """
        if not self.settings.validate:
            return
        from kzgraph.graph import derived
        from kzgraph.validation.report import validate_store

        threads = os.cpu_count() or 1
        if not isinstance(self.store, OxigraphStore):  # a remote store: over the network
            if focus is not None and self.validation.get("conforms") is True:
                focus = focus | pointing_to(remote_iris(self.store), focus)
                report = validate_store(self.store, self.shapes(), focus, threads=threads)
                scope = f"{len(focus)} node(s)"
            else:
                report = validate_store(self.store, self.shapes(), threads=threads)
                scope = "full"
            self.validation = {
                "conforms": report.conforms,
                "findings": len(report.findings),
                "scope": scope,
            }
            return
        store = self.local.store
        from kzgraph.validation.engines import DEFAULT_ENGINE

        if not self.precheck_runs_all():  # the compiled pre-check cannot run a shape: judge all
            report = validate_store(
                store,
                self.shapes(),
                engine=DEFAULT_ENGINE,
                shapes_file=self.settings.project.shapes_file,
            )
            scope = "full"
        # the checks run side by side (Oxigraph releases the GIL): a write waits for them
        elif focus is not None and self.validation.get("conforms") is True:
            focus = focus | pointing_to(local_iris(store), focus)
            report = validate_store(store, self.shapes(), focus, threads=threads)
            scope = f"{len(focus)} node(s)"
        else:
            report = validate_store(store, self.shapes(), threads=threads)
            scope = "full"
        self.validation = {
            "conforms": report.conforms,
            "findings": len(report.findings),
            "scope": scope,
        }
        path = self.local.path
        recorded = store_state.read(path) if path is not None else None
        if path is not None and recorded is not None and recorded.content:
            key = derived.store_validation_key(self.settings.project, recorded.content)
            recorded.validated = {"key": key, **self.validation}
            store_state.write(path, recorded)

    def changed(self) -> None:
        """Call after any write: drop caches and hand workers the new data."""
        with self._lock:
            self.generation += 1
            self._labels = None
            self._graphs = None
            self._size = None
            self.cache.clear()
            self.answers.clear()
            if self.snapshots is not None:
                self.pool.reload(self.snapshots.publish())
            elif isinstance(self.store, OxigraphStore):
                self.pool.reload(nquads_of(self.store.store))

    def close(self) -> None:
        """Stop the workers, remove their snapshots and flush the store."""
        self.pool.close()
        if self.snapshots is not None:
            self.snapshots.close()
        if isinstance(self.store, OxigraphStore) and self.store.path is not None:
            self.store.store.flush()  # read-only opens (serving processes) have nothing to flush


def nquads_of(store: ox.Store) -> bytes:
    """The named graphs as N-Quads, for the workers and the dumps."""
    return ox.serialize(named_quads(store), format=ox.RdfFormat.N_QUADS) or b""

"""Queries run in worker processes, so a runaway query can be stopped by killing its worker.

Neither pyoxigraph nor rdflib can cancel a running query from Python. Each worker holds its own
in-memory Oxigraph copy of the dataset (loaded from N-Quads), answers one job at a time and writes
the results in the requested W3C format itself, within a row (or triple) cap and a byte cap.

The pool never blocks the event loop and never loses a worker: a request's deadline starts when
it arrives, so time spent queued counts; at most ``max_queue`` requests wait (then
:class:`PoolBusyError`, a 503); every path hands the worker back or replaces it; replacements
start in a thread and join the pool when ready; answers are read from the pipe in a thread.
"""

from __future__ import annotations

import asyncio
import io
import multiprocessing as mp
import os
import resource
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import anyio
import pyoxigraph as ox

from kzgraph.namespaces import PREFIXES
from kzgraph.store import MERGE

RESULT_FORMATS = {
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}
RDF_FORMATS = {
    "ttl": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "xml": ox.RdfFormat.RDF_XML,
    "jsonld": ox.RdfFormat.JSON_LD,
    "nq": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
}


@dataclass
class Job:
    """One query for a worker. Terms in ``substitutions`` are (kind, value, lang, datatype)."""

    query: str
    select_format: str = "json"
    graph_format: str = "ttl"
    default_graphs: list[str] = field(default_factory=list)
    named_graphs: list[str] = field(default_factory=list)
    substitutions: dict[str, tuple[str, str, str | None, str | None]] = field(default_factory=dict)
    base_iri: str | None = None
    #: Variables left out of SELECT answers (saved-query parameters).
    hidden: list[str] = field(default_factory=list)


@dataclass
class Answer:
    """A worker's reply: the serialised body, or an error kind and message."""

    ok: bool
    kind: str = ""  # "select", "ask", "graph" on success; "syntax", "timeout", "error" on failure
    body: bytes = b""
    truncated: bool = False
    message: str = ""
    seconds: float = 0.0


class QueryTimeoutError(Exception):
    """The query ran past its time limit (queue time included) and was stopped."""


class PoolBusyError(Exception):
    """Too many requests are already waiting for a worker; the client should retry later."""


class _CappedWriter(io.RawIOBase):
    """Collects TSV output and stops the serializer past ``cap`` rows or ``max_bytes`` bytes."""

    def __init__(self, cap: int, max_bytes: int) -> None:
        self.buffer = bytearray()
        self.cap = cap
        self.max_bytes = max_bytes
        self.lines = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.buffer += chunk
        self.lines += chunk.count(b"\n")
        if self.lines > self.cap + 1 or len(self.buffer) > self.max_bytes:
            raise OverflowError("row cap")
        return len(chunk)


def _term(spec: tuple[str, str, str | None, str | None]) -> Any:
    kind, value, lang, datatype = spec
    if kind == "iri":
        return ox.NamedNode(value)
    if kind == "bnode":
        return ox.BlankNode(value)
    if lang:
        return ox.Literal(value, language=lang)
    if datatype:
        return ox.Literal(value, datatype=ox.NamedNode(datatype))
    return ox.Literal(value)


def _fit(serialise: Any, items: list[Any], max_bytes: int) -> tuple[bytes, bool]:
    """Serialise ``items``, dropping rows from the end until the body fits in ``max_bytes``."""
    body: bytes = serialise(items)
    truncated = False
    while len(body) > max_bytes and items:
        keep = max(0, min(len(items) - 1, int(len(items) * max_bytes / len(body) * 0.9)))
        items = items[:keep]
        body = serialise(items)
        truncated = True
    return body, truncated


def _select_body(
    result: Any, fmt: str, cap: int, max_bytes: int, hidden: list[str] | None = None
) -> tuple[bytes, bool]:
    """Serialise solutions, keeping at most ``cap`` rows and ``max_bytes`` bytes."""
    writer = _CappedWriter(cap, max_bytes)
    truncated = False
    try:
        result.serialize(writer, format=ox.QueryResultsFormat.TSV)
    except OverflowError:
        truncated = True
    except OSError as exc:  # the serializer wraps errors raised by the writer
        if "row cap" not in str(exc):
            raise
        truncated = True
    lines = bytes(writer.buffer).split(b"\n")
    header, rows = lines[0], [line for line in lines[1:] if line]
    if truncated:
        rows = rows[:cap]
        if len(writer.buffer) > max_bytes:
            rows = rows[:-1]  # the last row may be cut in the middle
    if hidden:  # TSV escapes tabs inside terms, so columns split safely on tabs
        names = header.split(b"\t")
        keep = [i for i, n in enumerate(names) if n.decode().lstrip("?$") not in hidden]
        header = b"\t".join(names[i] for i in keep)
        rows = [b"\t".join(row.split(b"\t")[i] for i in keep) for row in rows]

    def serialise(kept: list[bytes]) -> bytes:
        tsv = b"\n".join([header, *kept]) + b"\n"
        if fmt == "tsv":
            return tsv
        parsed = ox.parse_query_results(tsv, format=ox.QueryResultsFormat.TSV)
        return parsed.serialize(format=RESULT_FORMATS[fmt]) or b""

    body, cut = _fit(serialise, rows, max_bytes)
    return body, truncated or cut


def _graph_body(result: Any, fmt: str, cap: int, max_bytes: int) -> tuple[bytes, bool]:
    """Serialise at most ``cap`` triples of a CONSTRUCT/DESCRIBE, within ``max_bytes``."""
    triples: list[Any] = []
    truncated = False
    for triple in result:
        if len(triples) >= cap:
            truncated = True
            break
        triples.append(triple)

    def serialise(kept: list[Any]) -> bytes:
        used = {
            term.value
            for t in kept
            for term in (t.subject, t.predicate, t.object)
            if isinstance(term, ox.NamedNode)
        }
        prefixes = {p: ns for p, ns in PREFIXES.items() if any(v.startswith(ns) for v in used)}
        return ox.serialize(kept, format=RDF_FORMATS[fmt], prefixes=prefixes) or b""

    body, cut = _fit(serialise, triples, max_bytes)
    return body, truncated or cut


def run_job(store: ox.Store, job: Job, max_rows: int, max_bytes: int = 64_000_000) -> Answer:
    """Run one job on ``store``; used by workers and by tests in-process. Never raises."""
    started = time.perf_counter()
    kwargs: dict[str, Any] = {"prefixes": PREFIXES, "base_iri": job.base_iri}
    try:
        if job.default_graphs:
            kwargs["default_graph"] = [ox.NamedNode(g) for g in job.default_graphs]
        if job.named_graphs:
            kwargs["named_graphs"] = [ox.NamedNode(g) for g in job.named_graphs]
        if job.substitutions:
            kwargs["substitutions"] = {
                ox.Variable(k): _term(v) for k, v in job.substitutions.items()
            }
        result = store.query(job.query, **kwargs)
        if isinstance(result, ox.QueryBoolean):
            kind = "ask"
            body = ox.QueryBoolean.serialize(result, format=RESULT_FORMATS[job.select_format])
            truncated = False
        elif isinstance(result, ox.QueryTriples):
            kind = "graph"
            body, truncated = _graph_body(result, job.graph_format, max_rows, max_bytes)
        else:
            kind = "select"
            body, truncated = _select_body(
                result, job.select_format, max_rows, max_bytes, job.hidden
            )
    except SyntaxError as exc:
        return Answer(False, "syntax", message=str(exc))
    except MemoryError:
        return Answer(False, "error", message="the query needed more memory than allowed")
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # pyo3 panics derive from BaseException; a worker must survive
        return Answer(False, "error", message=str(exc) or type(exc).__name__)
    return Answer(True, kind, body or b"", truncated, seconds=time.perf_counter() - started)


def load_store(nquads: bytes) -> ox.Store:
    """An in-memory store whose default graph is the merge of the named graphs."""
    store = ox.Store()
    store.load(nquads, format=ox.RdfFormat.N_QUADS)
    store.update(MERGE)
    return store


def _worker_main(
    conn: Connection, nquads: bytes, max_rows: int, memory_mb: int, max_bytes: int
) -> None:
    """Worker loop: answer jobs until the pipe closes."""
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    store = load_store(nquads)
    conn.send("ready")
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        if isinstance(message, bytes):  # new data after an update
            store = load_store(message)
            conn.send("ready")
            continue
        conn.send(run_job(store, message, max_rows, max_bytes))


class _Worker:
    """One worker process and its pipe; starting it blocks, so the pool does it in a thread."""

    def __init__(
        self, ctx: Any, nquads: bytes, max_rows: int, memory_mb: int, max_bytes: int
    ) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker_main,
            args=(child, nquads, max_rows, memory_mb, max_bytes),
            daemon=True,
        )
        self.process.start()
        child.close()
        self.generation = 0
        self.ready = False

    def wait_ready(self, timeout: float) -> None:
        if not self.ready and self.conn.poll(timeout):
            self.ready = self.conn.recv() == "ready"

    @property
    def alive(self) -> bool:
        return bool(self.process.is_alive())

    def stop(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class QueryPool:
    """A fixed number of worker processes; ``run`` awaits an answer or raises on timeout."""

    def __init__(
        self,
        nquads: bytes,
        size: int = 2,
        max_rows: int = 100_000,
        memory_mb: int = 2048,
        max_queue: int = 64,
        max_bytes: int = 64_000_000,
    ) -> None:
        self._ctx = mp.get_context("spawn")
        self._nquads = nquads
        self._generation = 0
        self._max_rows = max_rows
        self._memory_mb = memory_mb
        self._max_bytes = max_bytes
        self.size = size
        self.max_queue = max_queue
        self._idle: asyncio.Queue[_Worker] | None = None
        self._lock = threading.Lock()
        self._workers = [self._spawn() for _ in range(size)]
        for worker in self._workers:
            worker.wait_ready(60)
        self.timeouts = 0
        self.waiting = 0
        self.starting = 0
        self.respawns = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self) -> _Worker:
        worker = _Worker(self._ctx, self._nquads, self._max_rows, self._memory_mb, self._max_bytes)
        worker.generation = self._generation
        return worker

    def _queue(self) -> asyncio.Queue[_Worker]:
        if self._idle is None:
            self._idle = asyncio.Queue()
            for worker in self._workers:
                self._idle.put_nowait(worker)
        return self._idle

    def pids(self) -> list[int]:
        """The worker processes' ids (for tests and /healthz)."""
        with self._lock:
            return [w.process.pid or 0 for w in self._workers]

    def status(self) -> dict[str, int]:
        """Workers alive, idle, starting and requests waiting: what /healthz reports."""
        with self._lock:
            alive = sum(1 for w in self._workers if w.alive)
        idle = self._idle.qsize() if self._idle is not None else len(self._workers)
        return {
            "size": self.size,
            "alive": alive,
            "idle": idle,
            "starting": self.starting,
            "waiting": self.waiting,
            "respawns": self.respawns,
        }

    def reload(self, nquads: bytes) -> None:
        """Use new data from now on; each worker reloads before its next job."""
        self._nquads = nquads
        self._generation += 1

    def _prepare(self, worker: _Worker) -> None:
        """Wait for a fresh worker to load, and hand it new data after an update."""
        worker.wait_ready(60)
        if worker.generation != self._generation:
            worker.conn.send(self._nquads)
            worker.ready = False
            worker.wait_ready(60)
            worker.generation = self._generation

    async def _wait_readable(self, worker: _Worker, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()
        fd = worker.conn.fileno()

        def wake() -> None:
            if not readable.done():
                readable.set_result(None)

        loop.add_reader(fd, wake)
        try:
            await asyncio.wait_for(readable, timeout)
        except TimeoutError:
            return False
        finally:
            loop.remove_reader(fd)
        return True

    async def _answer(self, worker: _Worker, job: Job, deadline: float) -> Answer | None:
        """Send the job and await the reply; None when the deadline passes first."""
        if not worker.ready or worker.generation != self._generation:
            await anyio.to_thread.run_sync(self._prepare, worker)
        if not worker.ready:
            raise EOFError("the worker did not start")
        worker.conn.send(job)
        if not await self._wait_readable(worker, max(0.0, deadline - time.monotonic())):
            return None
        answer: Answer = await anyio.to_thread.run_sync(self._receive, worker)
        return answer

    @staticmethod
    def _receive(worker: _Worker) -> Answer:
        os.set_blocking(worker.conn.fileno(), True)  # uvloop may leave it non-blocking
        answer: Answer = worker.conn.recv()
        return answer

    async def _checkout(self, deadline: float) -> _Worker:
        """An idle, living worker, waiting at most until ``deadline``."""
        queue = self._queue()
        if queue.empty() and self.waiting >= self.max_queue:
            raise PoolBusyError(f"{self.waiting} requests are already waiting for a worker")
        self.waiting += 1
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                worker = await asyncio.wait_for(queue.get(), remaining)
                if worker.alive:
                    return worker
                self._replace_later(worker)  # died while idle (killed from outside)
        finally:
            self.waiting -= 1

    async def run(self, job: Job, timeout: float) -> Answer:
        """Answer ``job`` within ``timeout`` seconds from now, or stop its worker and raise."""
        deadline = time.monotonic() + timeout
        try:
            worker = await self._checkout(deadline)
        except TimeoutError:
            self.timeouts += 1
            raise QueryTimeoutError(
                f"no worker became free within {timeout:g} s (the server is busy)"
            ) from None
        answer: Answer | None = None
        healthy = False
        try:
            answer = await self._answer(worker, job, deadline)
            healthy = answer is not None
        except (EOFError, OSError, BrokenPipeError, ConnectionResetError):
            answer = Answer(False, "error", message="the query worker stopped unexpectedly")
        finally:
            # Every path either hands the worker back or replaces it, cancellation included.
            if healthy and worker.alive:
                self._queue().put_nowait(worker)
            else:
                self._replace_later(worker)
        if answer is None:
            self.timeouts += 1
            raise QueryTimeoutError(f"the query ran longer than {timeout:g} s and was stopped")
        return answer

    def _replace_later(self, worker: _Worker) -> None:
        """Stop ``worker`` and start its successor in a thread; it joins the queue when ready."""
        self.starting += 1
        self.respawns += 1
        loop = asyncio.get_running_loop()
        queue = self._queue()

        def work() -> _Worker:
            worker.stop()
            fresh = self._spawn()
            fresh.wait_ready(60)
            with self._lock:
                self._workers = [fresh if w is worker else w for w in self._workers]
            return fresh

        async def start() -> None:
            try:
                fresh = await anyio.to_thread.run_sync(work)
                queue.put_nowait(fresh)
            finally:
                self.starting -= 1

        task = loop.create_task(start())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        """Stop every worker."""
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            try:
                worker.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            worker.stop()

"""Queries run in worker processes, so a runaway query can be stopped by killing its worker.

Neither pyoxigraph nor rdflib can cancel a running query from Python. Each worker holds its own
in-memory Oxigraph copy of the dataset (loaded from N-Quads), answers one job at a time and writes
the results in the requested W3C format itself. The pool hands a job to an idle worker and waits
in a thread, so the event loop stays free; when the time limit passes, the worker is killed and a
fresh one takes its place, while the other workers go on answering.
"""

from __future__ import annotations

import asyncio
import io
import multiprocessing as mp
import os
import resource
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import anyio
import pyoxigraph as ox

from kzgraph.namespaces import PREFIXES

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
    """The query ran past its time limit and its worker was stopped."""


class _CappedWriter(io.RawIOBase):
    """Collects TSV output and stops the serializer once more than ``cap`` rows were written."""

    def __init__(self, cap: int) -> None:
        self.buffer = bytearray()
        self.cap = cap
        self.lines = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.buffer += chunk
        self.lines += chunk.count(b"\n")
        if self.lines > self.cap + 1:  # header line + cap rows
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


def _select_body(result: Any, fmt: str, cap: int) -> tuple[bytes, bool]:
    """Serialise solutions, keeping at most ``cap`` rows (TSV first, so rows can be counted)."""
    writer = _CappedWriter(cap)
    truncated = False
    try:
        result.serialize(writer, format=ox.QueryResultsFormat.TSV)
    except OverflowError:
        truncated = True
    except OSError as exc:  # the serializer wraps errors raised by the writer
        if "row cap" not in str(exc):
            raise
        truncated = True
    data = bytes(writer.buffer)
    if truncated:
        data = b"\n".join(data.split(b"\n")[: cap + 1]) + b"\n"
    if fmt == "tsv":
        return data, truncated
    reparsed = ox.parse_query_results(data, format=ox.QueryResultsFormat.TSV)
    return reparsed.serialize(format=RESULT_FORMATS[fmt]) or b"", truncated


def run_job(store: ox.Store, job: Job, max_rows: int) -> Answer:
    """Run one job on ``store``; used by workers and by tests in-process."""
    started = time.perf_counter()
    kwargs: dict[str, Any] = {"prefixes": PREFIXES}
    if job.default_graphs:
        kwargs["default_graph"] = [ox.NamedNode(g) for g in job.default_graphs]
    if job.named_graphs:
        kwargs["named_graphs"] = [ox.NamedNode(g) for g in job.named_graphs]
    if job.substitutions:
        kwargs["substitutions"] = {ox.Variable(k): _term(v) for k, v in job.substitutions.items()}
    try:
        result = store.query(job.query, **kwargs)
        if isinstance(result, ox.QueryBoolean):
            kind = "ask"
            body = ox.QueryBoolean.serialize(result, format=RESULT_FORMATS[job.select_format])
            truncated = False
        elif isinstance(result, ox.QueryTriples):
            kind = "graph"
            body = result.serialize(format=RDF_FORMATS[job.graph_format])
            truncated = False
        else:
            kind = "select"
            body, truncated = _select_body(result, job.select_format, max_rows)
    except SyntaxError as exc:
        return Answer(False, "syntax", message=str(exc))
    except (RuntimeError, ValueError, OSError, TypeError) as exc:
        return Answer(False, "error", message=str(exc))
    return Answer(True, kind, body or b"", truncated, seconds=time.perf_counter() - started)


def load_store(nquads: bytes) -> ox.Store:
    """An in-memory store whose default graph is the merge of the named graphs."""
    store = ox.Store()
    store.load(nquads, format=ox.RdfFormat.N_QUADS)
    store.update("INSERT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }")
    return store


def _worker_main(conn: Connection, nquads: bytes, max_rows: int, memory_mb: int) -> None:
    """Worker loop: answer jobs until the pipe closes."""
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    store = load_store(nquads)
    conn.send("ready")
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        if isinstance(message, bytes):  # new data after an update
            store = load_store(message)
            conn.send("ready")
            continue
        try:
            conn.send(run_job(store, message, max_rows))
        except MemoryError:
            conn.send(Answer(False, "error", message="the query needed more memory than allowed"))


class _Worker:
    def __init__(self, ctx: Any, nquads: bytes, max_rows: int, memory_mb: int) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker_main, args=(child, nquads, max_rows, memory_mb), daemon=True
        )
        self.process.start()
        child.close()
        self.generation = 0
        self.ready = False

    def wait_ready(self, timeout: float) -> None:
        if not self.ready and self.conn.poll(timeout):
            self.ready = self.conn.recv() == "ready"

    def stop(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class QueryPool:
    """A fixed number of worker processes; ``run`` awaits an answer or raises on timeout."""

    def __init__(
        self, nquads: bytes, size: int = 2, max_rows: int = 100_000, memory_mb: int = 2048
    ) -> None:
        self._ctx = mp.get_context("spawn")
        self._nquads = nquads
        self._generation = 0
        self._max_rows = max_rows
        self._memory_mb = memory_mb
        self._idle: asyncio.Queue[_Worker] | None = None
        self._workers = [self._spawn() for _ in range(size)]
        for worker in self._workers:
            worker.wait_ready(60)
        self.timeouts = 0

    def _spawn(self) -> _Worker:
        worker = _Worker(self._ctx, self._nquads, self._max_rows, self._memory_mb)
        worker.generation = self._generation
        return worker

    def _queue(self) -> asyncio.Queue[_Worker]:
        if self._idle is None:
            self._idle = asyncio.Queue()
            for worker in self._workers:
                self._idle.put_nowait(worker)
        return self._idle

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

    async def _answer(self, worker: _Worker, job: Job, timeout: float) -> Answer | None:
        """Send the job and await the reply on the event loop, without a thread per request."""
        if not worker.ready or worker.generation != self._generation:
            await anyio.to_thread.run_sync(self._prepare, worker)
        worker.conn.send(job)
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
            return None
        finally:
            loop.remove_reader(fd)
        # uvloop leaves the descriptor non-blocking; the reply may still be arriving in parts.
        os.set_blocking(fd, True)
        answer: Answer = worker.conn.recv()
        return answer

    async def run(self, job: Job, timeout: float) -> Answer:
        """Answer ``job`` within ``timeout`` seconds, or stop its worker and raise."""
        queue = self._queue()
        worker = await queue.get()
        try:
            answer = await self._answer(worker, job, timeout)
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
            answer = Answer(False, "error", message="the query worker stopped unexpectedly")
            worker = self._replace(worker)
        if answer is None:
            self.timeouts += 1
            worker = self._replace(worker)
            queue.put_nowait(worker)
            raise QueryTimeoutError(f"the query ran longer than {timeout:g} s and was stopped")
        if not worker.process.is_alive():
            worker = self._replace(worker)
        queue.put_nowait(worker)
        return answer

    def _replace(self, worker: _Worker) -> _Worker:
        worker.stop()
        fresh = self._spawn()
        self._workers = [fresh if w is worker else w for w in self._workers]
        return fresh

    def close(self) -> None:
        """Stop every worker."""
        for worker in self._workers:
            try:
                worker.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            worker.stop()

"""Queries run in worker processes, so a runaway query can be stopped by killing its worker.

Neither pyoxigraph nor rdflib can cancel a running query from Python. Each worker answers one
job at a time and writes the results in the requested W3C format itself, within a row (or triple)
cap and a byte cap. Its data is either a read-only open of a snapshot of the on-disk store (a
directory the server published; every worker shares it through the page cache, so memory does
not grow with the number of workers), or, for the small in-memory default, its own copy loaded
from N-Quads.

The pool never blocks the event loop and never loses a worker: a request's deadline starts when
it arrives, so time spent queued counts; at most ``max_queue`` requests wait (then
:class:`PoolBusyError`, a 503); every path hands the worker back or replaces it; replacements
start in a thread and join the pool when ready; answers are read from the pipe in a thread.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import socket
import struct
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

import anyio

from kzgraph.core.namespaces import PREFIXES
from kzgraph.endpoint.execution.worker_process import (
    RDF_FORMATS,
    RESULT_FORMATS,
    Answer,
    Job,
    load_store,
    run_job,
)

__all__ = [
    "RDF_FORMATS",
    "RESULT_FORMATS",
    "Answer",
    "Job",
    "PoolBusyError",
    "QueryPool",
    "QueryTimeoutError",
    "load_store",
    "run_job",
]


class QueryTimeoutError(Exception):
    """The query ran past its time limit (queue time included) and was stopped."""


class PoolBusyError(Exception):
    """Too many requests are already waiting for a worker; the client should retry later."""


class _Worker:
    """One worker process and its socket; starting it blocks, so the pool does it in a thread.

    The worker is a fresh interpreter running ``python -m
    kzgraph.endpoint.execution.worker_process``, not a multiprocessing child: those re-import the
    parent's ``__main__`` (the whole CLI and application) in every worker. This one imports
    pyoxigraph and the worker module only.
    """

    def __init__(self, source: bytes | str, max_rows: int, memory_mb: int, max_bytes: int) -> None:
        ours, theirs = socket.socketpair()
        #: The event loop's end: jobs and answers go through it without a thread.
        self.sock = ours
        #: The same socket for blocking use in threads (start-up, new data).
        self.conn = Connection(os.dup(ours.fileno()))
        self.source = source
        child_fd = theirs.fileno()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kzgraph.endpoint.execution.worker_process", str(child_fd)],
            pass_fds=(child_fd,),
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.conn.send((source, max_rows, memory_mb, max_bytes, dict(PREFIXES)))
        self.generation = 0
        self.ready = False

    def wait_ready(self, timeout: float) -> None:
        try:
            if not self.ready and self.conn.poll(timeout):
                self.ready = self.conn.recv() == "ready"
        except (EOFError, OSError):
            self.ready = False

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - kill -9 is not refused
            pass
        self.conn.close()
        self.sock.close()


def _frame(payload: bytes) -> bytes:
    """``payload`` with the length header :class:`multiprocessing.connection.Connection` reads."""
    if len(payload) > 0x7FFFFFFF:
        return struct.pack("!i", -1) + struct.pack("!Q", len(payload)) + payload
    return struct.pack("!i", len(payload)) + payload


async def _read_exactly(loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = await loop.sock_recv_into(sock, view[got:])
        if n == 0:
            raise EOFError("the worker closed its socket")
        got += n
    return bytes(buffer)


async def _exchange(sock: socket.socket, job: Job) -> Answer:
    """Send ``job`` and read the answer on the event loop: no thread, no blocking call."""
    loop = asyncio.get_running_loop()
    sock.setblocking(False)
    await loop.sock_sendall(sock, _frame(pickle.dumps(job, pickle.HIGHEST_PROTOCOL)))
    (size,) = struct.unpack("!i", await _read_exactly(loop, sock, 4))
    if size == -1:
        (size,) = struct.unpack("!Q", await _read_exactly(loop, sock, 8))
    answer: Answer = pickle.loads(await _read_exactly(loop, sock, size))
    return answer


class QueryPool:
    """A fixed number of worker processes; ``run`` awaits an answer or raises on timeout."""

    def __init__(
        self,
        source: bytes | str,
        size: int = 2,
        max_rows: int = 100_000,
        memory_mb: int = 2048,
        max_queue: int = 64,
        max_bytes: int = 64_000_000,
    ) -> None:
        self._source = source
        self._generation = 0
        #: Called with the snapshot directories no worker uses any more, so they can be removed.
        self.on_retired: Any = None
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
        worker = _Worker(self._source, self._max_rows, self._memory_mb, self._max_bytes)
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

    def reload(self, source: bytes | str) -> None:
        """Use new data from now on; each worker switches before its next job.

        A worker in the middle of a query finishes it on the data it started with: no reader
        ever sees a store being written, and a snapshot stays until no worker uses it.
        """
        self._source = source
        self._generation += 1
        self._retire()

    def in_use(self) -> set[str]:
        """The snapshot directories some worker (or the next one to start) still reads."""
        with self._lock:
            used = {w.source for w in self._workers if w.alive}
        used.add(self._source)
        return {s for s in used if isinstance(s, str)}

    def _retire(self) -> None:
        if self.on_retired is not None:
            self.on_retired(self.in_use())

    def _prepare(self, worker: _Worker) -> None:
        """Wait for a fresh worker to load, and hand it new data after an update."""
        os.set_blocking(worker.conn.fileno(), True)  # the event loop's reads left it non-blocking
        worker.wait_ready(60)
        if worker.generation != self._generation:
            source = self._source
            worker.conn.send(source)
            worker.ready = False
            worker.wait_ready(60)
            worker.generation = self._generation
            worker.source = source
            self._retire()

    async def _answer(self, worker: _Worker, job: Job, deadline: float) -> Answer | None:
        """Send the job and await the reply; None when the deadline passes first."""
        if not worker.ready or worker.generation != self._generation:
            await anyio.to_thread.run_sync(self._prepare, worker)
        if not worker.ready:
            raise EOFError("the worker did not start")
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                return await _exchange(worker.sock, job)
        except TimeoutError:
            return None

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

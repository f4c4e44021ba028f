"""Queries answered inside the serving process, under a deadline, for ``serve --processes N``.

When several processes serve HTTP on one port (:mod:`kzgraph.endpoint.serving.processes`), each
answers its queries itself on its read-only copy of the data instead of handing them to a worker
process: no pickling and no second hop, and every core parses HTTP. pyoxigraph releases the GIL
while it evaluates and serialises, so the query runs in a thread and the event loop keeps time.

Each process answers ``--workers`` queries at once, in threads over its one read-only store
handle, so more queries at once cost no second copy of the store's caches and index blocks (a
RocksDB open is about 75 MB at a million quads, whatever the number of threads).

A running query cannot be cancelled from Python. When one passes its deadline the client gets
its 503 at once, and the process stops taking connections, finishes what it holds (its other
threads' queries included) and exits; the supervisor starts a fresh one. The supervisor also
reads each thread's deadline from shared memory and kills a process whose query outlives it by
:data:`GRACE` seconds, whatever the reason, so no query holds a core for long after its time.
"""

from __future__ import annotations

import asyncio
import mmap
import os
import queue
import struct
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyoxigraph as ox

from kzgraph.endpoint.execution.worker_process import (
    TRIM_AFTER_SECONDS,
    Answer,
    Job,
    release_memory,
    run_job,
)
from kzgraph.endpoint.execution.workers import PoolBusyError, QueryTimeoutError

#: Seconds past a query's deadline after which the supervisor kills its process.
GRACE = 10.0


class Deadlines:
    """One deadline per query thread of each serving process (``time.monotonic``, 0 when idle).

    Kept in shared memory, in slots of ``threads`` per process.

    Created before the processes fork, so each writes its own slot and the supervisor reads
    them all; CLOCK_MONOTONIC is the same clock in every process of the machine.
    """

    def __init__(self, count: int, threads: int = 1) -> None:
        self._map = mmap.mmap(-1, 8 * max(1, count * threads))
        self.count = count
        self.threads = threads

    def of(self, slot: int) -> range:
        """The thread slots of process slot ``slot``."""
        return range(slot * self.threads, (slot + 1) * self.threads)

    def idle(self, slot: int) -> bool:
        """True when process slot ``slot`` has a thread free for a query."""
        return any(self.get(k) == 0 for k in self.of(slot))

    def any_overdue(self, slot: int, now: float) -> bool:
        """True when any query of process slot ``slot`` is past :data:`GRACE`."""
        return any(self.overdue(k, now) for k in self.of(slot))

    def clear(self, slot: int) -> None:
        """Forget every deadline of process slot ``slot`` (its process ended)."""
        for k in self.of(slot):
            self.set(k, 0.0)

    def set(self, slot: int, deadline: float) -> None:
        """Record that thread slot ``slot`` runs a query due by ``deadline`` (0: none)."""
        struct.pack_into("d", self._map, 8 * slot, deadline)

    def get(self, slot: int) -> float:
        """The deadline of the query thread slot ``slot`` is running, or 0."""
        value: float = struct.unpack_from("d", self._map, 8 * slot)[0]
        return value

    def overdue(self, slot: int, now: float) -> bool:
        """True when thread slot ``slot``'s query is more than :data:`GRACE` s past its deadline."""
        deadline = self.get(slot)
        return 0 < deadline < now - GRACE


@dataclass
class _Ticket:
    started: bool = False
    abandoned: bool = False


class InlineRunner:
    """Runs ``threads`` queries at a time in threads of this process; the pool's interface."""

    def __init__(
        self,
        store: ox.Store,
        max_rows: int,
        max_bytes: int,
        max_queue: int,
        deadlines: Deadlines | None = None,
        slot: int = 0,
        on_stuck: Callable[[], None] | None = None,
        threads: int = 1,
    ) -> None:
        """``threads`` applies without ``deadlines``; with them, their threads per process do."""
        self.store = store
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.max_queue = max_queue
        self.size = deadlines.threads if deadlines is not None else max(1, threads)
        self.waiting = 0
        self.timeouts = 0
        #: True once a query overran: this process is on its way out.
        self.stuck = False
        self.on_retired: Callable[[set[str]], None] | None = None
        self._deadlines = deadlines
        #: The deadline slots of this process's threads; a running query holds one.
        self._free: queue.SimpleQueue[int] = queue.SimpleQueue()
        for k in deadlines.of(slot) if deadlines is not None else range(self.size):
            self._free.put(k)
        self._on_stuck = on_stuck
        self._executor = ThreadPoolExecutor(
            max_workers=self.size, thread_name_prefix="kzgraph-query"
        )
        self._prefixes: dict[str, str] | None = None

    def pids(self) -> list[int]:
        """The pid of this process, which answers its queries itself."""
        return [os.getpid()]

    def status(self) -> dict[str, int]:
        """What /healthz reports, in the pool's terms (each thread a worker)."""
        busy = min(self.waiting, self.size)
        return {
            "size": self.size,
            "alive": 0 if self.stuck else self.size,
            "idle": self.size - busy,
            "starting": 0,
            "waiting": max(0, self.waiting - self.size),
            "respawns": 0,
        }

    def reload(self, source: bytes | str) -> None:
        """Never called: a server with several processes is read-only."""
        raise RuntimeError("a server with several processes is read-only and never reloads")

    def in_use(self) -> set[str]:
        """No snapshots of its own: the supervisor owns them."""
        return set()

    def close(self) -> None:
        """Let the thread go; a stuck query ends with the process."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _work(self, job: Job, deadline: float, ticket: _Ticket) -> Answer | None:
        if ticket.abandoned or time.monotonic() >= deadline:
            return None
        ticket.started = True
        slot = self._free.get_nowait()  # one per thread: never empty while a thread runs
        if self._deadlines is not None:
            self._deadlines.set(slot, deadline)
        started = time.monotonic()
        try:
            return run_job(self.store, job, self.max_rows, self.max_bytes, self._prefixes)
        finally:
            if self._deadlines is not None:
                self._deadlines.set(slot, 0.0)
            self._free.put(slot)
            if time.monotonic() - started >= TRIM_AFTER_SECONDS:
                release_memory()

    async def run(self, job: Job, timeout: float) -> Answer:
        """Answer ``job`` within ``timeout`` seconds, or raise; an overrun retires the process."""
        if self.stuck:
            raise PoolBusyError("this process is restarting after a query overran")
        if self.waiting > self.max_queue:
            raise PoolBusyError(f"{self.waiting} requests are already waiting")
        if self._prefixes is None:
            from kzgraph.core.namespaces import PREFIXES

            self._prefixes = dict(PREFIXES)
        deadline = time.monotonic() + timeout
        ticket = _Ticket()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self._work, job, deadline, ticket)
        self.waiting += 1
        try:
            async with asyncio.timeout(timeout):
                answer = await asyncio.shield(future)
        except TimeoutError:
            self.timeouts += 1
            ticket.abandoned = True
            if not ticket.started:
                raise QueryTimeoutError(
                    f"no worker became free within {timeout:g} s (the server is busy)"
                ) from None
            self._retire()
            raise QueryTimeoutError(
                f"the query ran longer than {timeout:g} s and was stopped"
            ) from None
        finally:
            self.waiting -= 1
        if answer is None:  # only when its deadline passed just as it came out of the queue
            self.timeouts += 1
            raise QueryTimeoutError(f"no worker became free within {timeout:g} s")
        return answer

    def _retire(self) -> None:
        """The thread is stuck in a query: stop taking work and let the process end."""
        if self.stuck:
            return
        self.stuck = True
        if self._on_stuck is not None:
            self._on_stuck()

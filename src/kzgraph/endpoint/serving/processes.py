"""``serve --processes N``: N processes serve HTTP on one port; a supervisor keeps them going.

One process parsing HTTP for everyone caps a multi-core machine at one core's worth of requests,
however many query workers stand behind it. Here the supervisor prepares the data once (checks,
validation, documentation), then forks N serving processes that share the data: the in-memory
store's pages copy-on-write, or read-only opens of one published snapshot of the on-disk store.
Each answers queries itself (:mod:`kzgraph.endpoint.execution.inline`).

The supervisor accepts the connections and hands each to a serving process over a Unix socket
(SCM_RIGHTS), preferring one with a query thread free, else in turn. Left to the kernel, a
shared listening socket lets whichever process wakes first take a whole burst of connections,
so with a few keep-alive clients one process would do all the work while another idled.

Otherwise the supervisor only keeps things going: it replaces a process that exits or dies,
kills one whose query outlives its deadline by :data:`~kzgraph.endpoint.execution.inline.GRACE`
seconds, gives up when processes keep crashing at start, and on SIGTERM or Ctrl+C stops them all.
The network sandbox installed before the fork holds in every process. Such a server is read-only: a
write would need every process's data replaced at once.

Past 500 lines on purpose: the supervisor and the serving processes speak one protocol over
their sockets (hand-over, retirement, hand-back), and its two ends are kept side by side so a
change to one is seen against the other.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import resource
import select
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

import uvicorn

from kzgraph.core.errors import KzgraphError
from kzgraph.endpoint.config import ServerSettings
from kzgraph.endpoint.execution.inline import Deadlines, InlineRunner

log = logging.getLogger("kzgraph.endpoint")

#: This many start-up failures within :data:`CRASH_WINDOW` seconds and the supervisor stops.
MAX_CRASHES = 5
CRASH_WINDOW = 30.0
#: A process that dies before it was handed a connection, within this many seconds of its
#: start, failed to start. One that dies after serving was ended by what it ran (a query past its
#: memory limit, kill -9): it is replaced and never counts, so no client can stop the server.
STARTUP_SECONDS = 5.0


def uvicorn_config(app: Any, settings: ServerSettings) -> uvicorn.Config:
    """Uvicorn's settings for every serving process: the header deadline and the limits."""
    from kzgraph.endpoint.http.connections import KzgraphHttpProtocol

    KzgraphHttpProtocol.header_timeout = settings.header_timeout
    return uvicorn.Config(
        app,
        http=KzgraphHttpProtocol,
        ws="none",
        access_log=False,
        log_level="warning",
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=5,
    )


def uvicorn_server(app: Any, settings: ServerSettings) -> uvicorn.Server:
    """The server of a single-process endpoint, serving on the socket it is given."""
    return uvicorn.Server(uvicorn_config(app, settings))


def _receive(channel: socket.socket) -> tuple[bytes, list[int]] | None:
    """One read from a non-blocking channel: (message, file descriptors), or None if empty.

    A closed or broken channel reads as ``(b"", [])``, what the supervisor and the serving
    processes both take for "the other side is gone".
    """
    try:
        message, fds, _, _ = socket.recv_fds(channel, 64, 64)
    except BlockingIOError:
        return None
    except OSError:
        return b"", []
    return message, fds


class HandedServer(uvicorn.Server):
    """uvicorn serving the connections the supervisor hands over, instead of a listener.

    Connections arrive as file descriptors on ``channel``; each gets the same protocol (and so
    the same deadlines and limits) uvicorn gives the connections it accepts itself. When the
    channel closes (the supervisor is gone) the server shuts down.
    """

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self.channel = channel

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start as uvicorn does, with no listener; then take connections from the channel."""
        await super().startup(sockets=[])
        loop = asyncio.get_running_loop()
        self.channel.setblocking(False)
        loop.add_reader(self.channel.fileno(), self._take, loop)

    def _protocol(self) -> asyncio.Protocol:
        protocol: asyncio.Protocol = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )
        return protocol

    def _take(self, loop: asyncio.AbstractEventLoop) -> None:
        received = _receive(self.channel)
        if received is None:
            return
        message, fds = received
        if not message and not fds:  # the supervisor closed its end
            loop.remove_reader(self.channel.fileno())
            self.should_exit = True
            return
        for fd in fds:
            connection = socket.socket(fileno=fd)
            loop.create_task(loop.connect_accepted_socket(self._protocol, connection))

    def stop_taking(self) -> None:
        """Take no more connections, and end the kept-alive ones now.

        The process tells the supervisor it is retiring (``r``) and hands back every
        connection that reaches it until the supervisor's acknowledgement (``k``): the channel
        is a stream, so nothing handed over in between is lost. An idle kept-alive connection is
        closed at once and one with a response under way closes after it, so a client's next
        request reconnects to a healthy process instead of meeting a string of 503s here.
        """
        try:
            loop = asyncio.get_running_loop()
            loop.remove_reader(self.channel.fileno())
            self.channel.send(b"r")
            loop.add_reader(self.channel.fileno(), self._bounce, loop)
        except (RuntimeError, OSError):
            self.channel.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()

    def _bounce(self, loop: asyncio.AbstractEventLoop) -> None:
        """Return connections to the supervisor until it acknowledges the retirement."""
        received = _receive(self.channel)
        if received is None:
            return
        message, fds = received
        for fd in fds:
            try:
                socket.send_fds(self.channel, [b"b"], [fd])
            except OSError:
                pass
            finally:
                os.close(fd)
        if b"k" in message or (not message and not fds):
            loop.remove_reader(self.channel.fileno())
            self.channel.close()


def _limit_memory(memory_mb: int) -> None:
    """Cap this process's address space at what it uses now plus ``memory_mb``.

    A query that needs more ends this process (the client's connection drops) and the
    supervisor starts another, rather than the machine running out of memory.
    """
    if memory_mb <= 0:
        return
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    size = int(fields["VmSize"].split()[0]) * 1024
    limit = size + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _child(
    settings: ServerSettings,
    channel: socket.socket,
    prepared: Any,
    snapshot: str | None,
    deadlines: Deadlines,
    slot: int,
    sandboxed: bool,
    answers: Path,
    metrics: Path,
) -> int:
    """One serving process: its own read-only store handle, app and event loop."""
    from kzgraph.endpoint.execution.metrics import Metrics
    from kzgraph.endpoint.execution.state import ServerState
    from kzgraph.endpoint.serving.app import create_app
    from kzgraph.queries.catalogue import load_catalogue
    from kzgraph.store.engines import OxigraphStore

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    store = OxigraphStore.read_only(Path(snapshot)) if snapshot else prepared.store
    holder: dict[str, HandedServer] = {}

    def stuck() -> None:
        log.warning("process %d: a query overran its deadline; restarting", os.getpid())
        holder["server"].stop_taking()
        holder["server"].should_exit = True

    runner = InlineRunner(
        store.store,
        settings.max_rows,
        settings.max_answer_bytes,
        settings.max_queue,
        deadlines,
        slot,
        on_stuck=stuck,
    )
    state = ServerState(settings, store, runner, load_catalogue(settings.project))
    if settings.answer_cache_mb > 0:
        from kzgraph.endpoint.execution.answer_cache import AnswerCache

        state.answers = AnswerCache(
            max_bytes=settings.answer_cache_mb * 1_000_000,
            shared=answers,
            disk_bytes=settings.answer_disk_mb * 1_000_000,
        )
        if prepared.store.path is not None:  # the same folder, keyed to outlive this run
            state.keep_answers_beside(prepared.store.path)
    state.metrics = Metrics(str(metrics))
    state.validation = dict(prepared.validation)
    state.docs_dir = prepared.docs_dir
    state.sandboxed = sandboxed
    server = HandedServer(uvicorn_config(create_app(state), settings), channel)
    holder["server"] = server
    _limit_memory(settings.worker_memory_mb)
    server.run()
    return 0


#: Seconds an accepted connection may wait for a serving process before it is answered 503.
PENDING_SECONDS = 10.0
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Retry-After: 2\r\nConnection: close\r\nContent-Length: 40\r\n\r\n"
    b"the server is restarting; retry shortly\n"
)


class _Children:
    """The serving processes: who takes connections, who is retiring, and whom to hand to next.

    A process that stops taking connections (it is retiring after a query overran) closes its
    channel; a replacement starts at once, so for a while there may be more processes than
    asked for. Each process has its own slot in :class:`Deadlines` (one deadline per query
    thread) until it is reaped.
    """

    def __init__(self, count: int, threads: int = 1) -> None:
        self.count = count
        self.deadlines = Deadlines(2 * count, threads)
        self.slots: dict[int, int] = {}  # pid → deadline slot, every process not yet reaped
        self.channels: dict[int, socket.socket] = {}  # pid → channel, processes taking work
        self.retiring: dict[int, socket.socket] = {}  # pid → channel, handing connections back
        self.started: dict[int, float] = {}  # pid → time.monotonic() at fork
        self.served: set[int] = set()  # pids that were handed at least one connection
        self._turn = 0

    def free_slot(self) -> int | None:
        """A deadline slot no unreaped process holds, or None while every one is held.

        Every slot can be held at once: processes that overran their deadlines are retiring but
        not yet reaped (the hostile corpus did it with four in 6 s). Their replacements then wait
        for a slot (:meth:`owe`) instead of ending the supervisor.
        """
        used = set(self.slots.values())
        return next((k for k in range(2 * self.count) if k not in used), None)

    def hand(self, connection: socket.socket) -> bool:
        """Pass ``connection`` to a process with a thread free, else the next in turn."""
        pids = sorted(self.channels)
        if not pids:
            return False
        self._turn = (self._turn + 1) % len(pids)
        ordered = pids[self._turn :] + pids[: self._turn]
        idle = [p for p in ordered if self.deadlines.idle(self.slots[p])]
        for pid in idle + [p for p in ordered if p not in idle]:
            try:
                socket.send_fds(self.channels[pid], [b"c"], [connection.fileno()])
            except OSError:
                continue
            self.served.add(pid)
            return True
        return False

    def poll_channels(self) -> tuple[list[int], list[socket.socket]]:
        """Processes that stopped taking work since the last call, and connections handed back.

        A process retiring says ``r``: it gets no more connections and an acknowledgement
        (``k``), and returns those that reached it meanwhile. A channel that closes (the process
        died) also ends its share of the work.
        """
        watched = {**self.channels, **self.retiring}
        if not watched:
            return [], []
        readable, _, _ = select.select(list(watched.values()), [], [], 0)
        stopped: list[int] = []
        returned: list[socket.socket] = []
        for pid, channel in watched.items():
            if channel not in readable:
                continue
            while (received := _receive(channel)) is not None:
                message, fds = received
                returned += [socket.socket(fileno=fd) for fd in fds]
                if b"r" in message and pid in self.channels:
                    self.retiring[pid] = self.channels.pop(pid)
                    stopped.append(pid)
                    try:
                        channel.send(b"k")
                    except OSError:
                        pass
                if not message and not fds:  # closed: the process ended or finished retiring
                    if self.channels.pop(pid, None) is not None:
                        stopped.append(pid)
                    self.retiring.pop(pid, None)
                    channel.close()
                    break
        return stopped, returned


def supervise(settings: ServerSettings, sock: socket.socket, sandboxed: bool) -> None:
    """Prepare once, fork ``settings.processes`` serving processes, hand them connections."""
    # Long on purpose (111 lines): the supervisor's loop keeps the processes, their channels and the
    # restart budget in its locals; it reads as the life of the server.
    from kzgraph.endpoint.execution import answer_cache
    from kzgraph.endpoint.execution.snapshots import Snapshots
    from kzgraph.endpoint.serving.preparation import prepare_data

    prepared = prepare_data(settings)
    snapshots: Snapshots | None = None
    snapshot: str | None = None
    if prepared.store.path is not None:
        snapshots = Snapshots(prepared.store.store, prepared.store.path)
        snapshot = snapshots.publish()
    children = _Children(settings.processes, settings.workers)
    # the processes share their answers: beside a store on disk, kept across restarts
    path = prepared.store.path
    kept = path is not None and settings.answer_cache_mb > 0
    answers = answer_cache.beside(path) if kept and path else Path(tempfile.mkdtemp())
    metrics = Path(tempfile.mkdtemp(prefix="kzgraph-metrics-"))  # their summed /metrics
    crashes: deque[float] = deque()
    pending: deque[tuple[socket.socket, float]] = deque()
    stopping = False

    owed = 0  # replacements waiting for a deadline slot to be freed by a reaped process

    def spawn() -> None:
        nonlocal owed
        slot = children.free_slot()
        if slot is None:
            owed += 1
            log.warning("every process slot is held by one still ending; starting another later")
            return
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, measured by the server tests
            code = 1
            try:
                sock.close()
                ours.close()
                for other in [*children.channels.values(), *children.retiring.values()]:
                    other.close()
                for waiting, _ in pending:
                    waiting.close()
                code = _child(
                    settings,
                    theirs,
                    prepared,
                    snapshot,
                    children.deadlines,
                    slot,
                    sandboxed,
                    answers,
                    metrics,
                )
            except BaseException as exc:
                log.error("process %d failed: %s", os.getpid(), exc)
            finally:
                sys.stdout.flush()
                os._exit(code)
        theirs.close()
        ours.setblocking(False)
        children.channels[pid] = ours
        children.slots[pid] = slot
        children.started[pid] = time.monotonic()

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    gc.freeze()  # keep the shared pages shared: the collector would touch every object
    for _ in range(settings.processes):
        spawn()
    log.info(
        "serving with %d processes (pids %s), read-only, timeout %g s",
        settings.processes,
        ", ".join(str(p) for p in children.channels),
        settings.timeout,
    )
    sock.setblocking(False)
    try:
        while not stopping:
            readable, _, _ = select.select([sock], [], [], 0.01 if pending else 0.1)
            if readable:
                _accept_all(sock, pending)
            stopped, returned = children.poll_channels()
            for connection in returned:
                pending.appendleft((connection, time.monotonic()))
            for pid in stopped:
                log.info("process %d takes no more connections; starting another", pid)
                spawn()
            _hand_pending(children, pending)
            _reap(children, crashes, spawn)
            while owed and children.free_slot() is not None:
                owed -= 1
                spawn()
            now = time.monotonic()
            for pid, slot in list(children.slots.items()):
                if children.deadlines.any_overdue(slot, now):
                    log.warning("process %d: query far past its deadline; killing it", pid)
                    os.kill(pid, signal.SIGKILL)
    finally:
        for waiting, _ in pending:
            waiting.close()
        _stop_all(children.slots)
        if not kept:
            shutil.rmtree(answers, ignore_errors=True)
        shutil.rmtree(metrics, ignore_errors=True)
        if snapshots is not None:
            snapshots.close()
        prepared.store.store.flush()


def _accept_all(sock: socket.socket, pending: deque[tuple[socket.socket, float]]) -> None:
    """Accept every waiting connection; they are handed out next."""
    while True:
        try:
            connection, _ = sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # e.g. EMFILE: leave it queued and retry on the next pass
            log.warning("accept failed: %s", exc)
            return
        pending.append((connection, time.monotonic()))


def _hand_pending(children: _Children, pending: deque[tuple[socket.socket, float]]) -> None:
    """Hand out waiting connections; one that waited too long is told 503 and closed."""
    now = time.monotonic()
    while pending:
        connection, since = pending[0]
        if children.hand(connection):
            pending.popleft()
            connection.close()
            continue
        if since > now - PENDING_SECONDS:
            return  # nobody takes work right now (all restarting): try again shortly
        pending.popleft()
        try:
            connection.setblocking(False)
            connection.send(BUSY)
        except OSError:
            pass
        connection.close()


def _reap(children: _Children, crashes: deque[float], spawn: Any) -> None:
    """Forget processes that ended, replacing those that still took work; stop on crash loops."""
    now = time.monotonic()
    while children.slots:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            return
        slot = children.slots.pop(pid, -1)
        if slot < 0:
            continue
        children.deadlines.clear(slot)
        channel = children.channels.pop(pid, None)
        leftover = children.retiring.pop(pid, None)
        if leftover is not None:
            leftover.close()
        lived = now - children.started.pop(pid, now)
        served = pid in children.served
        children.served.discard(pid)
        failed = os.WIFSIGNALED(status) or os.waitstatus_to_exitcode(status) != 0
        if failed and not served and lived < STARTUP_SECONDS:
            crashes.append(now)
            while crashes and crashes[0] < now - CRASH_WINDOW:
                crashes.popleft()
            if len(crashes) >= MAX_CRASHES:
                raise KzgraphError(
                    f"serving processes failed to start {len(crashes)} times within "
                    f"{CRASH_WINDOW:g} s; stopping (see the log above)"
                )
        if channel is None:  # it had retired; its successor is already running
            log.info("process %d ended (%s)", pid, _how(status))
            continue
        channel.close()
        log.info("process %d ended (%s); starting another", pid, _how(status))
        spawn()


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def _stop_all(children: dict[int, int]) -> None:
    """SIGTERM every serving process, then SIGKILL what is left after 10 s."""
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while children and time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.05)
            continue
        children.pop(pid, None)
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass

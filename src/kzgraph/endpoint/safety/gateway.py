"""The one way out of the sandbox: a relay to the remote store, and nowhere else.

With ``--backend`` the server must talk to a store on another host, yet the serving process
keeps its seccomp filter (:mod:`kzgraph.endpoint.safety.sandbox`): it cannot open a network socket
at all. So before the filter goes on, the server starts this relay as a separate process. It
listens on a Unix-domain socket in a private directory and copies bytes, both ways, between
each connection accepted there and a new TCP connection to the backend's host and port, fixed
on its command line. The serving process reaches the backend through that socket (httpx's
``uds`` transport) and nothing else: whatever a request makes it do, the only host it can reach
is the store's, and only the way the relay connects.

TLS, when the backend URL is https, runs end to end between the server and the store; the relay
sees only encrypted bytes. It holds at most ``MAX_CONNECTIONS`` connections at once and closes
both sides of a pair when either side closes.

The process the server starts is a keeper, not the relay itself: it runs the relay as its own
child and starts it again when it ends (killed, crashed), on the same socket, as the server's
supervisor restarts its workers; a sandboxed server could not start a relay that may connect.
The keeper ends, and the relay with it, when the server does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from kzgraph.core.errors import KzgraphError

#: Connections relayed at once; more wait in the listening socket's queue.
MAX_CONNECTIONS = 256
READY = "kzgraph-gateway ready"


def host_port(urls: list[str]) -> tuple[str, int]:
    """The one host and port every backend URL names (the relay reaches only that).

    >>> host_port(["http://127.0.0.1:7878/query", "http://127.0.0.1:7878/store"])
    ('127.0.0.1', 7878)
    >>> host_port(["https://db.example.org/sparql"])
    ('db.example.org', 443)
    """
    found: set[tuple[str, int]] = set()
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise KzgraphError(f"the backend URL {url!r} is not an http(s) URL with a host")
        found.add((parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)))
    if len(found) != 1:
        named = ", ".join(f"{h}:{p}" for h, p in sorted(found))
        raise KzgraphError(
            f"the backend's query, update and Graph Store URLs must share one host and port "
            f"(the server's relay reaches exactly one), not {named}"
        )
    return found.pop()


@dataclass
class Gateway:
    """A running relay: its process and the Unix socket to connect to."""

    process: subprocess.Popen[bytes]
    socket_path: str
    directory: str

    @classmethod
    def start(cls, host: str, port: int) -> Gateway:
        """Start the relay (before the sandbox goes on) and wait until it listens."""
        directory = tempfile.mkdtemp(prefix="kzgraph-gateway-")
        os.chmod(directory, 0o700)  # only this user may connect to the relay
        path = str(Path(directory) / "backend.sock")
        process = subprocess.Popen(
            [sys.executable, "-m", "kzgraph.endpoint.safety.gateway", host, str(port), path],
            stdin=subprocess.PIPE,  # closed when the server exits, however it exits
            stdout=subprocess.PIPE,
        )
        assert process.stdout is not None
        line = process.stdout.readline().decode("utf-8", "replace").strip()
        if line != READY:
            process.kill()
            shutil.rmtree(directory, ignore_errors=True)
            raise KzgraphError(f"the relay to the backend did not start: {line or 'no output'}")
        return cls(process, path, directory)

    @property
    def alive(self) -> bool:
        """True while the relay process runs."""
        return self.process.poll() is None

    def close(self) -> None:
        """Stop the relay and remove its socket."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def relay(host: str, port: int, path: str) -> None:
    """Accept on ``path``; copy each connection to and from a new one to ``host:port``."""
    slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        async with slots:
            try:
                store_r, store_w = await asyncio.open_connection(host, port)
            except OSError:
                client_w.close()  # the client sees the connection refused and says so
                return
            await asyncio.gather(_pipe(client_r, store_w), _pipe(store_r, client_w))

    server = await asyncio.start_unix_server(handle, path=path)
    os.chmod(path, 0o600)
    print(READY, flush=True)
    async with server:
        await server.serve_forever()


def _exit_with_parent(path: str) -> None:
    """Exit when standard input closes: the server that started the relay is gone.

    A server killed with SIGKILL never runs :meth:`Gateway.close`, so the relay removes its own
    socket and the socket's private directory (only if nothing else is in it) on the way out.
    """
    sys.stdin.buffer.read()
    with contextlib.suppress(OSError):
        os.unlink(path)
        os.rmdir(os.path.dirname(path))
    os._exit(0)


#: A relay that ends this many times within ``RESTART_WINDOW`` seconds is not started again.
MAX_RESTARTS = 20
RESTART_WINDOW = 60.0


def _run_relay(host: str, port: int, path: str) -> None:
    """The relay itself: ``python -m kzgraph.endpoint.safety.gateway --relay HOST PORT SOCKET``."""
    import threading

    threading.Thread(target=_exit_with_parent, args=(path,), daemon=True).start()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # the socket of a relay that was killed
    try:
        asyncio.run(relay(host, port, path))
    except KeyboardInterrupt:
        pass


def _keep(host: str, port: int, path: str) -> None:
    """Run the relay and start it again whenever it ends, until the server's stdin closes."""
    import threading
    import time

    gone = threading.Event()
    current: list[subprocess.Popen[bytes]] = []

    def watch_parent() -> None:
        sys.stdin.buffer.read()
        gone.set()
        for child in current:
            with contextlib.suppress(OSError):
                child.kill()

    threading.Thread(target=watch_parent, daemon=True).start()
    starts: list[float] = []
    ready_said = False
    while not gone.is_set():
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kzgraph.endpoint.safety.gateway",
                "--relay",
                host,
                str(port),
                path,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        current[:] = [child]
        assert child.stdout is not None
        line = child.stdout.readline().decode("utf-8", "replace").strip()
        if not ready_said:
            print(line, flush=True)  # READY, or why the relay could not start
            ready_said = True
            if line != READY:
                child.kill()
                break
        child.wait()
        if gone.is_set():
            break
        now = time.monotonic()
        starts = [t for t in starts if t > now - RESTART_WINDOW] + [now]
        if len(starts) > MAX_RESTARTS:
            print(
                f"kzgraph-gateway: the relay ended {len(starts)} times in a minute", file=sys.stderr
            )
            break
        print("kzgraph-gateway: the relay ended; starting it again", file=sys.stderr, flush=True)
    with contextlib.suppress(OSError):
        os.unlink(path)
        os.rmdir(os.path.dirname(path))
    os._exit(0)


def main() -> None:
    """``python -m kzgraph.endpoint.safety.gateway HOST PORT SOCKET`` (keeper), or ``--relay``."""
    if sys.argv[1] == "--relay":
        _run_relay(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    _keep(sys.argv[1], int(sys.argv[2]), sys.argv[3])


if __name__ == "__main__":
    main()

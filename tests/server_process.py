"""Start ``kzgraph serve`` as a real process on a free loopback port, and stop it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def kzgraph(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would, in a new process; its output is captured."""
    return subprocess.run(
        [sys.executable, "-m", "kzgraph", *args], capture_output=True, text=True, timeout=600
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(
        self, *args: str, env: dict[str, str] | None = None, port: int | None = None
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"kzgraph-server-{self.port}.log"
        command = [sys.executable, "-m", "kzgraph", "serve", "--port", str(self.port), *args]
        self.process = subprocess.Popen(
            command, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        """Stop the server and remove its log (read it with :meth:`output` before stopping)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.unlink(missing_ok=True)  # 1,144 of them had piled up in /tmp

    def output(self) -> str:
        return self.log.read_text()

    def update(
        self, text: str, token: str | None, params: dict[str, str] | None = None
    ) -> httpx.Response:
        """One SPARQL Update through this server, with ``token`` as its bearer token if any."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.post(
            self.url + "sparql", data={"update": text}, params=params, headers=headers, timeout=120
        )


#: The Oxigraph server binary from PyPI (a test dependency), beside this interpreter.
OXIGRAPH = Path(sys.executable).parent / "oxigraph"


@contextmanager
def oxigraph_server(location: Path, timeout_s: int | None = None) -> Iterator[str]:
    """An Oxigraph server on loopback over the store at ``location``; yields its query URL.

    ``timeout_s``: the server's own limit on a query (it stops computing; a client hanging up
    does not stop an aggregate that has written nothing yet).
    """
    assert OXIGRAPH.exists(), "the Oxigraph server is missing: run bash scripts/setup.sh test"
    port = free_port()
    limit = ["--timeout-s", str(timeout_s)] if timeout_s is not None else []
    process = subprocess.Popen(
        [
            str(OXIGRAPH),
            "serve",
            "--location",
            str(location),
            "--bind",
            f"127.0.0.1:{port}",
            *limit,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/query"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, params={"query": "ASK {}"}, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


VIRTUOSO_INI = """
[Database]
DatabaseFile = {dir}/virtuoso.db
ErrorLogFile = {dir}/virtuoso.log
LockFile = {dir}/virtuoso.lck
TransactionFile = {dir}/virtuoso.trx
xa_persistent_file = {dir}/virtuoso.pxa
FileExtend = 200
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {dir}/virtuoso-temp.db
TransactionFile = {dir}/virtuoso-temp.trx
Striping = 0

[Parameters]
ServerPort = 127.0.0.1:{sql}
DisableUnixSocket = 1
NumberOfBuffers = 20000
MaxDirtyBuffers = 15000
DirsAllowed = {dir}

[HTTPServer]
ServerPort = 127.0.0.1:{http}
ServerRoot = {dir}
ServerThreads = 20
MaxClientConnections = 40

[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryExecutionTime = 120
"""

#: Let the anonymous SPARQL user write (a test store on loopback only): the Graph Store at
#: /sparql-graph-crud and updates at /sparql, as ``kzgraph push`` needs.
VIRTUOSO_GRANTS = """
GRANT SPARQL_UPDATE TO "SPARQL";
DB.DBA.RDF_DEFAULT_USER_PERMS_SET ('nobody', 7);
"""


@contextmanager
def virtuoso_server(location: Path) -> Iterator[tuple[str, str, str]]:
    """Virtuoso Open Source on loopback with a new database in ``location``.

    Yields its query, update and Graph Store URLs. Debian's ``virtuoso-opensource-7-bin``
    (installed by scripts/test.sh) provides ``virtuoso-t`` and ``isql-vt``.
    """
    import shutil

    server, isql = shutil.which("virtuoso-t"), shutil.which("isql-vt")
    assert server and isql, "Virtuoso is missing: run bash scripts/test.sh (it installs it)"
    location.mkdir(parents=True, exist_ok=True)
    sql, http = free_port(), free_port()
    ini = location / "virtuoso.ini"
    ini.write_text(VIRTUOSO_INI.format(dir=location, sql=sql, http=http))
    process = subprocess.Popen(
        [server, "-f", "-c", str(ini)],
        cwd=location,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{http}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"Virtuoso exited:\n{(location / 'virtuoso.log').read_text()}")
            try:
                if (
                    httpx.get(base + "/sparql", params={"query": "ASK {}"}, timeout=2).status_code
                    == 200
                ):
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        grants = location / "grants.sql"
        grants.write_text(VIRTUOSO_GRANTS)
        subprocess.run(
            [isql, str(sql), "dba", "dba", str(grants)], check=True, capture_output=True, timeout=60
        )
        yield base + "/sparql", base + "/sparql", base + "/sparql-graph-crud"
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

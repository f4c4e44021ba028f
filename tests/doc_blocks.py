"""Read the code blocks of the README and the guides, and run them as a reader would.

Every fenced block names its language. ``bash`` and ``python`` blocks are run as written in a
fresh copy of the project (its tracked files, with the set-up's ``.venv``, ``.tools`` and
``web/node_modules`` linked in); ``console`` blocks hold ``$ command`` lines and the output the
reader will see, which must match (``…`` stands for any text in a line, and a line of ``…``
alone for any number of lines). Other languages (``text``, ``turtle``, ``sparql``) are shown,
not run. What a block needs is said after its language, and the runner provides it:

- ``needs=server``: a ``kzgraph serve`` on a free port (``server-args`` adds options); the
  block's ``127.0.0.1:7878`` is pointed at it;
- ``needs=oxigraph``: an Oxigraph server over an empty store, for ``127.0.0.1:7879``;
- ``needs=virtuoso``: Virtuoso with an empty database, for ``127.0.0.1:8890``;
- ``serves=PORT``: the block starts a server itself; it must answer ``/sparql`` on that port,
  and is stopped then;
- ``skip="reason"``: not run, with the reason shown (the test command itself).
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .server_process import OXIGRAPH, free_port, virtuoso_server

ROOT = Path(__file__).resolve().parent.parent
RUN = {"bash", "python", "console"}
SHOWN = {"text", "turtle", "sparql", "json", "csv", "yaml", "html"}
FENCE = re.compile(r"^```(?P<info>.*)$")


@dataclass
class Block:
    """One fenced block: where it is, its language, what it needs, and its text."""

    file: Path
    line: int
    lang: str
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def id(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"


def blocks_of(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, in order; an unclosed fence is an error."""
    found: list[Block] = []
    current: Block | None = None
    lines: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        match = FENCE.match(line)
        if match is None:
            if current is not None:
                lines.append(line)
            continue
        if current is None:
            words = shlex.split(match["info"])
            lang = words[0] if words else ""
            attrs = dict(w.split("=", 1) for w in words[1:] if "=" in w)
            current, lines = Block(path, number, lang, attrs), []
        else:
            current.text = "\n".join(lines) + "\n"
            found.append(current)
            current = None
    assert current is None, f"{path}:{current.line}: a code block is never closed"
    return found


def fresh_copy(target: Path) -> Path:
    """The project's files as a fresh clone has them (a git repository of one commit), with the
    set-up's installs linked in.

    The links share the checkout's ``.venv``: a block that runs the set-up in the copy must find
    it up to date, or it would install the package from the copy (which is then deleted), so a
    stale install is refused here first.
    """
    stamp = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    installed = (ROOT / ".venv" / ".kzgraph-installed").read_text(encoding="utf-8").split()
    assert installed and installed[-1] == stamp, (
        "pyproject.toml changed since the last set-up: run bash scripts/setup.sh test first"
    )
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    git = ["git", "-c", "user.name=kzgraph docs", "-c", "user.email=docs@localhost"]
    for step in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "a fresh copy"]):
        subprocess.run([*git, *step], cwd=target, check=True, capture_output=True)
    for linked in (".venv", ".tools", "web/node_modules"):
        if (ROOT / linked).exists():
            (target / linked).parent.mkdir(parents=True, exist_ok=True)
            (target / linked).symlink_to(ROOT / linked)
    return target


def environment(project: Path) -> dict[str, str]:
    """What a reader's shell has after the set-up: kzgraph on PATH, this project as its home."""
    seeds = os.environ.get("KZGRAPH_SEEDS") or str(ROOT.parent / "shared" / "seeds")
    return {
        **os.environ,
        "PATH": f"{project / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
        "KZGRAPH_HOME": str(project),
        "KZGRAPH_SEEDS": seeds,
        "PYTHONUNBUFFERED": "1",
    }


class Services:
    """What the blocks of one file need, started once when first needed and kept for the file.

    Kept, because a guide's blocks build on each other: one pushes the graph into the Oxigraph
    server, the next serves an endpoint in front of it.
    """

    def __init__(self, project: Path) -> None:
        self.project = project
        self.stack = ExitStack()
        self.ports: dict[str, str] = {}  # the port a guide writes -> the one started
        self.servers: dict[tuple[str, ...], int] = {}

    def need(self, what: str) -> None:
        if what == "oxigraph" and "7879" not in self.ports:
            port = free_port()
            self.stack.enter_context(_process(
                [str(OXIGRAPH), "serve", "--location", str(self.project / "data" / "remote"),
                 "--bind", f"127.0.0.1:{port}", "--timeout-s", "60"],
                self.project, f"http://127.0.0.1:{port}/query?query=ASK%7B%7D",
            ))  # fmt: skip
            self.ports["7879"] = str(port)
        elif what == "virtuoso" and "8890" not in self.ports:
            query, _update, _store = self.stack.enter_context(
                virtuoso_server(self.project / "virtuoso")
            )
            self.ports["8890"] = query.split("/")[2].split(":")[1]
        elif what not in ("oxigraph", "virtuoso", "server"):
            raise AssertionError(f"unknown need {what!r}")

    def server(self, args: list[str]) -> str:
        """A ``kzgraph serve`` with ``args`` (started once per set of arguments); its port."""
        key = tuple(self.point(a) for a in args)
        if key not in self.servers:
            port = free_port()
            self.stack.enter_context(_process(
                [str(self.project / ".venv" / "bin" / "kzgraph"), "serve", "--port", str(port),
                 *key],
                self.project, f"http://127.0.0.1:{port}/healthz",
            ))  # fmt: skip
            self.servers[key] = port
        return str(self.servers[key])

    def point(self, text: str) -> str:
        """``text`` with the ports a guide writes replaced by those of the services started."""
        for written, started in self.ports.items():
            text = text.replace(f"127.0.0.1:{written}", f"127.0.0.1:{started}")
        return text

    def close(self) -> None:
        self.stack.close()


def provided(block: Block, services: Services) -> str:
    """Start what the block needs; its text, pointed at what was started."""
    needs = [n for n in block.attrs.get("needs", "").split(",") if n]
    for what in needs:
        services.need(what)
    text = services.point(block.text)
    if "server" in needs:
        port = services.server(shlex.split(block.attrs.get("server-args", "")))
        text = text.replace("127.0.0.1:7878", f"127.0.0.1:{port}")
    return text


@contextmanager
def _process(command: list[str], cwd: Path, ready: str, timeout: float = 120) -> Iterator[None]:
    """A background process, waited for until ``ready`` answers 200, stopped afterwards."""
    log = cwd / f".process-{time.monotonic_ns()}.log"
    process = subprocess.Popen(
        command, cwd=cwd, env=environment(cwd), stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise AssertionError(f"{command[0]} exited early:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(ready, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{command[0]} did not answer {ready}:\n{log.read_text()}")
            time.sleep(0.3)
        yield
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with_group = getattr(os, "killpg", None)
        if with_group is not None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait()


def run_block(block: Block, services: Services) -> None:
    """Run ``block`` in the project; an assertion names the block and shows what went wrong."""
    if "skip" in block.attrs:
        return
    project = services.project
    timeout = float(block.attrs.get("timeout", 600))
    text = provided(block, services)
    if "serves" in block.attrs:
        _serves(block, text, project, int(block.attrs["serves"]))
    elif block.lang == "bash":
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", text], cwd=project, env=environment(project),
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        assert done.returncode == 0, (
            f"{block.id}: exit {done.returncode}\n{text}\n--- stdout\n{done.stdout[-3000:]}"
            f"\n--- stderr\n{done.stderr[-3000:]}"
        )
    elif block.lang == "python":
        done = subprocess.run(
            [sys.executable, "-c", text], cwd=project, env=environment(project),
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        assert done.returncode == 0, f"{block.id}:\n{text}\n{done.stderr[-3000:]}"
    elif block.lang == "console":
        for command, expected in console_steps(text):
            done = subprocess.run(
                ["bash", "-c", command], cwd=project, env=environment(project),
                capture_output=True, text=True, timeout=timeout,
            )  # fmt: skip
            shown = done.stderr if expected.startswith("error:") else done.stdout
            assert matches(expected, shown), (
                f"{block.id}: $ {command}\n--- the guide shows\n{expected}\n"
                f"--- the command printed\n{shown}\n--- stderr\n{done.stderr[-2000:]}"
            )


def _serves(block: Block, text: str, project: Path, port: int) -> None:
    with httpx.Client() as client:
        try:
            client.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            raise AssertionError(f"{block.id}: port {port} is already taken")
        except httpx.HTTPError:
            pass
    with _process(["bash", "-euo", "pipefail", "-c", text], project,
                  f"http://127.0.0.1:{port}/sparql", timeout=300):  # fmt: skip
        answer = httpx.get(
            f"http://127.0.0.1:{port}/sparql",
            params={"query": "ASK { ?s a kz:Company }"},
            headers={"Accept": "application/sparql-results+json"},
        )
        assert answer.json()["boolean"] is True, answer.text


def console_steps(text: str) -> list[tuple[str, str]]:
    """``$ command`` lines (a trailing ``\\`` continues one) with the output shown below each."""
    steps: list[tuple[str, list[str]]] = []
    lines = text.rstrip("\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\") and i + 1 < len(lines):
                i += 1
                command = command[:-1] + "\n" + lines[i]
            steps.append((command, []))
        else:
            assert steps, f"output before any $ command: {line!r}"
            steps[-1][1].append(line)
        i += 1
    return [(c, "\n".join(out).strip("\n")) for c, out in steps]


def matches(expected: str, actual: str) -> bool:
    """Whether ``actual`` reads as ``expected`` (``…`` is any text; a ``…`` line any lines)."""
    pattern = []
    for line in expected.split("\n"):
        if line.strip() == "…":
            pattern.append(r"(?:[^\n]*\n)*?")
        else:
            parts = [re.escape(p) for p in line.rstrip().split("…")]
            pattern.append("[^\n]*".join(parts) + r"[ \t]*\n")
    text = "\n".join(line.rstrip() for line in actual.strip("\n").split("\n")) + "\n"
    return re.fullmatch("".join(pattern), text) is not None

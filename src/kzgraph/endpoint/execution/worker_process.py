"""The code a query worker process runs: open its data, answer jobs, serialise answers.

Kept apart from the pool (:mod:`kzgraph.endpoint.execution.workers`) and importing nothing but
pyoxigraph, so that a worker started with ``spawn`` costs a Python interpreter and Oxigraph, not the
whole application: memory per worker stays small, and with snapshots the data itself is shared.
"""

from __future__ import annotations

import io
import resource
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import pyoxigraph as ox

from kzgraph.store.merge import MERGE

RESULT_FORMATS = {
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}
RDF_FORMATS = {
    "ttl": ox.RdfFormat.TURTLE,
    "n3": ox.RdfFormat.TURTLE,  # Turtle is N3: written and read as Turtle
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
    #: "select", "ask", "graph" on success; "syntax", "timeout", "error" on failure, and
    #: "unavailable" when a remote store failed (:mod:`kzgraph.endpoint.execution.remote_pool`).
    kind: str = ""
    body: bytes = b""
    truncated: bool = False
    message: str = ""
    seconds: float = 0.0
    #: CPU seconds this thread spent on it: what deciding to keep it rests on, since unlike
    #: wall time it does not grow when the machine is busy with other work.
    cpu_seconds: float = 0.0
    #: True when the server answered from its cache of recent answers.
    cached: bool = False
    #: Seconds since a cached answer was computed (HTTP's ``Age``).
    age: float = 0.0


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


def select_body(
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


def graph_body(
    result: Any, fmt: str, cap: int, max_bytes: int, namespaces: dict[str, str]
) -> tuple[bytes, bool]:
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
        prefixes = {p: ns for p, ns in namespaces.items() if any(v.startswith(ns) for v in used)}
        return ox.serialize(kept, format=RDF_FORMATS[fmt], prefixes=prefixes) or b""

    body, cut = _fit(serialise, triples, max_bytes)
    return body, truncated or cut


def run_job(
    store: ox.Store,
    job: Job,
    max_rows: int,
    max_bytes: int = 64_000_000,
    prefixes: dict[str, str] | None = None,
) -> Answer:
    """Run one job on ``store``; used by workers and by tests in-process. Never raises."""
    if prefixes is None:  # in-process callers; a worker is handed them and imports nothing
        from kzgraph.core.namespaces import PREFIXES

        prefixes = dict(PREFIXES)
    names: dict[str, str] = prefixes
    started, cpu_started = time.perf_counter(), time.thread_time()
    kwargs: dict[str, Any] = {"prefixes": names, "base_iri": job.base_iri}
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
            body, truncated = graph_body(result, job.graph_format, max_rows, max_bytes, names)
        else:
            kind = "select"
            body, truncated = select_body(
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
    return Answer(
        True,
        kind,
        body or b"",
        truncated,
        seconds=time.perf_counter() - started,
        cpu_seconds=time.thread_time() - cpu_started,
    )


#: Queries that ran at least this long may have grown the heap; it is trimmed after them.
TRIM_AFTER_SECONDS = 0.05


def release_memory() -> None:
    """Give the memory a finished query freed back to the system (glibc's ``malloc_trim``).

    A process keeps the peak of the biggest query it ever ran: freed memory stays in the
    allocator's arenas, so with four workers each one ends up holding its own heaviest query's
    working memory. Trimming after slow queries brings each back near its resting size.
    Elsewhere than glibc this does nothing.
    """
    global _TRIM
    if _TRIM is None:
        import ctypes
        import ctypes.util

        try:
            _TRIM = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM: Any = None


def load_store(source: bytes | str) -> ox.Store:
    """The worker's store: a read-only open of a snapshot directory, or a copy of N-Quads.

    A snapshot already holds the merged default graph; N-Quads get it derived here.
    """
    if isinstance(source, str):
        return ox.Store.read_only(source)
    store = ox.Store()
    store.load(source, format=ox.RdfFormat.N_QUADS)
    store.update(MERGE)
    return store


def worker_main(
    conn: Connection,
    source: bytes | str,
    max_rows: int,
    memory_mb: int,
    max_bytes: int,
    prefixes: dict[str, str],
) -> None:
    """Worker loop: answer jobs until the pipe closes."""
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    store = load_store(source)
    conn.send("ready")
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        if isinstance(message, (bytes, str)):  # new data after an update
            del store  # close the old snapshot before opening the new one
            store = load_store(message)
            conn.send("ready")
            continue
        answer = run_job(store, message, max_rows, max_bytes, prefixes)
        conn.send(answer)
        if answer.seconds >= TRIM_AFTER_SECONDS or not answer.ok:
            release_memory()


def main() -> None:
    """``python -m kzgraph.endpoint.execution.worker_process FD``: settings come first."""
    import socket
    import sys

    # Run as a module this file is __main__; answers must pickle under the real module name.
    from kzgraph.endpoint.execution import worker_process

    conn = Connection(socket.socket(fileno=int(sys.argv[1])).detach())
    source, max_rows, memory_mb, max_bytes, prefixes = conn.recv()
    worker_process.worker_main(conn, source, max_rows, memory_mb, max_bytes, prefixes)


if __name__ == "__main__":
    main()

"""Answers kept for repeated queries, until the data changes.

At a million quads the saved queries take from a tenth of a second to several seconds on any
engine (they aggregate the whole graph), and analysts' notebooks and dashboards send the same
few again and again. Answers are kept, keyed by everything that decides them (the query, its
dataset, parameters and format, and which data they were computed on): a query asked again on
the same data has the same answer, unless it calls RAND, NOW, UUID or STRUUID, whose answers the
server never keeps. Every write changes the data's id and empties the cache, so no kept answer
outlives its data. Whether an answer is kept never depends on how busy the machine was:

- in memory, every answer up to ``max_entry`` bytes, within ``max_bytes``, least recently used
  out first: a hit costs less than sending even a light query to a worker process;
- as files in a directory (``shared``), when there is one, the answers whose computation cost
  at least ``min_cpu_seconds`` of CPU time (5 ms) in the thread that ran it, of any size up to
  the ``disk_bytes`` budget, oldest files out first. CPU time, not wall time: a busy machine
  makes a query wait longer, not cost more. The biggest answers, often the slowest, are kept
  there only.

With ``serve --processes N`` a process that computed an answer writes it there, the others read
it on a miss, and a process that replaces a retired one starts warm. For a store on disk the
directory sits beside it (``DIR.answers``) and the data's id is the store's content id, so a
server restarted on unchanged data answers what it answered before at once, where a saved query
at a million quads takes seconds. A file is a JSON header line (the full key, checked on
reading, and the answer's fields) and the body: nothing in it is executed, and a damaged file
is a miss.

>>> from kzgraph.endpoint.execution.worker_process import Answer, Job
>>> cache = AnswerCache(max_bytes=100)
>>> key = cache.key(Job("ASK {}"), data=0)
>>> cache.put(key, Answer(True, "ask", b"true", seconds=0.001, cpu_seconds=0.0001))
>>> cache.get(key).body, cache.get(cache.key(Job("ASK {}"), data=1))
(b'true', None)
>>> cache.put(key, Answer(False, "error", message="out of memory"))  # failures are not kept
>>> cache.get(key).ok
True
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path

import pyoxigraph as ox

from kzgraph.endpoint.execution.worker_process import Answer, Job


class AnswerCache:
    """A byte-bounded LRU of successful answers."""

    def __init__(
        self,
        max_bytes: int = 64_000_000,
        min_cpu_seconds: float = 0.005,
        max_entry: int = 8_000_000,
        shared: Path | None = None,
        max_age: float | None = None,
        disk_bytes: int = 1_000_000_000,
    ) -> None:
        self.shared = shared
        self.disk_bytes = disk_bytes
        #: Seconds an answer is kept at most: for a remote store, which writers kzgraph does
        #: not see (``kzgraph push``, other clients) may change at any time.
        self.max_age = max_age
        self._stored: dict[Hashable, float] = {}
        self._puts = 0
        self.max_bytes = max_bytes
        self.min_cpu_seconds = min_cpu_seconds
        self.max_entry = min(max_entry, max_bytes)
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, Answer] = OrderedDict()

    @staticmethod
    def key(job: Job, data: int | str) -> Hashable:
        """Everything that decides the answer to ``job`` on the data named ``data``."""
        return (
            data,
            job.query,
            job.select_format,
            job.graph_format,
            tuple(job.default_graphs),
            tuple(job.named_graphs),
            tuple(sorted(job.substitutions.items())),
            job.base_iri,
            tuple(job.hidden),
        )

    def get(self, key: Hashable) -> Answer | None:
        """The kept answer, marked as cached with its age, or None."""
        now = time.monotonic()
        stored = self._stored.get(key, now)
        if self.max_age is not None and now - stored > self.max_age and key in self._entries:
            self.bytes -= _size(self._entries.pop(key))  # past its age: computed again
            self._stored.pop(key, None)
        answer = self._entries.get(key)
        if answer is None and self.shared is not None:
            answer = self._read(key)
            if answer is not None and _size(answer) <= self.max_entry:
                self._keep(key, answer)
        if answer is None:
            self.misses += 1
            return None
        self.hits += 1
        if key in self._entries:
            self._entries.move_to_end(key)
        return dataclasses.replace(answer, cached=True, age=now - self._stored.get(key, now))

    def put(self, key: Hashable, answer: Answer) -> None:
        """Keep a successful ``answer``: in memory if it fits, on disk if it cost enough CPU.

        The caller leaves out answers of volatile queries (:func:`~kzgraph.endpoint.
        sparql_text.volatile`).
        """
        if not answer.ok or self.max_bytes <= 0:
            return
        size = _size(answer)
        if size <= self.max_entry:
            self._keep(key, answer)
        costly = answer.cpu_seconds >= self.min_cpu_seconds
        if self.shared is not None and costly and size <= self.disk_bytes:
            self._write(key, answer, big=size > self.max_entry)

    def _keep(self, key: Hashable, answer: Answer) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= _size(old)
        self._entries[key] = answer
        self._stored[key] = time.monotonic()
        self.bytes += _size(answer)
        while self.bytes > self.max_bytes and self._entries:
            gone, dropped = self._entries.popitem(last=False)
            self._stored.pop(gone, None)
            self.bytes -= _size(dropped)

    def _file(self, key: Hashable) -> Path:
        assert self.shared is not None
        return self.shared / (hashlib.sha256(_spelled(key).encode()).hexdigest() + ".answer")

    def _read(self, key: Hashable) -> Answer | None:
        try:
            with self._file(key).open("rb") as stored:
                header = json.loads(stored.readline())
                body = stored.read()
        except (OSError, ValueError):
            return None
        if not isinstance(header, dict) or header.get("key") != _spelled(key):
            return None
        try:
            answer = Answer(
                ok=header["ok"] is True,
                kind=str(header["kind"]),
                body=body,
                truncated=header["truncated"] is True,
                message=str(header["message"]),
                seconds=float(header["seconds"]),
                cpu_seconds=float(header.get("cpu_seconds", 0.0)),
            )
        except (KeyError, TypeError, ValueError):
            return None
        return answer if len(body) == header.get("bytes") else None  # cut short: a miss

    def _write(self, key: Hashable, answer: Answer, big: bool = False) -> None:
        """Write atomically (temporary file, rename), then keep the directory within budget.

        The budget is checked every sixteen writes, and after every big one.
        """
        assert self.shared is not None
        header = {
            "key": _spelled(key),
            "ok": answer.ok,
            "kind": answer.kind,
            "truncated": answer.truncated,
            "message": answer.message,
            "seconds": answer.seconds,
            "cpu_seconds": answer.cpu_seconds,
            "bytes": len(answer.body),
        }
        try:
            fd, tmp = tempfile.mkstemp(dir=self.shared, suffix=".tmp")
            with os.fdopen(fd, "wb") as out:
                out.write(json.dumps(header).encode() + b"\n")
                out.write(answer.body)
            os.replace(tmp, self._file(key))
        except OSError:
            return  # a full disk costs the sharing, never the answer
        self._puts += 1
        if big or self._puts % 16 == 0:
            self._trim()

    def _trim(self) -> None:
        assert self.shared is not None
        files = []
        for path in self.shared.glob("*.answer"):
            try:
                stat = path.stat()
            except OSError:
                continue
            files.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.disk_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size

    def clear(self) -> None:
        """Forget every answer, in memory and on disk (the data changed)."""
        self._entries.clear()
        self.bytes = 0
        if self.shared is not None:
            for path in self.shared.glob("*.answer"):
                path.unlink(missing_ok=True)

    def status(self) -> dict[str, int]:
        """What /healthz reports."""
        return {
            "entries": len(self._entries),
            "bytes": self.bytes,
            "hits": self.hits,
            "misses": self.misses,
        }


def _folder(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + ".answers")


def beside(store_path: Path) -> Path:
    """The directory where a store's answers are kept across restarts (``DIR.answers``)."""
    folder = _folder(store_path)
    folder.mkdir(exist_ok=True)
    return folder


def forget_beside(store_path: Path) -> None:
    """Drop the answers kept beside a store that is being rewritten offline (load, build).

    They could never be served again (the content id changes), only take disk until trimmed.
    """
    shutil.rmtree(_folder(store_path), ignore_errors=True)


def data_id(content: str, max_rows: int, max_bytes: int) -> str:
    """What answers kept on disk were computed on, beyond the request.

    The store's content id, and what else shapes an answer's bytes (the caps, the engine, the
    code that serialises), so a restart with other caps or after an upgrade computes afresh
    instead of serving an answer made another way.
    """
    return f"{content} rows={max_rows} bytes={max_bytes} pyoxigraph={ox.__version__} code={_code()}"


@functools.cache
def _code() -> str:
    """The serialising code's hash: read once per process, not again on every write."""
    from kzgraph.endpoint.execution import worker_process

    return hashlib.sha256(Path(worker_process.__file__).read_bytes()).hexdigest()[:16]


def _spelled(key: Hashable) -> str:
    """A key as text, the same in every process and across restarts (``hash`` is neither)."""
    return json.dumps(key, ensure_ascii=False)


def _size(answer: Answer) -> int:
    """The bytes an answer holds, as the budget counts them."""
    return len(answer.body) + len(answer.message)

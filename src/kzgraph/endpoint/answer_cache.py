"""Answers kept for repeated queries, until the data changes.

At a million quads the saved queries take from a tenth of a second to several seconds on any
engine (they aggregate the whole graph), and analysts' notebooks and dashboards send the same
few again and again. An answer that took at least ``min_seconds`` to compute is kept, keyed by
everything that decides it (the query, its dataset, parameters and format, and the data's
generation), within a byte budget, least recently used out first. Every write starts a new
generation and empties the cache, so no kept answer outlives the data it was computed on.

With ``serve --processes N`` the processes also share their answers through files in one
directory (``shared``): a process that computed an answer writes it there, the others read it
on a miss, and a process that replaces a retired one starts warm. The directory is kept within
the same byte budget, oldest files out first.

>>> from kzgraph.endpoint.worker_process import Answer, Job
>>> cache = AnswerCache(max_bytes=100, min_seconds=0.5)
>>> key = cache.key(Job("ASK {}"), generation=0)
>>> cache.put(key, Answer(True, "ask", b"true", seconds=0.1))  # quick: not worth keeping
>>> cache.get(key) is None
True
>>> cache.put(key, Answer(True, "ask", b"true", seconds=2.0))
>>> cache.get(key).body, cache.get(cache.key(Job("ASK {}"), generation=1))
(b'true', None)
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import tempfile
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path

from kzgraph.endpoint.worker_process import Answer, Job


class AnswerCache:
    """A byte-bounded LRU of successful answers."""

    def __init__(
        self,
        max_bytes: int = 64_000_000,
        min_seconds: float = 0.02,
        max_entry: int = 8_000_000,
        shared: Path | None = None,
    ) -> None:
        self.shared = shared
        self._puts = 0
        self.max_bytes = max_bytes
        self.min_seconds = min_seconds
        self.max_entry = min(max_entry, max_bytes)
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, Answer] = OrderedDict()

    @staticmethod
    def key(job: Job, generation: int) -> Hashable:
        """Everything that decides the answer to ``job``."""
        return (
            generation,
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
        """The kept answer, marked as cached, or None."""
        answer = self._entries.get(key)
        if answer is None and self.shared is not None:
            answer = self._read(key)
            if answer is not None:
                self._keep(key, answer)
        if answer is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return dataclasses.replace(answer, cached=True)

    def put(self, key: Hashable, answer: Answer) -> None:
        """Keep ``answer`` if it succeeded, was slow enough to matter and fits."""
        size = _size(answer)
        worth = answer.ok and answer.seconds >= self.min_seconds and size <= self.max_entry
        if not worth or self.max_bytes <= 0:
            return
        self._keep(key, answer)
        if self.shared is not None:
            self._write(key, answer)

    def _keep(self, key: Hashable, answer: Answer) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= _size(old)
        self._entries[key] = answer
        self.bytes += _size(answer)
        while self.bytes > self.max_bytes and self._entries:
            _, dropped = self._entries.popitem(last=False)
            self.bytes -= _size(dropped)

    def _file(self, key: Hashable) -> Path:
        assert self.shared is not None
        return self.shared / (hashlib.sha256(repr(key).encode()).hexdigest() + ".answer")

    def _read(self, key: Hashable) -> Answer | None:
        try:
            stored_key, answer = pickle.loads(self._file(key).read_bytes())
        except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError):
            return None
        return answer if stored_key == key and isinstance(answer, Answer) else None

    def _write(self, key: Hashable, answer: Answer) -> None:
        """Write atomically (temporary file, rename), then keep the directory within budget."""
        assert self.shared is not None
        try:
            fd, tmp = tempfile.mkstemp(dir=self.shared, suffix=".tmp")
            with os.fdopen(fd, "wb") as out:
                pickle.dump((key, answer), out, pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self._file(key))
        except OSError:
            return  # a full disk costs the sharing, never the answer
        self._puts += 1
        if self._puts % 16 == 0:
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
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size

    def clear(self) -> None:
        """Forget every answer (the data changed)."""
        self._entries.clear()
        self.bytes = 0

    def status(self) -> dict[str, int]:
        """What /healthz reports."""
        return {
            "entries": len(self._entries),
            "bytes": self.bytes,
            "hits": self.hits,
            "misses": self.misses,
        }


def _size(answer: Answer) -> int:
    """The bytes an answer holds, as the budget counts them."""
    return len(answer.body) + len(answer.message)

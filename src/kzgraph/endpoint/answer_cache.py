"""Answers kept for repeated queries, until the data changes.

At a million quads the saved queries take from a tenth of a second to several seconds on any
engine (they aggregate the whole graph), and analysts' notebooks and dashboards send the same
few again and again. An answer that took at least ``min_seconds`` to compute is kept, keyed by
everything that decides it (the query, its dataset, parameters and format, and the data's
generation), within a byte budget, least recently used out first. Every write starts a new
generation and empties the cache, so no kept answer outlives the data it was computed on.

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
from collections import OrderedDict
from collections.abc import Hashable

from kzgraph.endpoint.worker_process import Answer, Job


class AnswerCache:
    """A byte-bounded LRU of successful answers."""

    def __init__(
        self, max_bytes: int = 64_000_000, min_seconds: float = 0.02, max_entry: int = 8_000_000
    ) -> None:
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
        if answer is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return dataclasses.replace(answer, cached=True)

    def put(self, key: Hashable, answer: Answer) -> None:
        """Keep ``answer`` if it succeeded, was slow enough to matter and fits."""
        size = len(answer.body) + len(answer.message)
        worth = answer.ok and answer.seconds >= self.min_seconds and size <= self.max_entry
        if not worth or self.max_bytes <= 0:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= len(old.body) + len(old.message)
        self._entries[key] = answer
        self.bytes += size
        while self.bytes > self.max_bytes and self._entries:
            _, dropped = self._entries.popitem(last=False)
            self.bytes -= len(dropped.body) + len(dropped.message)

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

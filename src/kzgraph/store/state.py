"""What an on-disk store holds, recorded inside it, so that a restart redoes nothing.

Starting a server on a store of a million quads must not re-read, re-hash or re-validate it. So
every store kzgraph writes carries a small file, ``kzgraph-state.json``, beside RocksDB's own:

- ``content``: an id of the data, as a sum modulo 2**256 of parts, so the order of loading does
  not matter. Read from a store, the parts are the SHA-256 of each named-graph quad (a multiset
  hash). ``kzgraph load`` adds one part per file, from the file's bytes and target graph, instead
  of reading the store back (minutes at ten million quads); each update through the server
  chains the id with the update's text. Equal ids mean equal data, up to the names of blank
  nodes (which every load renames); equal data reached by different routes may get different
  ids, which costs one validation more, never a wrong answer.
- ``validated``: the outcome of the last validation, with the key it was made for (content id,
  shapes, engine versions). A restart on unchanged data and shapes skips validation.

Writers mark the file ``dirty`` before they change the store and record the new id after the
change is durable; a crash in between leaves ``dirty``, and the next start recomputes the id
from the data and validates again instead of trusting a stale record.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox

STATE_FILE = "kzgraph-state.json"
_MOD = 2**256


@dataclass
class StoreState:
    """The recorded content id of a store and its last validation."""

    content: str | None = None
    dirty: bool = False
    validated: dict[str, Any] | None = None

    def conforms_for(self, key: str) -> bool | None:
        """True/False when the last validation was for ``key``, else None."""
        if self.dirty or not self.validated or self.validated.get("key") != key:
            return None
        return bool(self.validated.get("conforms"))


def read(store_dir: Path) -> StoreState | None:
    """The state recorded in ``store_dir``, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads((store_dir / STATE_FILE).read_text(encoding="utf-8"))
        return StoreState(
            content=data.get("content"),
            dirty=bool(data.get("dirty")),
            validated=data.get("validated"),
        )
    except (OSError, ValueError, AttributeError):
        return None


def write(store_dir: Path, state: StoreState) -> None:
    """Record ``state`` atomically and durably (temporary file, fsync, rename)."""
    fd, tmp = tempfile.mkstemp(dir=store_dir, prefix=".kzgraph-state-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(asdict(state), out)
        out.flush()
        os.fsync(out.fileno())
    Path(tmp).replace(store_dir / STATE_FILE)


def quad_hash(line: str) -> int:
    """One quad's contribution to the multiset hash, from its N-Quads form."""
    return int.from_bytes(hashlib.sha256(line.encode()).digest(), "big")


def content_of(store: ox.Store) -> str:
    """The multiset hash of the store's named-graph quads (the default graph repeats them).

    Blank nodes enter by their stored names, which Oxigraph keeps across restarts.
    """
    total = 0
    for graph in list(store.named_graphs()):  # graph by graph: the merged default is skipped
        for quad in store.quads_for_pattern(None, None, None, graph):
            total += quad_hash(str(quad))
    return f"{total % _MOD:064x}"


def with_files(content: str, files: list[tuple[str, str]]) -> str:
    """The id after loading files, each given as (SHA-256 of its bytes, target graph IRI).

    >>> empty = f"{0:064x}"
    >>> a, b = ("aa" * 32, "urn:x:g"), ("bb" * 32, "urn:x:g")
    >>> with_files(with_files(empty, [a]), [b]) == with_files(empty, [b, a])
    True
    >>> with_files(empty, [a]) == with_files(empty, [("aa" * 32, "urn:x:other")])
    False
    """
    total = int(content, 16)
    for digest, graph in files:
        part = hashlib.sha256(f"kzgraph load\n{graph}\n{digest}".encode()).digest()
        total += int.from_bytes(part, "big")
    return f"{total % _MOD:064x}"


def chained(content: str | None, change: str) -> str:
    """The id after applying ``change`` (an update's text) to data with id ``content``."""
    return hashlib.sha256(f"{content}\n{change}".encode()).hexdigest()


def mark_dirty(store_dir: Path) -> StoreState:
    """Record that a write is about to happen; returns the state as it was."""
    before = read(store_dir) or StoreState()
    write(store_dir, StoreState(before.content, True, before.validated))
    return before


def current(store_dir: Path, store: ox.Store) -> StoreState:
    """The store's state, recomputing the content id when it is missing or dirty."""
    state = read(store_dir)
    if state is not None and state.content and not state.dirty:
        return state
    fresh = StoreState(content_of(store), False, None)
    write(store_dir, fresh)
    return fresh

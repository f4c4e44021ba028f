"""Read-only snapshots of the on-disk store, published for the query workers.

The primary store is the only one written. After each write the server publishes a snapshot:
Oxigraph's ``backup`` makes a RocksDB checkpoint (hard links to the immutable table files, so
it costs about as much as a flush, not a copy) in a new directory, and only once it is complete
are the workers told its path. Each worker opens it read-only; the operating system's page
cache holds one copy of the data for all of them. A worker in the middle of a query keeps its
snapshot until it finishes, so no reader ever sees a half-written store; a snapshot no worker
uses any more is deleted.

Snapshots live beside the store, in ``<store>.snapshots/`` (on the same file system, which hard
links need); the folder is emptied at start-up and removed at shutdown.
"""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path

import pyoxigraph as ox

log = logging.getLogger("kzgraph.endpoint")


class Snapshots:
    """Numbered checkpoints of one on-disk store."""

    def __init__(self, store: ox.Store, store_path: Path) -> None:
        self.store = store
        self.root = store_path.with_name(store_path.name + ".snapshots")
        shutil.rmtree(self.root, ignore_errors=True)  # left by a server that was killed
        self.root.mkdir(parents=True)
        self._next = 0
        self._lock = threading.Lock()

    def publish(self) -> str:
        """Checkpoint the store as it is now into a new directory; its path."""
        with self._lock:
            self._next += 1
            target = self.root / f"{self._next:08d}"
            self.store.flush()
            self.store.backup(str(target))
        return str(target)

    def retire(self, in_use: set[str]) -> None:
        """Delete every snapshot no worker reads any more."""
        with self._lock:
            for folder in self.root.iterdir():
                if str(folder) not in in_use:
                    shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        """Remove every snapshot (the workers have stopped)."""
        shutil.rmtree(self.root, ignore_errors=True)

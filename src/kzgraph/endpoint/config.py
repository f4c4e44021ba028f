"""Server settings, passed explicitly to the app factory (no globals, no environment reads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kzgraph.core.settings import Settings
from kzgraph.remote.stores import Backend


@dataclass(frozen=True)
class ServerSettings:
    """Everything the endpoint needs to know; the CLI builds one from its options."""

    project: Settings = field(default_factory=Settings.discover)
    store_path: Path | None = None
    timeout: float = 30.0
    max_rows: int = 100_000
    max_request_bytes: int = 1_000_000
    #: Queries answered at once: worker processes, or threads of each --processes process.
    workers: int = 2
    #: Processes serving HTTP on the shared port under a supervisor, each answering queries itself
    #: in threads (read-only); 0: one HTTP process in front of a pool of worker processes.
    processes: int = 0
    allow_updates: bool = False
    token: str | None = None
    validate: bool = True
    worker_memory_mb: int = 2048
    inference: str = "none"
    #: Requests that may wait for a busy pool before new ones get 503 + Retry-After.
    max_queue: int = 64
    #: Largest answer body; longer results are cut at a row (X-Kzgraph-Truncated: true).
    max_answer_bytes: int = 64_000_000
    #: Seconds a client has to send its request headers, and then its body.
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    #: Open connections the server holds at most; more are answered 503 at once.
    max_connections: int = 1000
    #: Megabytes of memory for recent answers (those that cost 5 ms of CPU or more, up to 8 MB
    #: each) kept until the data changes.
    answer_cache_mb: int = 64
    #: Megabytes of disk for kept answers of any size, beside a store on disk (``DIR.answers``)
    #: or shared by ``--processes``; they outlive a restart on unchanged data.
    answer_disk_mb: int = 1024
    #: Install the seccomp filter that keeps the server and its workers off the network.
    sandbox: bool = True
    #: A remote store to serve instead of an embedded one (reached by a relay; writes with
    #: --allow-updates go to its SPARQL Update service).
    backend: Backend | None = None

    def __post_init__(self) -> None:
        if self.allow_updates and not self.token:
            raise ValueError("updates need a token: start with --allow-updates --token ...")
        if self.workers < 1:
            raise ValueError("--workers must be at least 1")
        if self.processes < 0:
            raise ValueError("--processes must be at least 1")
        if self.processes and self.allow_updates:
            raise ValueError(
                "--processes serves read-only: writes go to one primary store, so start "
                "--allow-updates with one process (the default) and --workers for queries"
            )
        if self.backend is not None:
            self._check_backend()
        elif self.allow_updates and self.store_path is None:
            raise ValueError("updates persist on disk: give --store PATH with --allow-updates")

    def _check_backend(self) -> None:
        """What --backend cannot be combined with, said before anything starts."""
        assert self.backend is not None
        if self.store_path is not None:
            raise ValueError("--backend serves a remote store: give --backend or --store, not both")
        if self.allow_updates and not self.backend.update_url:
            raise ValueError(
                "writes through --backend need the store's SPARQL Update URL: give "
                "--backend-update URL (an Oxigraph server's is found from its /query URL)"
            )
        if self.processes:
            raise ValueError(
                "--backend serves from one process (the store does the work; --workers sets "
                "how many queries it is sent at once), not --processes"
            )
        if self.inference != "none":
            raise ValueError("--inference applies to the seeded files, not to --backend")

"""Server settings, passed explicitly to the app factory (no globals, no environment reads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kzgraph.settings import Settings


@dataclass(frozen=True)
class ServerSettings:
    """Everything the endpoint needs to know; the CLI builds one from its options."""

    project: Settings = field(default_factory=Settings.discover)
    store_path: Path | None = None
    timeout: float = 30.0
    max_rows: int = 100_000
    max_request_bytes: int = 1_000_000
    workers: int = 2
    allow_updates: bool = False
    token: str | None = None
    validate: bool = True
    worker_memory_mb: int = 2048
    inference: str = "none"

    def __post_init__(self) -> None:
        if self.allow_updates and not self.token:
            raise ValueError("updates need a token: start with --allow-updates --token ...")
        if self.allow_updates and self.store_path is None:
            raise ValueError("updates persist on disk: give --store PATH with --allow-updates")

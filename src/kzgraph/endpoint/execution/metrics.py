"""Prometheus metrics, in a registry of the app's own (no process-wide state).

With ``serve --processes N`` every process keeps its figures in memory-mapped files in one
directory (prometheus_client's multiprocess mode), and ``/metrics``, whichever process answers,
sums them: the server's requests, not one process's share. Files of processes that have ended
stay, so counters do not go back when a process is replaced.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """Requests, errors, latency and query timeouts."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, shared_dir: str | None = None) -> None:
        """``shared_dir``: the directory every serving process writes its figures to."""
        self.shared_dir = shared_dir
        if shared_dir is not None:  # values made from now on live in files there
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = shared_dir
            values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kzgraph_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "kzgraph_http_errors",
            "HTTP answers with status 400 or more",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kzgraph_http_request_seconds",
            "Time to answer a request",
            ["route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.timeouts = Counter(
            "kzgraph_query_timeouts", "Queries stopped at their time limit", registry=self.registry
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one answered request."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if status >= 400:
            self.errors.labels(route, str(status)).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition (every process's figures summed, when shared)."""
        if self.shared_dir is not None:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.shared_dir)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)

"""uvicorn's h11 protocol with a deadline for request headers.

h11 rather than httptools: uvicorn's httptools parser hands the app an empty body when a request
carries ``Upgrade: h2c`` (Java's HttpClient, Jena, ``curl --http2``), so a Graph Store PUT would
empty a graph and answer 204. uvicorn has no header deadline, so a client that sends its headers
a byte at a time (slowloris) would hold a connection forever; here each request's headers must
be complete within ``header_timeout`` seconds of its first byte (or of the connection), else
the connection is closed. Bodies have their own deadline where the app reads them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("kzgraph.endpoint")


class DeadlineH11Protocol(H11Protocol):
    """H11Protocol that closes connections whose request headers do not arrive in time."""

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """The clock for the first request's headers starts with the connection."""
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expired(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.info("closed a connection whose headers took over %g s", self.header_timeout)
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        """Stop the clock once a request's headers are complete."""
        if self.conn.their_state is h11.IDLE:
            self._arm()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()

    def on_response_complete(self) -> None:
        """A kept-alive connection's next request gets a fresh clock."""
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE:
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """No timer outlives its connection."""
        self._disarm()
        super().connection_lost(exc)

"""uvicorn's httptools protocol with a deadline and a size bound for request heads, and no upgrades.

httptools (llhttp, in C) parses a request in a fraction of h11's time: a bare Starlette answer
is served 1.6-1.8x as often (README, "HTTP parser"). Three things are added to uvicorn's protocol:

- **Upgrades are declined, and the request is answered as HTTP/1.1.** llhttp takes everything
  after the head of a request that asks to switch protocols (``Upgrade: h2c``, as Java's
  HttpClient, Jena and ``curl --http2`` send) for the new protocol, so uvicorn hands the app an
  empty body: a Graph Store PUT would empty a graph and answer 204. Here such a head is not
  handed to the app; it is written again from its parsed parts without ``Upgrade``,
  ``HTTP2-Settings`` and their ``Connection`` tokens, and fed with the bytes that followed it
  to a fresh parser, which reads the body as HTTP/1.1 says (RFC 9110 lets a server ignore an
  upgrade). ``CONNECT`` (a tunnel) is refused.
- **A header deadline.** uvicorn has none, so a client that sends its headers a byte at a time
  (slowloris) would hold a connection forever. Each request's head must be complete within
  ``header_timeout`` seconds of its first byte (or of the connection, or of the previous
  answer on a kept-alive connection), else the connection is closed. Bodies have their own
  deadline where the app reads them.
- **A bound on the head.** llhttp accepts a head of any size, and uvicorn keeps it all:
  a request line over ``max_head`` bytes is answered 414, headers over it 431, and the
  connection is closed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

log = logging.getLogger("kzgraph.endpoint")

#: Headers that belong to the upgrade a request asks for; dropped when it is declined.
UPGRADE_HEADERS = (b"upgrade", b"http2-settings")


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing; the answer is in ``_refusal``."""


class KzgraphHttpProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with declined upgrades, a header deadline and a bounded head."""

    header_timeout: float = 10.0
    max_head: int = 65_536

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._reading_head = False
        self._head_bytes = 0
        self._declined = False
        self._refusal: tuple[int, str] | None = None

    # The header deadline
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """The clock for the first request's head starts with the connection."""
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _idle(self) -> bool:
        """No request is being answered or waits to be."""
        return (self.cycle is None or self.cycle.response_complete) and not self.pipeline

    def _expired(self) -> None:
        """Close a connection whose head is late, unless an answer is still owed on it.

        A pipelined head that arrives while the request before it is being answered gets a
        fresh clock once that answer is sent: closing now would cut the answer off.
        """
        self._header_timer = None
        if self._idle() and not self.transport.is_closing():
            log.info("closed a connection whose headers took over %g s", self.header_timeout)
            self.transport.close()

    def on_response_complete(self) -> None:
        """A kept-alive connection's next request gets a fresh clock."""
        super().on_response_complete()
        self._disarm()
        if self._reading_head or self._idle():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """No timer outlives its connection."""
        self._disarm()
        super().connection_lost(exc)

    # Parser callbacks
    def on_message_begin(self) -> None:
        """A head starts: its clock runs (if it was not already), its byte count restarts."""
        super().on_message_begin()
        self._reading_head = True
        self._head_bytes = 0
        self._declined = False
        self._arm()

    def on_url(self, url: bytes) -> None:
        """Count the request line against the bound before keeping it."""
        self._head_bytes += len(url)
        if self._head_bytes > self.max_head:
            self._refuse(414, f"request line over {self.max_head} bytes; send long queries by POST")
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count each header against the bound before keeping it."""
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > self.max_head:
            self._refuse(431, f"request head over {self.max_head} bytes")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """Hand the request to the app, unless it asks for an upgrade (answered later)."""
        self._reading_head = False
        self._disarm()
        self._check_head()
        if self.parser.should_upgrade():
            self._declined = True
            self.scope["method"] = self.parser.get_method().decode("ascii")
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        """A declined upgrade's body is read by the fresh parser, not this one."""
        if not self._declined:
            super().on_body(body)

    def on_message_complete(self) -> None:
        """A declined upgrade's request ends where the fresh parser says."""
        if not self._declined:
            super().on_message_complete()

    def _check_head(self) -> None:
        """Refuse heads RFC 9112 says a server must not guess at, as Oxigraph's server does.

        An HTTP/1.1 request needs exactly one Host (400 otherwise); only HTTP/1.0 and 1.1 are
        spoken (505); a Transfer-Encoding other than ``chunked`` alone is not understood (501,
        or 400 when chunked is not the last coding); an Expect other than ``100-continue``
        cannot be met (417).
        """
        version = self.parser.get_http_version()
        if version not in ("1.0", "1.1"):
            self._refuse(505, f"HTTP/{version} is not spoken here; use HTTP/1.1")
        hosts = sum(1 for name, _ in self.headers if name == b"host")
        if hosts > 1 or (version == "1.1" and hosts == 0):
            self._refuse(400, "an HTTP/1.1 request carries exactly one Host header")
        for name, value in self.headers:
            if name == b"transfer-encoding":
                codings = [c.strip().lower() for c in value.split(b",") if c.strip()]
                if codings and codings[-1] != b"chunked":
                    self._refuse(400, "chunked must be the last transfer coding")
                if codings != [b"chunked"]:
                    self._refuse(501, "only the chunked transfer coding is understood")
            elif name == b"expect" and value.strip().lower() != b"100-continue":
                self._refuse(417, "the only expectation met here is 100-continue")

    def _refuse(self, status: int, message: str) -> None:
        self._refusal = (status, message)
        raise _Refused(message)

    # Feeding the parser
    def data_received(self, data: bytes) -> None:
        """Parse what arrived; a declined upgrade goes on as HTTP/1.1 with a fresh parser.

        A loop, not a recursion, so a chunk of many pipelined upgrade requests cannot exhaust
        the stack.
        """
        pending: bytes | None = data
        while pending is not None and not self.transport.is_closing():
            pending = self._feed(pending)

    def _feed(self, data: bytes) -> bytes | None:
        """Feed ``data``; the bytes to feed a fresh parser next, if an upgrade was declined."""
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            return self._decline_upgrade(data[exc.args[0] :] if exc.args else b"")
        except httptools.HttpParserError:
            status, message = self._refusal or (400, "Invalid HTTP request received.")
            log.info("refused a request head: %s", message)
            self._answer_and_close(status, message)
        return None

    def _decline_upgrade(self, rest: bytes) -> bytes | None:
        """The declined request's head written again without its upgrade, then what followed."""
        if not self._declined or self.scope["method"] == "CONNECT":
            self._answer_and_close(400, "CONNECT and protocol switches are not served here")
            return None
        version = self.parser.get_http_version().encode("ascii")
        head = [self.scope["method"].encode("ascii"), b" ", self.url, b" HTTP/", version, b"\r\n"]
        for name, value in self.headers:
            if name in UPGRADE_HEADERS:
                continue
            if name == b"connection":
                tokens = [t.strip() for t in value.split(b",")]
                value = b", ".join(t for t in tokens if t and t.lower() not in UPGRADE_HEADERS)
                if not value:
                    continue
            head += [name, b": ", value, b"\r\n"]
        head.append(b"\r\n")
        self.parser = httptools.HttpRequestParser(self)
        self.parser.set_dangerous_leniencies(lenient_data_after_close=True)  # as uvicorn does
        return b"".join(head) + rest

    def _answer_and_close(self, status: int, message: str) -> None:
        body = message.encode("utf-8")
        self.transport.write(
            STATUS_LINE[status] + b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
        )
        self.transport.close()

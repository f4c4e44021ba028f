"""The HTTP/1.1 layer as raw clients meet it: declined upgrades, pipelining, bounded heads.

Requests are written byte for byte on a socket to a real server, and its answers are read with
httptools' response parser, so nothing between the test and the server's parser rewrites them.
"""

from __future__ import annotations

import itertools
import json
import socket
import time
import urllib.parse

import httptools
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .hostile import RUNAWAY
from .server_process import Server

ASK_ALL = b"ASK { ?s ?p ?o }"
UPGRADE = (
    b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
    b"HTTP2-Settings: AAMAAABkAAQBAAAAAAIAAAAA\r\n"
)


@pytest.fixture(scope="module")
def server():
    s = Server("--workers", "1", "--header-timeout", "2", "--no-validate")
    yield s
    s.stop()


class _Answers:
    """httptools' response callbacks, collecting (status, body) per answer."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.done: list[tuple[int, bytes]] = []
        self.body = b""

    def on_message_begin(self) -> None:
        self.body = b""

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.done.append((self.parser.get_status_code(), self.body))


def read_answers(sock: socket.socket, answers: int) -> list[tuple[int, bytes]]:
    """Read until ``answers`` answers or the server closes; (status, body) of each."""
    got = _Answers()
    while len(got.done) < answers:
        data = sock.recv(65536)
        if not data:
            break
        got.parser.feed_data(data)
    return got.done


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed the connection (EOF or reset)."""
    try:
        return sock.recv(10) == b""
    except ConnectionResetError:
        return True


def exchange(port: int, pieces: list[bytes], answers: int, pause: float = 0.0) -> list:
    """Send ``pieces`` one send() each; read until ``answers`` answers or the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for piece in pieces:
            sock.sendall(piece)
            if pause:
                time.sleep(pause)
        return read_answers(sock, answers)


def post_query(body: bytes, *, upgrade: bool, chunked: bool) -> bytes:
    """A POST of a query in its body, asking for an h2c upgrade or not, chunked or not."""
    head = b"POST /sparql HTTP/1.1\r\nHost: t\r\nContent-Type: application/sparql-query\r\n"
    head += b"Accept: application/sparql-results+json\r\n" + (UPGRADE if upgrade else b"")
    if chunked:
        half = len(body) // 2
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:half], body[half:]))
        return head + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


GET_ASK_EMPTY = (
    b"GET /sparql?query=ASK%20%7B%3Curn%3Ax%3Anone%3E%20%3Fp%20%3Fo%20%7D HTTP/1.1\r\n"
    b"Host: t\r\nAccept: application/sparql-results+json\r\n\r\n"
)
STREAM = (
    post_query(ASK_ALL, upgrade=True, chunked=False)
    + post_query(ASK_ALL, upgrade=True, chunked=True)
    + GET_ASK_EMPTY
)


def booleans(answers: list[tuple[int, bytes]]) -> list[tuple[int, bool | None]]:
    return [(status, json.loads(body).get("boolean") if status == 200 else None)
            for status, body in answers]  # fmt: skip


def test_an_upgrade_request_is_answered_as_http11_with_its_body(server):
    """The body after a head asking for h2c is the request's body, not the new protocol's."""
    for chunked in (False, True):
        answers = exchange(server.port, [post_query(ASK_ALL, upgrade=True, chunked=chunked)], 1)
        assert booleans(answers) == [(200, True)]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=6, unique=True))
def test_pipelined_upgrades_survive_any_split(server, cuts):
    """Two upgrade requests (one chunked) and a plain GET, pipelined and cut anywhere."""
    points = [0, *sorted(cuts), len(STREAM)]
    pieces = [STREAM[a:b] for a, b in itertools.pairwise(points)]
    answers = exchange(server.port, pieces, 3, pause=0.005)
    assert booleans(answers) == [(200, True), (200, True), (200, False)]


def test_a_websocket_upgrade_is_answered_as_plain_http(server):
    request = (
        b"GET /sparql?query=ASK%20%7B%3Curn%3Ax%3Anone%3E%20%3Fp%20%3Fo%20%7D HTTP/1.1\r\n"
        b"Host: t\r\nConnection: Upgrade\r\n"
        b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Accept: application/sparql-results+json\r\n\r\n"
    )
    assert booleans(exchange(server.port, [request], 1)) == [(200, False)]


def test_connect_is_refused_and_the_connection_closed(server):
    request = b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n" + GET_ASK_EMPTY
    answers = exchange(server.port, [request], 2)
    assert len(answers) == 1 and answers[0][0] == 400 and b"CONNECT" in answers[0][1]


def test_oversized_heads_are_refused_then_the_server_goes_on(server):
    long_url = b"GET /sparql?query=" + b"A" * 70_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n"
    [(status, body)] = exchange(server.port, [long_url], 2)
    assert status == 414 and b"POST" in body
    many = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"v" * 1000) for i in range(70))
    [(status, body)] = exchange(server.port, [GET_ASK_EMPTY[:-2] + many + b"\r\n"], 2)
    assert status == 431
    assert booleans(exchange(server.port, [GET_ASK_EMPTY], 1)) == [(200, False)]


def test_a_kept_alive_connection_must_send_its_next_head_in_time(server):
    """The header deadline restarts after each answer: a slow second head is cut off."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sock.sendall(GET_ASK_EMPTY)
        assert read_answers(sock, 1)[0][0] == 200
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # and nothing more
        started = time.monotonic()
        assert closed_by_server(sock)
        assert time.monotonic() - started < 10  # closed by the 2 s deadline, not by the client


def test_a_late_pipelined_head_does_not_cut_off_the_answer_before_it(server):
    """A request runs longer than the header deadline while the next head is half sent."""
    query = urllib.parse.urlencode({"query": RUNAWAY, "timeout": "3"}).encode()
    first = b"GET /sparql?" + query + b" HTTP/1.1\r\nHost: t\r\nAccept: application/json\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sock.sendall(first + b"GET /healthz HTTP/1.1\r\nHost: t\r\n")  # second head unfinished
        started = time.monotonic()
        answers = read_answers(sock, 1)
        assert answers, "the connection was closed before the first answer"
        assert time.monotonic() - started > 2  # the first answer came after the 2 s deadline
        assert answers[0][0] == 503  # the query's own 3 s limit, answered
        assert closed_by_server(sock)  # then the unfinished head's fresh clock ran out


def test_many_pipelined_upgrades_in_one_read_are_all_answered(server):
    """Each declined upgrade is fed again in a loop, not by recursion: no stack runs out."""
    one = b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + UPGRADE + b"\r\n"
    answers = exchange(server.port, [one * 1500], 1500)
    assert len(answers) == 1500 and {status for status, _ in answers} == {200}


def _answers_or_closes(port: int, raw: bytes) -> list[tuple[int, bytes]]:
    """Send ``raw`` and half-close; every answer read until the server closes (or 5 s pass)."""
    got = _Answers()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        try:
            while data := sock.recv(65536):
                got.parser.feed_data(data)
        except (ConnectionResetError, TimeoutError):
            pass
        except httptools.HttpParserError as exc:  # the server must never send a broken answer
            raise AssertionError(f"unparsable answer to {raw!r}") from exc
    return got.done


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.integers(0, len(STREAM)), st.integers(0, 8), st.binary(max_size=8)),
        min_size=1,
        max_size=4,
    )
)
def test_mangled_pipelines_get_answers_or_a_close_never_a_5xx(server, edits):
    """Bytes cut from and spliced into the pipelined stream: no server error, and the server
    goes on. 501 and 505 are refusals RFC 9112 asks for (a transfer coding it does not know, a
    request line whose version is mangled away), not failures."""
    raw = STREAM
    for at, cut, insert in edits:
        raw = raw[:at] + insert + raw[at + cut :]
    statuses = [status for status, _ in _answers_or_closes(server.port, raw)]
    assert all(status < 500 or status in (501, 505) for status in statuses), statuses
    assert booleans(exchange(server.port, [GET_ASK_EMPTY], 1)) == [(200, False)]


@pytest.mark.parametrize(
    "head,status",
    [
        (b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 without Host
        (b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET /sparql?query=ASK%7B%7D HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        (b"GET /sparql?query=ASK%7B%7D\r\n\r\n", 505),  # no version: HTTP/0.9
        (
            b"POST /sparql HTTP/1.1\r\nHost: t\r\nContent-Type: application/sparql-query\r\n"
            b"Transfer-Encoding: identity, chunked\r\n\r\n4\r\nASK \r\n2\r\n{}\r\n0\r\n\r\n",
            501,
        ),
        (
            b"POST /sparql HTTP/1.1\r\nHost: t\r\nContent-Type: application/sparql-query\r\n"
            b"Transfer-Encoding: chunked, gzip\r\n\r\n",
            400,
        ),
        (b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: t\r\nExpect: 42-bogus\r\n\r\n", 417),
    ],
    ids=[
        "no-host",
        "two-hosts",
        "http2-line",
        "no-version",
        "identity-chunked",
        "chunked-not-last",
        "expect",
    ],
)
def test_heads_the_rfc_forbids_guessing_at_are_refused_as_oxigraph_does(server, head, status):
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sock.sendall(head)
        answers = read_answers(sock, 1)
        assert [a[0] for a in answers] == [status]
        assert closed_by_server(sock)
    # HTTP/1.0 without Host is still fine, and the server goes on
    old = b"GET /sparql?query=ASK%20%7B%7D HTTP/1.0\r\nAccept: application/sparql-results+json\r\n\r\n"
    assert booleans(exchange(server.port, [old], 1)) == [(200, True)]

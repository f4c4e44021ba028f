"""A seeded corpus of hostile and malformed requests, and a listener that counts contacts.

Shared by the hardening tests (which assert the server survives it) and ``bench/hostile.py``
(which prints the figures). Every request is built from a fixed seed, so a failure replays.
"""

from __future__ import annotations

import random
import socket
import threading
import urllib.parse
from dataclasses import dataclass, field

from .server_process import free_port


class Listener:
    """A TCP listener on a free loopback port that records every connection made to it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.contacts = 0
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.contacts += 1
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            finally:
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=2)


@dataclass
class Probe:
    """One request of the corpus."""

    family: str
    method: str
    path: str
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
VALID = [
    "SELECT ?c WHERE { ?c a kz:Company } LIMIT 5",
    "ASK { ?s ?p ?o }",
    "CONSTRUCT { ?s ?p ?o } WHERE { ?s a kz:Company ; ?p ?o } LIMIT 20",
    "DESCRIBE company:tbea",
    "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } } LIMIT 3",
]


def service_forms(target: str) -> list[str]:
    """SERVICE spelled every way the first scanner missed, and more."""
    return [
        f"SELECT ?x WHERE {{ # c\rSERVICE <{target}> {{ ?x ?p ?o }} }}",
        f"PREFIX : <{target}> SELECT ?x WHERE {{ SERVICE:glued {{ ?x ?p ?o }} }}",
        f"PREFIX a: <http://x/#> SELECT ?x WHERE {{ ?s a a:.SERVICE <{target}> {{ ?x ?p ?o }} }}",
        f"SELECT ?x WHERE {{ sErViCe SILENT <{target}> {{ ?x ?p ?o }} }}",
        # codepoint escapes, replaced before parsing by engines other than Oxigraph
        rf"SELECT ?x WHERE {{ S\u0045RVICE <{target}> {{ ?x ?p ?o }} }}",
        f"SELECT ?x WHERE {{ {{ OPTIONAL {{ SERVICE <{target}> {{ ?x ?p ?o }} }} }} }}",
        f"SELECT ?x WHERE {{ BIND(<{target}> AS ?e) SERVICE ?e {{ ?x ?p ?o }} }}",
        f"BASE <{target}> SELECT ?x WHERE {{ SERVICE <> {{ ?x ?p ?o }} }}",
        f"SELECT ?x WHERE {{ FILTER EXISTS {{ SERVICE <{target}> {{ ?x ?p ?o }} }} }}",
        f"SELECT * FROM <{target}> WHERE {{ ?s ?p ?o }}",
        f"PREFIX t: <{target}> SELECT * FROM NAMED t:x WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
        "SELECT * FROM\u00a0<file:///etc/passwd> WHERE { ?s ?p ?o }",
        "PREFIX f: <file:///etc/> SELECT * FROM f:passwd WHERE { ?s ?p ?o }",
    ]


def load_forms(target: str) -> list[str]:
    """LOAD and SERVICE inside updates."""
    return [
        f"INSERT DATA {{ GRAPH <urn:g> {{ <urn:a> <urn:b> <urn:c> }} }} ; # c\rLOAD <{target}>",
        f"PREFIX : <{target}> LOAD:x",
        f"LOAD SILENT <{target}> INTO GRAPH <urn:g>",
        f"INSERT {{ GRAPH <urn:g> {{ ?s ?p ?o }} }} WHERE {{ SERVICE <{target}> {{ ?s ?p ?o }} }}",
    ]


def _mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        pos = rng.randrange(len(chars) + 1)
        action = rng.random()
        if action < 0.4 and chars:
            del chars[min(pos, len(chars) - 1)]
        elif action < 0.8:
            chars.insert(pos, rng.choice("{}()[]<>\"'#\r\n\\:;.,?$@^|&!*+-/= \u00a0\u0000é中"))
        else:
            chars.insert(pos, rng.choice([" SERVICE ", " LOAD ", " FROM ", " UNION ", " GRAPH "]))
    return "".join(chars)


def corpus(seed: int, size: int, target: str, token: str = "wrong") -> list[Probe]:
    """``size`` requests, the fixed families first, then seeded mutations and random input."""
    rng = random.Random(seed)
    probes: list[Probe] = []
    for query in service_forms(target):
        probes.append(Probe("ssrf", "GET", "/sparql", [("query", query)]))
        probes.append(Probe("ssrf", "POST", "/sparql", [], {"Content-Type": "application/sparql-query"}, query.encode()))  # fmt: skip
        probes.append(Probe("ssrf", "POST", "/sparql", [], {"Content-Type": "application/x-www-form-urlencoded"}, urllib.parse.urlencode({"query": query}).encode()))  # fmt: skip
    for update in load_forms(target):
        form = urllib.parse.urlencode({"update": update}).encode()
        probes.append(Probe("ssrf-update", "POST", "/sparql", [], {"Authorization": f"Bearer {token}", "Content-Type": "application/x-www-form-urlencoded"}, form))  # fmt: skip
    for name in ("default-graph-uri", "named-graph-uri"):
        for value in (target, "file:///etc/passwd", "x y", "<>", "abc", ""):
            probes.append(Probe("dataset", "GET", "/sparql", [("query", VALID[0]), (name, value)]))
    for value in ("nan", "NaN", "inf", "-inf", "-1", "0", "abc", "1e309", "", "0x10", "1" * 400):
        probes.append(Probe("timeout", "GET", "/sparql", [("query", VALID[1]), ("timeout", value)]))
    for n in (100, 1000, 10_000):
        for opener, closer in (("(", ")"), ("{", "}"), ("[", "]")):
            q = "SELECT * WHERE { ?s ?p " + opener * n + closer * n + " }"
            probes.append(Probe("depth", "POST", "/sparql", [], {"Content-Type": "application/sparql-query"}, q.encode()))  # fmt: skip
        for op in ("||", "&&", "+", "/", "|"):
            q = "SELECT * WHERE { FILTER(" + f" {op} ".join(["1"] * n) + ") }"
            probes.append(Probe("chain", "POST", "/sparql", [], {"Content-Type": "application/sparql-query"}, q.encode()))  # fmt: skip
        q = "SELECT * WHERE { " + " UNION ".join(["{ ?s ?p ?o }"] * n) + " }"
        probes.append(Probe("chain", "POST", "/sparql", [], {"Content-Type": "application/sparql-query"}, q.encode()))  # fmt: skip
    for path in (
        "/resolve?iri=abc", "/id/%22", "/vocab/%3Cscript%3E", "/graph/%7F", "/id/", "/ontology/a%00b",
        "/ontology/" + "a" * 300, "/api/network/rank?measure=eigenvector", "/api/network/rank?measure=x",
        "/api/network/path?source=%00&target=x", "/api/queries/%2e%2e%2fetc", "/dumps/..%2fx",
        "/store?graph=x%20y", "/store?graph=", "/store", "/resolve?iri=%3C%3E", "/id/company/" + "x" * 5000,
    ):  # fmt: skip
        probes.append(Probe("path", "GET", path))
    for accept in (
        ",,,,",
        ";;;",
        "text/html;q=x",
        "*/*;q=nan",
        "a/b/c",
        "\u00e9/\u00e9",
        "text/csv;" * 200,
    ):
        for path in (
            "/sparql?query=ASK%7B%7D",
            "/id/company/tbea",
            "/resolve?iri=x",
            "/ontology",
            "/.well-known/void",
            "/sparql",
        ):
            probes.append(Probe("accept", "GET", path, headers={"Accept": accept}))
    for auth in ("Bearer R\u00e9", "Bearer", "Basic x", "Bearer " + "x" * 5000):
        probes.append(Probe("auth", "PUT", "/store", [("graph", "urn:x")], {"Authorization": auth, "Content-Type": "text/turtle"}, b"<a:b> <a:c> 1 ."))  # fmt: skip
    probes.append(Probe("protocol", "GET", "/sparql", [("update", "CLEAR ALL")]))
    probes.append(Probe("protocol", "POST", "/sparql", [], {"Content-Type": "application/sparql-query; charset=latin-1"}, b"ASK {}"))  # fmt: skip
    probes.append(
        Probe("protocol", "POST", "/sparql", [], {"Content-Type": "text/plain"}, b"ASK {}")
    )
    probes.append(Probe("protocol", "POST", "/sparql", [], {"Content-Type": "application/sparql-query"}, b"\xff\xfe"))  # fmt: skip
    probes.append(Probe("big", "GET", "/sparql", [("query", "SELECT * WHERE { ?s ?p ?o }")]))
    probes.append(Probe("big", "GET", "/sparql", [("query", "CONSTRUCT WHERE { ?s ?p ?o }")]))
    for _ in range(4):
        probes.append(Probe("runaway", "GET", "/sparql", [("query", RUNAWAY), ("timeout", "1")]))
    while len(probes) < size:
        base = rng.choice(VALID + service_forms(target))
        kind = rng.random()
        if kind < 0.6:
            text = _mutate(rng, base)
        elif kind < 0.8:
            text = "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randint(0, 80)))
        else:
            text = base.replace(" ", rng.choice([" ", "\t", "\r", "\n", "#x\r", "  "]))
        params = [("query", text)]
        if rng.random() < 0.2:
            params.append(("format", rng.choice(["json", "xml", "csv", "n3", "rdf+xml", "x", ""])))
        method = rng.choice(["GET", "POST"])
        if method == "GET":
            probes.append(Probe("mutated", "GET", "/sparql", params))
        else:
            probes.append(Probe("mutated", "POST", "/sparql", [], {"Content-Type": "application/sparql-query"}, text.encode("utf-8", "surrogatepass")))  # fmt: skip
    return probes[:size] if len(probes) > size else probes


def closed_after_slow_headers(port: int, count: int, wait: float) -> int:
    """Open ``count`` connections that never finish their headers; how many the server closed.

    Slowloris: each sends a request line and one header, then nothing. After ``wait`` seconds a
    server with a header deadline has closed them all (EOF or reset).
    """
    import time

    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        socks.append(sock)
    time.sleep(wait)
    closed = 0
    for sock in socks:
        sock.settimeout(2)
        try:
            closed += sock.recv(10) == b""
        except ConnectionResetError:
            closed += 1
        except TimeoutError:
            pass
        sock.close()
    return closed

"""Queries answered by a remote store, with the same limits as the local worker pool.

With ``--backend`` the server's own checks still come first (the request is read and its query
scanned by :mod:`kzgraph.endpoint.safety.rules`: no SERVICE, no updates as queries, no unknown
FROM). The query then goes to the store through the relay (:mod:`kzgraph.endpoint.safety.gateway`),
and the answer comes back under the same rules as a local worker's:

- **deadline**: the request's time limit, queue time included, bounds the whole exchange; on
  expiry the connection is closed (:class:`QueryTimeoutError`, a 503). Virtuoso's own
  ``timeout`` parameter is not used: it makes an "anytime" query that returns what it found so
  far as if it were the whole answer;
- **caps**: SELECT answers are read as TSV and CONSTRUCT/DESCRIBE as N-Triples, a line per row
  or triple, and reading stops at ``max_rows`` lines or ``max_bytes`` bytes, so a huge answer
  never reaches memory; the kept rows are written in the client's format by the same code the
  workers use (:func:`~kzgraph.endpoint.execution.worker_process.select_body`);
- **queue**: at most ``size`` queries are at the store at once and ``max_queue`` wait
  (then :class:`PoolBusyError`, a 503).

Saved-query parameters are bound with a VALUES block (:func:`kzgraph.remote.stores.bind_values`),
never pasted into the text.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import httpx
import pyoxigraph as ox
from rdflib import BNode, Literal, Node, URIRef

from kzgraph.core.namespaces import PREFIXES
from kzgraph.endpoint.execution.worker_process import (
    RESULT_FORMATS,
    Answer,
    Job,
    graph_body,
    select_body,
)
from kzgraph.endpoint.execution.workers import PoolBusyError, QueryTimeoutError
from kzgraph.remote.path_expansion import Plan, plan
from kzgraph.remote.path_reading import Unsupported, Walks, WrongOnVirtuoso
from kzgraph.remote.stores import (
    Backend,
    bind_values,
    query_form,
    selects_distinct,
    standard_json,
    with_prologue,
)
from kzgraph.remote.virtuoso import (
    VIRTUOSO_COMPILER,
    restored_ntriples,
    virtuoso_dataset,
    virtuoso_group_concat,
)
from kzgraph.store.engines import to_rdflib

TSV = "text/tab-separated-values"
JSON = "application/sparql-results+json"
NTRIPLES = "application/n-triples"
SPARQL_QUERY = "application/sparql-query"
#: What the proxy asks for: line-based formats first, so caps apply while reading.
ACCEPT = f"{TSV}, {NTRIPLES}, {JSON};q=0.8, text/plain;q=0.5"
#: Seconds the edges fetched for written-out paths (class and concept hierarchies, the
#: objects a ``p/q*`` path starts from) are reused before they are fetched again. Writes through
#: this server drop them at once; a write by someone else is seen within this time.
EDGES_TTL = 10.0


def _term(spec: tuple[str, str, str | None, str | None]) -> Node:
    kind, value, lang, datatype = spec
    if kind == "iri":
        return URIRef(value)
    if kind == "bnode":
        return BNode(value)
    if lang:
        return Literal(value, lang=lang)
    return Literal(value, datatype=URIRef(datatype) if datatype else None)


def remote_text(job: Job) -> str:
    """The query as sent: BASE, kzgraph's prefixes, parameters bound by VALUES.

    >>> remote_text(Job("SELECT ?x { ?x a ?t }", base_iri="http://h/")).splitlines()[0]
    'BASE <http://h/>'
    """
    bindings = {k: _term(v) for k, v in job.substitutions.items()}
    text = with_prologue(bind_values(job.query, bindings))
    if job.base_iri:
        text = f"BASE <{ox.NamedNode(job.base_iri).value}>\n" + text
    return text


def user_lines(message: str, sent: str, query: str) -> str:
    """The store's error message with line numbers in the user's query, not in what was sent.

    >>> user_lines("error at 43:7: expected OPTIONAL", chr(10).join(["P"] * 43), "Q")
    'error at 1:7: expected OPTIONAL'
    """
    shift = sent.count("\n") - query.count("\n")

    def moved(match: re.Match[str]) -> str:
        line = max(1, int(match.group(2)) - shift)
        return f"{match.group(1)}{line}"

    return re.sub(r"(\bat |\bline )(\d+)", moved, message)


def store_message(said: str, sent: str) -> str:
    """The store's own words, without its echo of the query kzgraph sent.

    Virtuoso repeats the whole query after its message ("SPARQL query:" and every line: the
    dataset pragmas, 40 prefix lines, the rewritten paths), which is kzgraph's text, not the
    user's nor the store's finding.

    >>> sent = "PREFIX a: <b:>" + chr(10) + "SELECT x"
    >>> store_message("Error SP030: syntax error at 'x'" + chr(10) + "SPARQL query:" + chr(10)
    ...               + sent, sent)
    "Error SP030: syntax error at 'x'"
    """
    cut = re.split(r"\n\s*SPARQL query:", said, maxsplit=1)[0]
    ours = {line.strip() for line in sent.splitlines() if line.strip()}
    kept = [line for line in cut.splitlines() if line.strip() not in ours]
    return "\n".join(kept).strip()


class RemotePool:
    """The interface of the local :class:`~.workers.QueryPool`, over a remote store."""

    def __init__(
        self,
        backend: Backend,
        uds: str | None,
        size: int = 4,
        max_rows: int = 100_000,
        max_queue: int = 64,
        max_bytes: int = 64_000_000,
        store_kind: str = "",
    ) -> None:
        self.backend = backend
        self.size = size
        self.max_rows = max_rows
        self.max_queue = max_queue
        self.max_bytes = max_bytes
        self.store_kind = store_kind
        #: The store's named graphs of data, for the dataset sent to Virtuoso with each query.
        self.graphs: list[str] = []
        self.waiting = 0
        self.running = 0
        self.timeouts = 0
        self.on_retired: Any = None
        self._uds = uds
        self._client: httpx.AsyncClient | None = None
        self._slots: asyncio.Semaphore | None = None
        #: the last check that the store answers (see :meth:`check`), and when it ran
        self._health: dict[str, object] = {}
        self._checked_at = 0.0
        #: the store could not be reached on the last try (a query or a health check): no
        #: kept answer is served meanwhile, so no answer pretends the store is there
        self.unreachable = False
        self._pinger: httpx.AsyncClient | None = None
        #: edges fetched for written-out paths, by fetch query and dataset: (when, rows)
        self._edges: dict[tuple[str | None, tuple[str, ...], tuple[str, ...]], Any] = {}
        self._plans: dict[tuple[str, tuple[Any, ...]], Plan | None] = {}

    def _new_client(self, limits: httpx.Limits | None = None) -> httpx.AsyncClient:
        """A client to the store, through the relay when there is one."""
        transport = httpx.AsyncHTTPTransport(uds=self._uds) if self._uds else None
        return httpx.AsyncClient(
            auth=self.backend.auth(),
            follow_redirects=False,
            transport=transport,
            limits=limits or httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )

    def _http(self) -> httpx.AsyncClient:
        # made on first use, inside the event loop that will use it
        if self._client is None:
            self._client = self._new_client(httpx.Limits(max_connections=self.size))
        return self._client

    async def check(self, every: float = 5.0) -> dict[str, object]:
        """Whether the store answers ``ASK {}`` now: for /healthz, at most once per ``every`` s.

        Asked on a connection of its own, so a store busy with ``size`` queries is not
        mistaken for a store that is gone; two seconds without an answer count as gone.
        """
        now = time.monotonic()
        if self._health and now - self._checked_at < every:
            return self._health
        if self._pinger is None:
            self._pinger = self._new_client()
        started = time.perf_counter()
        error: str | None = None
        try:
            response = await self._pinger.post(
                self.backend.query_url,
                data={"query": "ASK {}"},
                headers={"Accept": f"{JSON}, application/json;q=0.5"},
                timeout=2.0,
            )
            if response.status_code != 200:
                error = f"the store answered {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"the store did not answer: {type(exc).__name__} {exc}".strip()
        self.unreachable = error is not None
        self._health = {
            "reachable": error is None,
            "ms": round((time.perf_counter() - started) * 1000, 1),
            "error": error,
        }
        self._checked_at = time.monotonic()
        return self._health

    def forget_edges(self) -> None:
        """Fetch the edges for written-out paths anew: this server has just changed the data."""
        self._edges.clear()

    def forget_health(self) -> None:
        """A request to the store just failed: the next /healthz asks it again."""
        self._checked_at = 0.0
        self._health = {}

    def pids(self) -> list[int]:
        """No worker processes: the store answers."""
        return []

    def status(self) -> dict[str, int]:
        """What /healthz reports, in the pool's terms (the store's query slots)."""
        return {
            "size": self.size,
            "alive": self.size,
            "idle": self.size - self.running,
            "starting": 0,
            "waiting": self.waiting,
            "respawns": 0,
        }

    def reload(self, source: bytes | str) -> None:
        """Never called: the remote store is read-only through this server."""
        raise RuntimeError("the remote store is read-only through this server")

    def in_use(self) -> set[str]:
        """No snapshots."""
        return set()

    def close(self) -> None:
        """Nothing to stop: connections close with the process."""

    async def run(self, job: Job, timeout: float) -> Answer:
        """Answer ``job`` from the store within ``timeout`` seconds (queue time included)."""
        deadline = time.monotonic() + timeout
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.size)
        if self._slots.locked() and self.waiting >= self.max_queue:
            raise PoolBusyError(f"{self.waiting} requests are already waiting")
        self.waiting += 1
        try:
            async with asyncio.timeout(timeout):
                async with self._slots:
                    self.waiting -= 1
                    self.running += 1
                    try:
                        return await self._ask(job, deadline)
                    finally:
                        self.running -= 1
                        self.waiting += 1
        except TimeoutError:
            self.timeouts += 1
            raise QueryTimeoutError(
                f"the query ran past its {timeout:g} s limit: kzgraph stopped waiting and "
                "closed its connection to the store, whose own time limit ends the work there"
            ) from None
        finally:
            self.waiting -= 1

    async def _expanded(self, job: Job, deadline: float) -> Job:
        """``job`` with its property paths written out, for Virtuoso (:mod:`.path_expansion`).

        The edges the translation walks are read with one path-free query first, over the
        same dataset and under the same deadline and byte cap as the answer.
        """
        plan_key = (job.query, tuple(sorted(job.substitutions.items())))
        if plan_key in self._plans:  # read once per query text: 0.2-2 ms each time otherwise
            found = self._plans[plan_key]
        else:
            bindings = {k: _term(v) for k, v in job.substitutions.items()}
            found = plan(job.query, bindings, dict(PREFIXES))
            if len(self._plans) > 256:
                self._plans.clear()
            self._plans[plan_key] = found
        if found is None:
            return job
        walks = Walks()
        fetch = found.fetch_query()
        key = (fetch, tuple(job.default_graphs), tuple(job.named_graphs))
        kept = self._edges.get(key)
        if fetch is not None and kept is not None and time.monotonic() - kept[0] < EDGES_TTL:
            walks = found.split(kept[1])
        elif fetch is not None:
            pragmas, dataset = self._dataset(job, fetch)
            form = [("query", pragmas + with_prologue(fetch)), *dataset]
            async with self._http().stream(
                "POST",
                self.backend.query_url,
                content=urlencode(form).encode("ascii"),
                headers={"Accept": JSON, "Content-Type": "application/x-www-form-urlencoded"},
                timeout=max(0.001, deadline - time.monotonic()),
            ) as response:
                if response.status_code != 200:
                    return job  # sent as written: the store's own answer or error follows
                try:
                    data = (await self._read(response, JSON))[0][0]
                except ValueError:  # past the byte cap
                    return job
            parsed = ox.parse_query_results(standard_json(data), format=ox.QueryResultsFormat.JSON)
            assert isinstance(parsed, ox.QuerySolutions)
            rows = [
                tuple(None if t is None else to_rdflib(t) for t in (r["k"], r["s"], r["o"]))
                for r in parsed
            ]
            walks = found.split(rows)  # type: ignore[arg-type]
            if len(self._edges) > 256:
                self._edges.clear()
            self._edges[key] = (time.monotonic(), rows)
        try:
            return replace(job, query=found.render(walks))
        except WrongOnVirtuoso:
            raise
        except Unsupported:
            return job

    def _dataset(self, job: Job, query: str) -> tuple[str, list[tuple[str, str]]]:
        """Pragmas and protocol parameters for ``query``'s dataset.

        The client's, if it gave one; else, on Virtuoso, the one that makes the store's
        dataset kzgraph's (:func:`kzgraph.remote.virtuoso.virtuoso_dataset`).
        """
        given = [("default-graph-uri", g) for g in job.default_graphs]
        given += [("named-graph-uri", g) for g in job.named_graphs]
        if given or self.store_kind != "virtuoso":
            return "", given
        return virtuoso_dataset(query, self.graphs)

    async def _ask(self, job: Job, deadline: float) -> Answer:
        if self.store_kind == "virtuoso":
            try:
                job = await self._expanded(job, deadline)
            except WrongOnVirtuoso as exc:  # Virtuoso would answer it wrongly, without a word
                return Answer(False, "error", message=str(exc))
            except httpx.TimeoutException:
                raise TimeoutError from None
            except httpx.HTTPError:
                pass  # the query itself will meet the same trouble, and say so
            tagged = virtuoso_group_concat(job.query)
            if tagged != job.query:
                answer = await self._send(replace(job, query=tagged), deadline)
                if not (answer.kind == "unavailable" and VIRTUOSO_COMPILER in answer.message):
                    return answer
                # Virtuoso's compiler fails on the longer form in some queries: as written
        return await self._send(job, deadline)

    async def _send(self, job: Job, deadline: float) -> Answer:
        started = time.perf_counter()
        sent = remote_text(job)
        # the query as the body ("POST directly"): no form encoding of its text to pay for
        pragmas, dataset = self._dataset(job, job.query)
        params: list[tuple[str, str | int | float | bool | None]] = list(dataset)
        url = self.backend.query_url
        accept, body, media = ACCEPT, sent.encode("utf-8"), SPARQL_QUERY
        if self.store_kind == "virtuoso":  # a form, with the dataset that makes it kzgraph's
            form = query_form(job.query)
            accept = NTRIPLES if form in ("CONSTRUCT", "DESCRIBE") else JSON
            sent = pragmas + sent
            body = urlencode([("query", sent), *params]).encode("ascii")
            media, params = "application/x-www-form-urlencoded", []
        try:
            async with self._http().stream(
                "POST",
                url,
                params=httpx.QueryParams(params),
                content=body,
                headers={"Accept": accept, "Content-Type": media},
                timeout=max(0.001, deadline - time.monotonic()),
            ) as response:
                media = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if response.status_code != 200:
                    said = (await response.aread())[:20_000].decode("utf-8", "replace").strip()
                    said = store_message(said, sent)[:2000]
                    if response.status_code == 400:
                        return Answer(False, "syntax", message=user_lines(said, sent, job.query))
                    return Answer(
                        False,
                        "unavailable",
                        message=f"the store answered {response.status_code}: {said}",
                    )
                lines, cut = await self._read(response, media)
        except httpx.TimeoutException:
            raise TimeoutError from None
        except ValueError as exc:  # an answer past the byte cap in a format read whole
            return Answer(False, "error", message=f"{exc}: add a LIMIT")
        except httpx.HTTPError as exc:
            self.forget_health()
            self.unreachable = True
            return Answer(
                False, "unavailable", message=f"the store at {url} cannot be reached: {exc}"
            )
        self.unreachable = False
        try:
            kind, body, truncated = self._answer(job, media, lines, cut)
        except (SyntaxError, ValueError) as exc:
            return Answer(False, "error", message=f"the store's answer could not be read: {exc}")
        return Answer(True, kind, body, truncated, seconds=time.perf_counter() - started)

    async def _read(self, response: httpx.Response, media: str) -> tuple[list[bytes], bool]:
        """The answer's lines, at most a header and ``max_rows`` of them within ``max_bytes``."""
        lines: list[bytes] = []
        size = 0
        pending = b""
        line_based = media in (TSV, NTRIPLES, "text/plain")
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if not line_based:  # JSON or another format: kept whole, up to the byte cap
                lines.append(chunk)
                if size > self.max_bytes:
                    raise ValueError(f"an answer in {media} longer than {self.max_bytes} bytes")
                continue
            parts = (pending + chunk).split(b"\n")
            pending = parts.pop()
            lines.extend(parts)
            if len(lines) > self.max_rows + 1 or size > self.max_bytes:
                return lines[: self.max_rows + 1], True
        if pending:
            lines.append(pending)
        if not line_based:
            return [b"".join(lines)], False
        return lines, False

    def _answer(
        self, job: Job, media: str, lines: list[bytes], cut: bool
    ) -> tuple[str, bytes, bool]:
        """The kind of answer, its body in the client's format, and whether rows were cut."""
        if media == TSV:
            header, rows = lines[0] if lines else b"", [line for line in lines[1:] if line]
            tsv = b"\n".join([header, *rows]) + b"\n"
            parsed = ox.parse_query_results(tsv, format=ox.QueryResultsFormat.TSV)
            if not (cut or job.hidden or len(tsv) > self.max_bytes // 2):
                if job.select_format == "tsv":  # the common case, written once
                    return "select", tsv, False
                return (
                    "select",
                    parsed.serialize(format=RESULT_FORMATS[job.select_format]) or b"",
                    False,
                )
            body, truncated = select_body(
                parsed, job.select_format, self.max_rows, self.max_bytes, job.hidden
            )
            return "select", body, truncated or cut
        if media in (NTRIPLES, "text/plain"):
            data = b"\n".join(line for line in lines if line.strip()) + b"\n"
            if self.store_kind == "virtuoso":
                data = restored_ntriples(data)
            triples = [
                ox.Triple(q.subject, q.predicate, q.object)
                for q in ox.parse(data, format=ox.RdfFormat.N_TRIPLES)
            ]
            body, truncated = graph_body(
                triples, job.graph_format, self.max_rows, self.max_bytes, dict(PREFIXES)
            )
            return "graph", body, truncated or cut
        if media in (JSON, "application/json"):
            data = b"\n".join(lines)
            if self.store_kind == "virtuoso":
                data = standard_json(data, selects_distinct(job.query))
            parsed = ox.parse_query_results(data, format=ox.QueryResultsFormat.JSON)
            if isinstance(parsed, ox.QueryBoolean):
                body = parsed.serialize(format=RESULT_FORMATS[job.select_format]) or b""
                return "ask", body, False
            body, truncated = select_body(
                parsed, job.select_format, self.max_rows, self.max_bytes, job.hidden
            )
            return "select", body, truncated
        fmt = ox.RdfFormat.from_media_type(media)
        if fmt is None:
            raise ValueError(f"an answer in {media!r}, which this server does not read")
        triples = [
            ox.Triple(q.subject, q.predicate, q.object)
            for q in ox.parse(b"\n".join(lines), format=fmt)
        ]
        body, truncated = graph_body(
            triples, job.graph_format, self.max_rows, self.max_bytes, dict(PREFIXES)
        )
        return "graph", body, truncated

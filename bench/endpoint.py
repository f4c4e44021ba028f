"""Endpoint benchmark: kzgraph against a minimal pyoxigraph + Starlette endpoint, same data, one run.

Run with one command: ``bash bench/endpoint.sh [--seconds 2]``. For every saved query without
required parameters it measures requests per second at 4 concurrent clients on:

- ``minimal``: pyoxigraph + Starlette + uvicorn in one process, no checks, no limits, no
  deadline (the baseline the issue names);
- ``kzgraph``: ``kzgraph serve`` as started by default (one HTTP process, 2 query workers);
- ``kzgraph -p2``: ``kzgraph serve --processes 2`` (two processes serve HTTP on the port and
  answer queries themselves under a watchdog; read-only);

and times the same query in process (pyoxigraph query + JSON, no HTTP), the limit an endpoint can
approach: ``limit1`` is one core running only the query, ``limit2`` two cores. Every server has
the same data (named graphs + their merge in the default graph) and must give the same number of
rows. For the whole mix it reports throughput and p50/p99 latency at 1, 4 and 16 clients. The load
generator is wrk (bench/endpoint.sh installs Debian's), which shares the two cores with the servers.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from kzgraph.endpoint.execution.workers import load_store
from kzgraph.graph.loading import load
from kzgraph.queries.catalogue import load_catalogue

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.server_process import free_port  # noqa: E402


def start(command: list[str], url: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            httpx.get(url, params={"query": "ASK {}"}, timeout=2)
            return process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"{command[0]} did not start")


async def load_test(
    url: str, queries: list[str], clients: int, seconds: float
) -> tuple[int, list[float]]:
    latencies: list[float] = []
    done = 0
    stop_at = time.perf_counter() + seconds

    async def client(k: int) -> None:
        nonlocal done
        async with httpx.AsyncClient(timeout=120) as http:
            i = k
            while time.perf_counter() < stop_at:
                query = queries[i % len(queries)]
                i += 1
                started = time.perf_counter()
                response = await http.post(
                    url,
                    data={"query": query},
                    headers={"Accept": "application/sparql-results+json"},
                )
                latencies.append(time.perf_counter() - started)
                if response.status_code == 200:
                    done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    return done, [time.perf_counter() - started, *latencies]


WRK_SCRIPT = """
local bodies = {}
for line in io.lines(os.getenv("KZ_BODIES")) do bodies[#bodies + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded",
    ["Accept"] = "application/sparql-results+json"}, bodies[(i % #bodies) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("KZ %d %f %f %f\\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def rps_wrk(
    url: str, queries: list[str], clients: int, seconds: float
) -> tuple[float, float, float]:
    """Wrk (C, from Debian) as the load generator: it leaves the cores to the servers."""
    import os
    from urllib.parse import urlencode

    with tempfile.TemporaryDirectory() as tmp:
        bodies = Path(tmp) / "bodies.txt"
        bodies.write_text("\n".join(urlencode({"query": q}) for q in queries) + "\n")
        script = Path(tmp) / "post.lua"
        script.write_text(WRK_SCRIPT)
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{clients}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "30s",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "KZ_BODIES": str(bodies)},
        ).stdout
    lines = [x for x in out.splitlines() if x.startswith("KZ ")]
    if not lines:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    line = lines[0]
    _, n, duration, p50, p99 = line.split()
    return int(n) / float(duration), float(p50), float(p99)


def wait_idle(url: str, limit: float = 600) -> None:
    """Wait until the server answers a trivial query quickly.

    A single-threaded baseline may still be working through requests a previous measurement left
    behind, which would skew the next one.
    """
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            httpx.post(url, data={"query": "ASK {}"}, timeout=limit)
        except httpx.HTTPError:
            pass
        if time.perf_counter() - started < 0.5:
            return


def rps(url: str, queries: list[str], clients: int, seconds: float) -> tuple[float, float, float]:
    wait_idle(url)
    import shutil

    if shutil.which("wrk"):
        return rps_wrk(url, queries, clients, seconds)
    return rps_httpx(url, queries, clients, seconds)


def rps_httpx(
    url: str, queries: list[str], clients: int, seconds: float
) -> tuple[float, float, float]:
    done, times = asyncio.run(load_test(url, queries, clients, seconds))
    elapsed, latencies = times[0], sorted(times[1:])
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return done / elapsed, p50, p99


MINIMAL = """
import sys, urllib.parse, pyoxigraph as ox
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
import uvicorn
store = ox.Store()
store.load(path=sys.argv[1], format=ox.RdfFormat.N_QUADS)
store.update("INSERT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }")
async def sparql(request):
    if request.method == "POST":
        form = dict(urllib.parse.parse_qsl((await request.body()).decode()))
    else:
        form = dict(request.query_params)
    result = store.query(form["query"])
    body = result.serialize(format=ox.QueryResultsFormat.JSON)
    return Response(body, media_type="application/sparql-results+json")
app = Starlette(routes=[Route("/sparql", sparql, methods=["GET", "POST"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def rows_of(url: str, query: str, timeout: float = 120) -> int | str:
    """Rows a server answers ``query`` with, or its HTTP status."""
    response = httpx.post(
        url,
        data={"query": query},
        headers={"Accept": "application/sparql-results+json"},
        timeout=timeout,
    )
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    return len(response.json()["results"]["bindings"])


def in_process_seconds(store: object, text: str) -> float:
    """Median seconds for pyoxigraph to answer ``text`` and write JSON, no HTTP."""
    import pyoxigraph as ox

    assert isinstance(store, ox.Store)
    samples = []
    for _ in range(30):
        started = time.perf_counter()
        result = store.query(text)
        assert isinstance(result, ox.QuerySolutions)
        result.serialize(format=ox.QueryResultsFormat.JSON)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    parser.add_argument(
        "--scale",
        type=int,
        default=1,
        help="serve N renamed copies of the seeded data (heavier queries)",
    )
    args = parser.parse_args()

    from kzgraph.core.namespaces import sparql_prologue

    prologue = sparql_prologue()
    catalogue = load_catalogue()
    queries = {
        name: prologue + q.text
        for name, q in catalogue.items()
        if not any(p.required for p in q.parameters)
    }
    from bench.run import scaled

    ds = scaled(load(), args.scale)
    nquads = ds.serialize(format="nquads", encoding="utf-8")
    store = load_store(nquads)
    in_process = {name: in_process_seconds(store, text) for name, text in queries.items()}

    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "kzgraph.nq"
        dump.write_bytes(nquads)
        # kzgraph serves a project folder: the ontology, the queries and the (scaled) data.
        project = Path(tmp) / "project"
        for folder in ("ontology", "queries"):
            shutil.copytree(ROOT / folder, project / folder)
        (project / "graph").mkdir()
        (project / "graph" / "data.nq").write_bytes(nquads)
        kzgraph = [sys.executable, "-m", "kzgraph", "--root", str(project), "serve"]
        commands = {
            "minimal": lambda port: [sys.executable, "-c", MINIMAL, str(dump), str(port)],
            "kzgraph": lambda port: [*kzgraph, "--port", str(port), "--no-validate"],
            "kzgraph -p2": lambda port: [
                *kzgraph,
                "--port",
                str(port),
                "--no-validate",
                "--processes",
                "2",
            ],
        }
        urls: dict[str, str] = {}
        servers = []
        try:
            for name, command in commands.items():
                port = free_port()
                urls[name] = f"http://127.0.0.1:{port}/sparql"
                servers.append(start(command(port), urls[name]))
            report(queries, urls, in_process, args.seconds, len(nquads.splitlines()), args.scale)
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                server.wait()


def report(
    queries: dict[str, str],
    urls: dict[str, str],
    in_process: dict[str, float],
    seconds: float,
    quads: int,
    scale: int,
) -> None:
    """Measure every server on every query and print the tables."""
    names = list(urls)
    for name, text in queries.items():
        counts = {rows_of(url, text) for url in urls.values()}
        if len(counts) != 1:
            raise SystemExit(f"{name}: the servers disagree on the rows: {counts}")
    print(f"Data: {quads} quads (scale {scale}); {len(queries)} saved queries without parameters.")
    print(
        f"Requests/s per saved query, 4 concurrent clients, {seconds:g} s each; "
        "limit1/limit2 = one/two cores running only the query (pyoxigraph + JSON, no HTTP)."
    )
    header = f"{'query':<31}{'ms':>6}" + "".join(f"{n:>13}" for n in names)
    header += f"{'p2/minimal':>11}{'p2/limit1':>10}{'p2/limit2':>10}"
    print(header)
    ratios: dict[str, list[float]] = {"minimal": [], "limit1": [], "limit2": []}
    default_ratios: list[float] = []
    for name, text in queries.items():
        rates = {server: rps(url, [text], 4, seconds)[0] for server, url in urls.items()}
        limit1 = 1 / in_process[name]
        best = rates["kzgraph -p2"]
        ratios["minimal"].append(best / rates["minimal"])
        ratios["limit1"].append(best / limit1)
        ratios["limit2"].append(best / (2 * limit1))
        default_ratios.append(rates["kzgraph"] / rates["minimal"])
        print(
            f"{name[:30]:<31}{in_process[name] * 1000:>6.2f}"
            + "".join(f"{rates[n]:>13.0f}" for n in names)
            + f"{ratios['minimal'][-1]:>10.2f}x{ratios['limit1'][-1]:>10.0%}"
            + f"{ratios['limit2'][-1]:>10.0%}"
        )
    for key, values in ratios.items():
        print(
            f"kzgraph -p2 / {key}: min {min(values):.2f}, median {statistics.median(values):.2f}, "
            f"max {max(values):.2f}"
        )
    print(
        f"kzgraph (default) / minimal: min {min(default_ratios):.2f}, "
        f"median {statistics.median(default_ratios):.2f}, max {max(default_ratios):.2f}"
    )
    print()
    mix = list(queries.values())
    print(f"Whole mix ({len(mix)} queries in turn), {seconds:g} s per cell: r/s, p50 ms, p99 ms")
    print(f"{'clients':>8}" + "".join(f"{n:>27}" for n in names))
    for clients in (1, 4, 16):
        cells = []
        for url in urls.values():
            rate, p50, p99 = rps(url, mix, clients, seconds)
            cells.append(f"{rate:>9.0f} {p50:>7.1f} {p99:>8.1f}")
        print(f"{clients:>8}" + "".join(f"{c:>27}" for c in cells))


if __name__ == "__main__":
    main()

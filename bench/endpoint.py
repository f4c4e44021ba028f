"""Endpoint benchmark: kzgraph against rdflib-endpoint on the same data, over loopback HTTP.

Run with one command: ``bash bench/endpoint.sh`` (installs rdflib-endpoint into .venv first).
For every saved query without required parameters it measures requests per second at
4 concurrent clients on both servers; for the whole mix it measures throughput and p50/p99 latency
at 1, 4 and 16 clients; and it times the same queries in process (pyoxigraph, no HTTP), the limit
an endpoint can approach. The load generator is wrk when installed (bench/endpoint.sh installs
Debian's), else a Python client; either shares the machine's two cores with the servers.
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

from kzgraph.catalogue import load_catalogue
from kzgraph.endpoint.workers import Job, load_store, run_job
from kzgraph.loading import load

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

    catalogue = load_catalogue()
    queries = {
        name: q.text for name, q in catalogue.items() if not any(p.required for p in q.parameters)
    }
    from bench.run import scaled

    ds = scaled(load(), args.scale)
    nquads = ds.serialize(format="nquads", encoding="utf-8")
    store = load_store(nquads)
    in_process = {}
    for name, text in queries.items():
        samples = []
        for _ in range(20):
            t = time.perf_counter()
            run_job(store, Job(text, "json"), 100_000)
            samples.append(time.perf_counter() - t)
        in_process[name] = statistics.median(samples)

    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "kzgraph.nq"
        dump.write_bytes(nquads)
        # kzgraph serves a project folder: the ontology, the queries and the (scaled) data.
        project = Path(tmp) / "project"
        for folder in ("ontology", "queries"):
            shutil.copytree(ROOT / folder, project / folder)
        (project / "graph").mkdir()
        (project / "graph" / "data.nq").write_bytes(nquads)
        kz_port, rl_port = free_port(), free_port()
        kz_url, rl_url = f"http://127.0.0.1:{kz_port}/sparql", f"http://127.0.0.1:{rl_port}/"
        kz = start(
            [
                sys.executable,
                "-m",
                "kzgraph",
                "--root",
                str(project),
                "serve",
                "--port",
                str(kz_port),
                "--no-validate",
            ],
            kz_url,
        )
        rl = start(
            [
                str(Path(sys.executable).parent / "rdflib-endpoint"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(rl_port),
                str(dump),
            ],
            rl_url,
        )
        try:
            rows = {}
            for name, text in queries.items():
                a = httpx.post(
                    kz_url,
                    data={"query": text},
                    headers={"Accept": "application/sparql-results+json"},
                    timeout=120,
                )
                b = httpx.post(
                    rl_url,
                    data={"query": text},
                    headers={"Accept": "application/sparql-results+json"},
                    timeout=120,
                )
                count = lambda r: (
                    len(r.json()["results"]["bindings"])
                    if r.status_code == 200
                    else f"HTTP {r.status_code}"
                )  # noqa: E731
                rows[name] = (count(a), count(b))
            print(
                f"Data: {sum(1 for _ in ds.quads((None, None, None, None)))} quads (scale {args.scale})."
            )
            print(
                f"Per saved query, 4 concurrent clients, {args.seconds:g} s each "
                f"(in-process = pyoxigraph query + JSON, no HTTP; limit = 2 cores):"
            )
            print(
                f"{'query':<30}{'rows kz/rdflib':>16}{'kzgraph r/s':>13}{'rdflib-ep r/s':>15}{'ratio':>8}{'limit r/s':>11}{'of limit':>10}"
            )
            ratios = []
            for name, text in queries.items():
                kz_rps, _, _ = rps(kz_url, [text], 4, args.seconds)
                rl_rps, _, _ = rps(rl_url, [text], 4, args.seconds)
                limit = 2 / in_process[name]
                ratio = kz_rps / rl_rps if rl_rps else float("inf")
                ratios.append(ratio)
                a, b = rows[name]
                print(
                    f"{name[:29]:<30}{f'{a}/{b}':>16}{kz_rps:>13.0f}{rl_rps:>15.1f}{ratio:>7.0f}x{limit:>11.0f}{kz_rps / limit:>9.0%}"
                )
            print(
                f"ratio kzgraph / rdflib-endpoint: min {min(ratios):.0f}x, median {statistics.median(ratios):.0f}x"
            )
            print()
            mix = list(queries.values())
            print(f"Whole mix ({len(mix)} queries in turn), {args.seconds:g} s per cell:")
            print(
                f"{'clients':>8}{'kzgraph r/s':>13}{'p50 ms':>9}{'p99 ms':>9}{'rdflib-ep r/s':>15}{'p50 ms':>9}{'p99 ms':>9}{'ratio':>8}"
            )
            for clients in (1, 4, 16):
                k = rps(kz_url, mix, clients, args.seconds)
                r = rps(rl_url, mix, clients, args.seconds)
                print(
                    f"{clients:>8}{k[0]:>13.0f}{k[1]:>9.1f}{k[2]:>9.1f}{r[0]:>15.1f}{r[1]:>9.1f}{r[2]:>9.1f}{k[0] / r[0] if r[0] else float('inf'):>7.0f}x"
                )
        finally:
            kz.terminate()
            rl.terminate()
            kz.wait()
            rl.wait()


if __name__ == "__main__":
    main()

"""Scale benchmark: kzgraph on graphs 15 to 1,500 times the seeded one, beside Oxigraph's own tools.

Run with one command: ``bash bench/scale.sh`` (installs the Oxigraph server from PyPI into .venv,
then runs this). For each size (``--sizes 100000 1000000``; add 10000000 for the big one) it
generates a synthetic graph shaped like the seeded one (``kzgraph.store.synthetic``: firms, projects,
regions, amounts, statuses, quotations, provenance, 2% invalid copies), then measures, side by
side in one run:

- bulk load: ``kzgraph load`` (load, merge, content id, validation; a fresh store is not checked
  in a separate pass) against ``oxigraph load`` (the server's own bulk loader), wall time and
  peak RSS;
- start-up on the loaded store: ``kzgraph serve --store`` (1 and 4 workers, ``--processes`` 1
  with 1 and 4 threads, ``--processes`` 2 and 4) against
  ``oxigraph serve-read-only`` and a minimal pyoxigraph + Starlette endpoint, time until the
  first answer, and the RSS (and PSS, which splits shared pages fairly) of every process;
- the saved queries without parameters, p50/p99 latency and throughput at 1, 4 and 16 clients,
  on each server; and for two kzgraph modes, the first answers again after a restart on the same
  data (kzgraph keeps slow answers beside the store, keyed on its content id);
- validation: ``kzgraph validate --store`` (SHACL compiled to SPARQL), wall time and peak RSS.

Figures are printed as a table with ratios against the named baseline (Oxigraph server for load
and start-up, the minimal endpoint for queries). Nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.server_process import free_port  # noqa: E402

from kzgraph.endpoint.execution.answer_cache import forget_beside  # noqa: E402
from kzgraph.store.synthetic import VERSION  # noqa: E402

BIN = Path(sys.executable).parent
#: Seconds a client waits for one answer: kzgraph's default deadline, applied to every server.
LIMIT = 30.0
MINIMAL = """
import sys, urllib.parse, pyoxigraph as ox
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
import uvicorn
store = ox.Store.read_only(sys.argv[1])
async def sparql(request):
    if request.method == "POST":
        form = dict(urllib.parse.parse_qsl((await request.body()).decode()))
    else:
        form = dict(request.query_params)
    result = store.query(form["query"], use_default_graph_as_union=True)
    body = result.serialize(format=ox.QueryResultsFormat.JSON)
    return Response(body, media_type="application/sparql-results+json")
app = Starlette(routes=[Route("/sparql", sparql, methods=["GET", "POST"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def timed(command: list[str]) -> tuple[float, float, str]:
    """Run ``command``; (seconds, peak RSS in MB of it and its children, stderr tail).

    It runs under a small Python wrapper whose own child usage is the command's alone: this
    process's RUSAGE_CHILDREN keeps the largest peak of every command run before.
    """
    wrapper = (
        "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
        "sys.exit(code)"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", wrapper, *command], capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{command[:3]} failed:\n{done.stderr[-2000:]}")
    lines = done.stderr.strip().splitlines()
    peak = int(lines[-1]) if lines and lines[-1].isdigit() else 0
    return seconds, peak / 1024, lines[-2] if len(lines) > 1 else ""


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    out = [pid]
    kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    for kid in kids:
        out.extend(tree(int(kid)))
    return out


def memory(pid: int, field: str) -> float:
    """VmRSS or RssAnon (from status) or Pss (from smaps_rollup) of one process, in MB."""
    source = "smaps_rollup" if field == "Pss" else "status"
    try:
        for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def serve(command: list[str], url: str) -> tuple[subprocess.Popen[bytes], float]:
    """Start a server; (process, seconds until it answers a query)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while time.perf_counter() - started < 600:
        try:
            if httpx.get(url, params={"query": "ASK {}"}, timeout=2).status_code == 200:
                return process, time.perf_counter() - started
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"{command[:3]} exited with {process.returncode}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{command[:3]} did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM a server, and SIGKILL it if it has not ended 15 s later."""
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


def saved_queries() -> list[str]:
    from kzgraph.core.namespaces import sparql_prologue
    from kzgraph.queries.catalogue import load_catalogue

    prologue = sparql_prologue()
    return [
        prologue + q.text
        for q in load_catalogue().values()
        if not any(p.required for p in q.parameters)
    ]


async def load_test(
    url: str, queries: list[str], clients: int, seconds: float
) -> tuple[int, int, float, list[float]]:
    """``clients`` loops sending the queries in turn for ``seconds``: (ok, failed, elapsed, latencies)."""
    latencies: list[float] = []
    ok = failed = 0
    stop_at = time.perf_counter() + seconds

    async def client(k: int) -> None:
        nonlocal ok, failed
        async with httpx.AsyncClient(timeout=LIMIT) as http:
            i = k
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                try:
                    response = await http.post(
                        url,
                        data={"query": queries[i % len(queries)]},
                        headers={"Accept": "application/sparql-results+json"},
                    )
                    good = response.status_code == 200
                except httpx.HTTPError:
                    good = False
                latencies.append(time.perf_counter() - started)
                ok, failed = ok + good, failed + (not good)
                i += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    return ok, failed, time.perf_counter() - started, latencies


class Rows(list[list[str]]):
    """The table's rows; each is also printed to stderr as it is measured (runs take minutes)."""

    def append(self, row: list[str]) -> None:
        """Keep ``row`` and show it now."""
        print("  ".join(c for c in row if c), file=sys.stderr, flush=True)
        super().append(row)


def cold_pass(url: str, queries: list[str]) -> list[float]:
    """Seconds for each query's first answer, one after the other, on a fresh server."""
    times = []
    with httpx.Client(timeout=600) as http:
        for query in queries:
            started = time.perf_counter()
            http.post(
                url, data={"query": query}, headers={"Accept": "application/sparql-results+json"}
            )
            times.append(time.perf_counter() - started)
    return times


def latency(
    url: str, queries: list[str], clients: int, seconds: float
) -> tuple[float, float, float, int]:
    """(answers per second, p50 ms, p99 ms, failed requests)."""
    ok, failed, elapsed, lat = asyncio.run(load_test(url, queries, clients, seconds))
    lat.sort()
    if not lat:
        return 0.0, float("nan"), float("nan"), failed
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    return ok / elapsed, statistics.median(lat) * 1000, p99, failed


def run_size(quads: int, work: Path, seconds: float, rows: list[list[str]]) -> None:
    data = ROOT / "bench" / "data" / f"synthetic-{quads}-v{VERSION}.nq.gz"
    if not data.exists():
        data.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                str(BIN / "python"),
                str(ROOT / "bench" / "generate.py"),
                "--quads",
                str(quads),
                "-o",
                str(data),
            ],
            check=True,
            capture_output=True,
        )
    label = f"{quads / 1e6:g}M" if quads >= 1_000_000 else f"{quads // 1000}k"
    kz_store, ox_store = work / f"kz-{quads}", work / f"ox-{quads}"

    kz_load, kz_load_mb, kz_note = timed(
        [str(BIN / "kzgraph"), "load", str(data), "--store", str(kz_store)]
    )
    ox_load, ox_load_mb, _ = timed(
        [str(BIN / "oxigraph"), "load", "--location", str(ox_store), "--file", str(data)]
    )
    rows.append(
        [
            label,
            "bulk load (s)",
            f"{kz_load:.1f}",
            f"{ox_load:.1f}",
            f"{kz_load / ox_load:.2f}x oxigraph load",
            kz_note,
        ]
    )
    rows.append(
        [
            label,
            "bulk load peak RSS (MB)",
            f"{kz_load_mb:.0f}",
            f"{ox_load_mb:.0f}",
            "",
            "kzgraph: load + merge + content id + validation",
        ]
    )

    val, val_mb, _val_note = timed(
        [str(BIN / "kzgraph"), "validate", "--store", str(kz_store), "--format", "json"]
    )
    rows.append(
        [
            label,
            "full validation (s / peak MB)",
            f"{val:.1f} / {val_mb:.0f}",
            "",
            "",
            "SHACL compiled to SPARQL",
        ]
    )

    queries = saved_queries()
    kzgraph = [str(BIN / "kzgraph"), "serve", "--store", str(kz_store), "--no-validate"]
    for name, command_of in {
        "oxigraph server": lambda port: [
            str(BIN / "oxigraph"),
            "serve-read-only",
            "--location",
            str(ox_store),
            "--bind",
            f"127.0.0.1:{port}",
            "--union-default-graph",
        ],
        "minimal endpoint": lambda port: [
            str(BIN / "python"),
            "-c",
            MINIMAL,
            str(ox_store),
            str(port),
        ],
        "kzgraph 1 worker": lambda port: [*kzgraph, "--port", str(port), "--workers", "1"],
        "kzgraph 4 workers": lambda port: [*kzgraph, "--port", str(port), "--workers", "4"],
        "kzgraph --processes 1, 1 thread": lambda port: [
            *kzgraph, "--port", str(port), "--processes", "1", "--workers", "1"
        ],
        "kzgraph --processes 1, 4 threads": lambda port: [
            *kzgraph, "--port", str(port), "--processes", "1", "--workers", "4"
        ],
        "kzgraph --processes 2, 1 thread each": lambda port: [
            *kzgraph, "--port", str(port), "--processes", "2", "--workers", "1"
        ],
        "kzgraph --processes 4, 1 thread each": lambda port: [
            *kzgraph, "--port", str(port), "--processes", "4", "--workers", "1"
        ],
    }.items():  # fmt: skip
        port = free_port()
        url = f"http://127.0.0.1:{port}" + ("/query" if name == "oxigraph server" else "/sparql")
        forget_beside(kz_store)  # every first-answer row cold, whatever ran before
        first = name == "kzgraph 1 worker"
        if first:  # a first start: no documentation site kept from a run before
            for site in (ROOT / ".kzgraph-cache").glob("docs-*"):
                shutil.rmtree(site, ignore_errors=True)
        process, start = serve(command_of(port), url)
        try:
            docs_note = ""
            if first:
                began = time.perf_counter()
                page = httpx.get(url.rsplit("/", 1)[0] + "/ontology/classes.html", timeout=600)
                docs_note = (
                    f"; first start, the documentation site ({page.status_code}) "
                    f"{time.perf_counter() - began:.1f} s after"
                )
            cold = cold_pass(url, queries)
            pids = tree(process.pid)
            rss = sum(memory(p, "VmRSS") for p in pids)
            anon = sum(memory(p, "RssAnon") for p in pids)
            pss = sum(memory(p, "Pss") for p in pids)
            rows.append(
                [
                    label,
                    f"{name}: start-up (s)",
                    f"{start:.2f}",
                    "",
                    "",
                    f"{len(pids)} process(es): RSS {rss:.0f} MB (anonymous {anon:.0f} MB), "
                    f"PSS {pss:.0f} MB{docs_note}",
                ]
            )
            rows.append(
                [
                    label,
                    f"{name}: first answer to each query",
                    f"p50 {statistics.median(cold) * 1000:.0f} ms",
                    f"max {max(cold) * 1000:.0f} ms",
                    "",
                    f"{len(queries)} saved queries in turn, 1 client, nothing cached yet",
                ]
            )
            for clients in (1, 4, 16):
                rate, p50, p99, failed = latency(url, queries, clients, seconds)
                rows.append(
                    [
                        label,
                        f"{name}: {clients} client(s)",
                        f"{rate:.1f} q/s",
                        f"p50 {p50:.1f} ms",
                        f"p99 {p99:.0f} ms",
                        f"{len(queries)} saved queries, {failed} failed",
                    ]
                )
        finally:
            stop(process)
        if name in ("kzgraph 1 worker", "kzgraph --processes 2, 1 thread each"):
            restart_row(label, name, command_of(port), url, queries, rows)
    network_rows(label, kz_store, rows)


def restart_row(
    label: str, name: str, command: list[str], url: str, queries: list[str], rows: list[list[str]]
) -> None:
    """The first answers again after a restart on the same data and address.

    The slow answers of the run before are kept beside the store, keyed on its content id.
    """
    process, start = serve(command, url)
    try:
        cold = cold_pass(url, queries)
    finally:
        stop(process)
    rows.append(
        [
            label,
            f"{name}: restarted, first answer to each query",
            f"p50 {statistics.median(cold) * 1000:.0f} ms",
            f"max {max(cold) * 1000:.0f} ms",
            "",
            f"start-up {start:.2f} s; answers kept beside the store from the run before",
        ]
    )


def network_rows(label: str, store_dir: Path, rows: list[list[str]]) -> None:
    """Projection build and every measure, in process, on the store (opened read-only)."""
    from kzgraph.network import measures
    from kzgraph.network.projections import project
    from kzgraph.store.engines import OxigraphStore

    store = OxigraphStore.read_only(store_dir)
    # company-company links every pair of firms sharing a region or sector: its size grows with
    # the square of the firms per region, so it is left out at scale (see the README)
    for name in ("company-project", "company-region", "region-corridor", "investment-flow"):
        started = time.perf_counter()
        g = project(name, store, None)
        built = time.perf_counter() - started
        times = []
        for measure in measures.MEASURES:
            started = time.perf_counter()
            measures.compute(g, measure)
            times.append(f"{measure} {time.perf_counter() - started:.1f}")
        simple = measures.simple_undirected(g)
        how = ["estimated" if measures.betweenness_estimated(simple) else "exact",
               "estimated" if measures.estimated(simple) else "exact"]  # fmt: skip
        note = f"betweenness {how[0]}, closeness {how[1]}"
        rows.append(
            [label, f"network {name} (s)", f"build {built:.1f}", f"{g.number_of_nodes()} nodes",
             f"{g.number_of_edges()} edges", f"{', '.join(times)} ({note})"]
        )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seconds", type=float, default=5.0, help="per load level")
    parser.add_argument(
        "--network-only", type=Path, default=None, help="only the network measures, on this store"
    )
    args = parser.parse_args()
    if args.network_only is not None:
        rows: list[list[str]] = []
        network_rows(args.network_only.name, args.network_only, rows)
        for row in rows:
            print("  ".join(row))
        return
    if not (BIN / "oxigraph").exists():
        sys.exit("the Oxigraph server is missing: run bash bench/scale.sh, which installs it")
    rows = Rows()
    with tempfile.TemporaryDirectory(prefix="kzgraph-scale-") as tmp:
        for quads in args.sizes:
            run_size(quads, Path(tmp), args.seconds, rows)
            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(tmp, exist_ok=True)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()

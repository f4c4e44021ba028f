"""Memory per query worker: RSS with 1 and with 4 queries answered at once, two ways.

Run with one command: ``bash bench/memory.sh [--quads 1000000] [--store DIR]``. It loads a
synthetic graph (``kzgraph.store.synthetic``, as ``bench/scale.sh`` does) into an on-disk store, or
takes ``--store``, then for each way of serving it with 1 and with 4 queries at once:

- ``--workers N``: one HTTP process in front of N worker processes, each opening the store's
  snapshot read-only (RocksDB index and filter blocks, caches and heap each);
- ``--processes 1 --workers N``: one serving process answering N queries at once in threads over
  its one read-only store handle;

it starts the server, sends the saved queries from 4 clients at once (so that every worker or
thread runs queries; with one client the idle workers would flatter the figure), and takes the
RSS, anonymous RSS and PSS of the whole process tree. The printed ratio is RSS with 4 / RSS with
1, against the 1.5x target of issue 13; the baseline is the same server with one worker.

Queries that pass the deadline end their worker or process, whose replacement starts small: that
would flatter the figure too, so only the queries a first pass answered within the deadline are
sent (the others are named in the output).
"""

from __future__ import annotations

import argparse
import asyncio
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

from bench.scale import BIN, LIMIT, memory, saved_queries, serve, stop, tree  # noqa: E402
from kzgraph.store.synthetic import VERSION  # noqa: E402

JSON = {"Accept": "application/sparql-results+json"}


def synthetic_store(quads: int, work: Path) -> Path:
    """A store loaded with ``kzgraph load`` from the generator's file of ``quads`` quads."""
    data = ROOT / "bench" / "data" / f"synthetic-{quads}-v{VERSION}.nq.gz"
    if not data.exists():
        data.parent.mkdir(parents=True, exist_ok=True)
        print(f"generating {quads} quads …", file=sys.stderr, flush=True)
        subprocess.run(
            [str(BIN / "python"), str(ROOT / "bench" / "generate.py"), "--quads", str(quads),
             "-o", str(data)],
            check=True,
        )  # fmt: skip
    store = work / "store"
    print(f"loading {data.name} …", file=sys.stderr, flush=True)
    subprocess.run([str(BIN / "kzgraph"), "load", str(data), "--store", str(store)], check=True)
    return store


def answered_in_time(url: str, queries: list[str]) -> tuple[list[str], list[float]]:
    """The queries answered 200 within the deadline on one client, and every query's time."""
    kept, times = [], []
    with httpx.Client(timeout=LIMIT + 10) as http:
        for query in queries:
            started = time.perf_counter()
            try:
                ok = http.post(url, data={"query": query}, headers=JSON).status_code == 200
            except httpx.HTTPError:
                ok = False
            times.append(time.perf_counter() - started)
            if ok:
                kept.append(query)
    return kept, times


async def concurrently(url: str, queries: list[str], clients: int) -> int:
    """Every query once, spread over ``clients`` clients at once; the failures."""
    failed = 0

    async def client(k: int) -> None:
        nonlocal failed
        async with httpx.AsyncClient(timeout=LIMIT + 10) as http:
            for query in queries[k::clients]:
                try:
                    r = await http.post(url, data={"query": query}, headers=JSON)
                    failed += r.status_code != 200
                except httpx.HTTPError:
                    failed += 1

    await asyncio.gather(*(client(k) for k in range(clients)))
    return failed


def name_of(query: str) -> str:
    """The saved query's name, for the report (its text is what was sent)."""
    from kzgraph.queries.catalogue import load_catalogue

    for name, saved in load_catalogue().items():
        if query.endswith(saved.text):
            return name
    return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quads", type=int, default=1_000_000)
    parser.add_argument("--store", type=Path, help="an existing kzgraph store (skips loading)")
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kzgraph-memory-") as tmp:
        store = args.store or synthetic_store(args.quads, Path(tmp))
        base = [str(BIN / "kzgraph"), "serve", "--store", str(store), "--no-validate"]
        modes = {
            "--workers N (worker processes)": lambda n: ["--workers", str(n)],
            "--processes 1 --workers N (threads)": lambda n: [
                "--processes", "1", "--workers", str(n)
            ],
        }  # fmt: skip
        queries = saved_queries()
        rows: list[str] = []
        for mode, options in modes.items():
            rss_of: dict[int, float] = {}
            for n in (1, 4):
                port = free_port()
                url = f"http://127.0.0.1:{port}/sparql"
                process, start = serve([*base, "--port", str(port), *options(n)], url)
                try:
                    if not rows:  # the first server decides which queries finish in time
                        kept, times = answered_in_time(url, queries)
                        dropped = [name_of(q) for q in queries if q not in kept]
                        rows.append(
                            f"{len(kept)} of {len(queries)} saved queries answered within "
                            f"{LIMIT:g} s (median {statistics.median(times):.2f} s); left out: "
                            f"{', '.join(dropped) or 'none'}"
                        )
                        queries = kept
                    failed = asyncio.run(concurrently(url, queries, args.clients))
                    pids = tree(process.pid)
                    rss = sum(memory(p, "VmRSS") for p in pids)
                    anon = sum(memory(p, "RssAnon") for p in pids)
                    pss = sum(memory(p, "Pss") for p in pids)
                    rss_of[n] = rss
                    row = (
                        f"{mode.replace('N', str(n)):40} {len(pids)} process(es)  RSS {rss:5.0f} MB"
                        f"  anonymous {anon:5.0f} MB  PSS {pss:5.0f} MB  start {start:.2f} s"
                        f"  ({failed} failed)"
                    )
                    rows.append(row)
                    print(row, file=sys.stderr, flush=True)
                finally:
                    stop(process)
            rows.append(f"{mode}: RSS with 4 / with 1 = {rss_of[4] / rss_of[1]:.2f}x (target 1.5x)")
        print(f"store: {store}; {args.clients} clients at once")
        print("\n".join(rows))


if __name__ == "__main__":
    main()

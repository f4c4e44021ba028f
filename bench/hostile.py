"""Hostile-load benchmark: the seeded corpus against a real server, and a polite client under siege.

Run: ``.venv/bin/python bench/hostile.py [--size 5000] [--workers 2]``. Prints the status
histogram per family, 5xx other than 503, worker respawns, contacts on a loopback listener the
corpus aims at, the server's RSS before and after, and the latency of a well-behaved client
(p50/p99 of a small query) while runaway queries keep every worker busy, next to its latency on an
idle server (the baseline).
"""

from __future__ import annotations

import argparse
import collections
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.hostile import RUNAWAY, Listener, corpus  # noqa: E402
from tests.server_process import Server  # noqa: E402

POLITE = "SELECT ?c WHERE { ?c a kz:Company } LIMIT 5"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def polite_latencies(url: str, n: int, timeout: str) -> list[tuple[float, int]]:
    out = []
    with httpx.Client(base_url=url, timeout=60) as c:
        for _ in range(n):
            started = time.perf_counter()
            r = c.get("/sparql", params={"query": POLITE, "timeout": timeout})
            out.append(((time.perf_counter() - started) * 1000, r.status_code))
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=10)
    args = parser.parse_args()
    listener = Listener()
    server = Server("--workers", str(args.workers), "--timeout", "5", "--no-validate")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            start = c.get("/healthz").json()
        rss_start = rss_mb(server.process.pid)
        probes = corpus(args.seed, args.size, listener.url)
        by_family: dict[str, collections.Counter[int]] = collections.defaultdict(
            collections.Counter
        )
        errors: list[str] = []

        def send(probe) -> None:  # type: ignore[no-untyped-def]
            try:
                with httpx.Client(base_url=server.url, timeout=60) as c:
                    r = c.request(probe.method, probe.path, params=probe.params,
                                  headers={k: v.encode() for k, v in probe.headers.items()},
                                  content=probe.body)  # fmt: skip
                by_family[probe.family][r.status_code] += 1
            except httpx.HTTPError as exc:
                errors.append(type(exc).__name__)

        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(send, probes))
        elapsed = time.perf_counter() - started
        time.sleep(3)
        with httpx.Client(base_url=server.url, timeout=30) as c:
            end = c.get("/healthz").json()
        total: collections.Counter[int] = collections.Counter()
        print(f"hostile corpus: {len(probes)} requests in {elapsed:.1f} s, seed {args.seed}")
        print(f"{'family':<14} statuses")
        for family, counts in sorted(by_family.items()):
            total.update(counts)
            print(f"{family:<14} {dict(sorted(counts.items()))}")
        print(f"{'all':<14} {dict(sorted(total.items()))}")
        fivexx = sum(n for s, n in total.items() if s >= 500 and s != 503)
        print(f"5xx other than 503: {fivexx}; client errors: {len(errors)}")
        print(f"worker respawns: {end['pool']['respawns'] - start['pool']['respawns']} "
              f"(503 answers: {total[503]}); workers alive after: {end['pool']['alive']}")  # fmt: skip
        print(f"listener contacts: {listener.contacts}")
        print(f"server RSS: {rss_start:.0f} MB before, {rss_mb(server.process.pid):.0f} MB after")

        idle = polite_latencies(server.url, 40, "5")
        stop = threading.Event()

        def runaway() -> None:
            with httpx.Client(base_url=server.url, timeout=60) as c:
                while not stop.is_set():
                    c.get("/sparql", params={"query": RUNAWAY})

        hogs = [threading.Thread(target=runaway) for _ in range(args.workers * 3)]
        for t in hogs:
            t.start()
        time.sleep(1)
        sieged = polite_latencies(server.url, 20, "5")
        stop.set()
        for t in hogs:
            t.join()
        idle_ms = [ms for ms, _ in idle]
        siege_ms = [ms for ms, _ in sieged]
        codes = collections.Counter(code for _, code in sieged)
        print("polite client (small SELECT, timeout=5), ms:")
        print(
            f"  idle server (baseline): p50 {pct(idle_ms, 0.5):.1f}  p99 {pct(idle_ms, 0.99):.1f}"
        )
        print(f"  every worker held by {len(hogs)} runaway clients: p50 {pct(siege_ms, 0.5):.0f}  "
              f"max {max(siege_ms):.0f}; statuses {dict(codes)} (deadline 5000 ms)")  # fmt: skip
    finally:
        server.stop()
        listener.close()


if __name__ == "__main__":
    main()

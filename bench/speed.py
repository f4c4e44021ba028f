"""Where users wait, in one run: the command line, one and four clients, the big load, repeats.

Run with one command: ``bash bench/speed.sh`` (installs the Oxigraph server and wrk, then runs
this). Every figure is printed beside its baseline, measured in the same run on this machine:

- **command line**: wall time of ``kzgraph --help``, of a saved query on the seeded files and of
  saved queries on a 1M-quad store, against ``python -c 'import pyoxigraph'`` and a five-line
  pyoxigraph script that loads the seeded N-Quads, builds the merge and runs the same query;
  with ``--before REV`` the same commands from a checkout of REV (the code before a change);
- **endpoint, 1 and 4 clients**: requests per second on every saved query without required
  parameters, ``kzgraph serve`` (defaults) against a minimal pyoxigraph + Starlette endpoint on
  the same seeded data, and their ratio (wrk as the load generator when it is installed);
- **bulk load** at 1M and 10M quads (``--sizes``): ``kzgraph load`` (load, merge, content id,
  validation) against ``oxigraph load`` of the same file: time, disk and peak memory;
- **slowest answers after a restart**: on the 1M store, the six slowest saved queries' first
  answers, then their first answers again after the server is restarted on the same data;
- **merge or union**: what answering the default graph as Oxigraph's union of the named graphs
  (instead of the merge a load writes) would change in the saved queries' answers.

Nothing here is a pass/fail test; ``bench/RESULTS-speed.txt`` keeps the last run.
"""

from __future__ import annotations

import argparse
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

from bench.endpoint import MINIMAL, rows_of, rps, start  # noqa: E402
from bench.scale import cold_pass, serve, stop, timed  # noqa: E402

BIN = Path(sys.executable).parent
QUERY = "chinese-investors-by-region"
#: The five-line script the issue names as the floor for a saved query from the command line.
FIVE_LINES = """
import sys, pyoxigraph as ox
store = ox.Store(); store.load(path=sys.argv[1], format=ox.RdfFormat.N_QUADS)
store.update("INSERT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }")
result = store.query(open(sys.argv[2]).read(), prefixes=dict(a.split("=", 1) for a in sys.argv[3:]))
sys.stdout.buffer.write(result.serialize(format=ox.QueryResultsFormat.CSV))
"""


def wall(command: list[str], runs: int = 5, env: dict[str, str] | None = None) -> str:
    """Median wall time of ``command`` over ``runs`` runs, or how it failed."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        samples.append(time.perf_counter() - started)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["?"])[-1]
            return f"fails: {last[:60]}"
    return f"{statistics.median(samples):.3f} s"


def row(*cells: str) -> None:
    print("  ".join(cells), flush=True)


def data_file(quads: int) -> Path:
    """The synthetic graph of ``quads`` quads, generated once and kept under bench/data/."""
    from kzgraph.store.synthetic import VERSION

    path = ROOT / "bench" / "data" / f"synthetic-{quads}-v{VERSION}.nq.gz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / "generate.py"), "--quads", str(quads), "-o",
             str(path)],
            check=True,
        )  # fmt: skip
    return path


def saved_queries(with_prologue: bool) -> dict[str, str]:
    """The saved queries without required parameters, by name: what every section runs.

    Sent over HTTP they carry the prefixes as a prologue; run in process they are given them.
    """
    from kzgraph.core.namespaces import sparql_prologue
    from kzgraph.queries.catalogue import load_catalogue

    prologue = sparql_prologue() if with_prologue else ""
    return {name: prologue + q.text for name, q in load_catalogue().items()
            if not any(p.required for p in q.parameters)}  # fmt: skip


def seeded_dump(work: Path) -> Path:
    """The seeded dataset as one N-Quads file (what the baselines load)."""
    dump = work / "seeded.nq"
    if not dump.exists():
        subprocess.run([str(BIN / "kzgraph"), "export", "--format", "nq", "-o", str(dump)],
                       check=True, capture_output=True)  # fmt: skip
    return dump


def disk_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def command_line(work: Path, store_1m: Path | None, before: str | None) -> None:
    """CLI start: help, a saved query on the seeded files and on a 1M store, and the floor."""
    from kzgraph.core.namespaces import PREFIXES
    from kzgraph.queries.catalogue import get_query

    dump = seeded_dump(work)
    query_file = work / "query.rq"
    query_file.write_text(get_query(QUERY).text)
    prefixes = [f"{k}={v}" for k, v in PREFIXES.items()]
    versions = {"now": ([str(BIN / "kzgraph")], None)}
    if before is not None:
        checkout = work / "before"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(checkout),
                        before], check=True, capture_output=True)  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
        versions[f"before ({before})"] = (
            [sys.executable, "-m", "kzgraph", "--root", str(checkout)],
            env,
        )
    print("\nCommand line (median of 5 runs, wall time)")
    for label, (kz, env) in versions.items():
        row(f"  {label}: kzgraph --help", wall([*kz, "--help"], env=env))
        row(f"  {label}: kzgraph query {QUERY} (seeded files)",
            wall([*kz, "query", QUERY, "--format", "csv"], env=env))  # fmt: skip
        if store_1m is not None:
            for name in ("timeline", QUERY):
                row(f"  {label}: kzgraph query {name} --store (1M quads)",
                    wall([*kz, "query", name, "--format", "csv", "--store", str(store_1m)],
                         runs=3, env=env))  # fmt: skip
    row("  floor: python -c 'import pyoxigraph'",
        wall([sys.executable, "-c", "import pyoxigraph"]))  # fmt: skip
    row(f"  floor: five-line pyoxigraph script ({QUERY}, seeded N-Quads)",
        wall([sys.executable, "-c", FIVE_LINES, str(dump), str(query_file), *prefixes]))  # fmt: skip
    importtime = subprocess.run([sys.executable, "-X", "importtime", "-c", "import kzgraph.cli"],
                                capture_output=True, text=True).stderr  # fmt: skip
    total = importtime.strip().splitlines()[-1].split("|")[1].strip()
    row("  import kzgraph.cli (python -X importtime, cumulative)", f"{int(total) / 1000:.0f} ms")
    if before is not None:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                        str(work / "before")], check=False, capture_output=True)  # fmt: skip


def endpoint_ratios(work: Path, seconds: float) -> None:
    """Every saved query at 1 and 4 clients: kzgraph serve against the minimal endpoint."""
    dump = seeded_dump(work)
    queries = saved_queries(with_prologue=True)
    kz = [str(BIN / "kzgraph"), "serve", "--no-validate"]
    servers = {
        "minimal": lambda port: [sys.executable, "-c", MINIMAL, str(dump), str(port)],
        "kzgraph": lambda port: [*kz, "--port", str(port)],
        "uncached": lambda port: [*kz, "--port", str(port), "--answer-cache-mb", "0"],
    }
    urls, processes = {}, []
    try:
        for name, command in servers.items():
            port = free_port()
            urls[name] = f"http://127.0.0.1:{port}/sparql"
            processes.append(start(command(port), urls[name]))
        for name, text in queries.items():
            counts = {rows_of(url, text) for url in urls.values()}
            if len(counts) != 1:
                raise SystemExit(f"{name}: the servers disagree on the rows: {counts}")
        print(f"\nEndpoint on the seeded graph: requests/s per saved query ({len(queries)}), "
              f"{seconds:g} s per cell; kzgraph serve (defaults: a repeated query is a kept "
              "answer) and with --answer-cache-mb 0 (every request runs the query), each / "
              "the minimal endpoint")  # fmt: skip
        print(f"{'query':<34} {'1 client':>34} {'4 clients':>34}")
        ratios: dict[tuple[str, int], list[float]] = {}
        for name, text in queries.items():
            cells = []
            for clients in (1, 4):
                rate = {s: rps(url, [text], clients, seconds)[0] for s, url in urls.items()}
                for server in ("kzgraph", "uncached"):
                    ratios.setdefault((server, clients), []).append(rate[server] / rate["minimal"])
                cells.append(
                    f"{rate['minimal']:5.0f} {rate['kzgraph'] / rate['minimal']:6.2f}x "
                    f"{rate['uncached'] / rate['minimal']:6.2f}x uncached"
                )
            print(f"{name:<34} {cells[0]:>34} {cells[1]:>34}", flush=True)
        for (server, clients), values in ratios.items():
            label = "kzgraph" if server == "kzgraph" else "kzgraph --answer-cache-mb 0"
            row(f"  {clients} client(s), {label} / minimal: min {min(values):.2f}, median "
                f"{statistics.median(values):.2f}, max {max(values):.2f}; "
                f"{sum(v >= 1 for v in values)} of {len(values)} at 1x or more")  # fmt: skip
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait()


def bulk_load(quads: int, work: Path) -> Path:
    """``kzgraph load`` against ``oxigraph load`` of the same file; the kzgraph store is kept."""
    data = data_file(quads)
    kz_store, ox_store = work / f"kz-{quads}", work / f"ox-{quads}"
    kz_s, kz_mb, note = timed([str(BIN / "kzgraph"), "load", str(data), "--store", str(kz_store)])
    ox_s, ox_mb, _ = timed([str(BIN / "oxigraph"), "load", "--location", str(ox_store),
                            "--file", str(data)])  # fmt: skip
    kz_disk, ox_disk = disk_mb(kz_store), disk_mb(ox_store)
    shutil.rmtree(ox_store, ignore_errors=True)
    label = f"{quads / 1e6:g}M"
    row(f"\nBulk load, {label} quads ({data.name})")
    row("  kzgraph load (load + merge + content id + validation)",
        f"{kz_s:.1f} s, {kz_disk:,.0f} MB on disk, peak {kz_mb:,.0f} MB")  # fmt: skip
    row("  oxigraph load", f"{ox_s:.1f} s, {ox_disk:,.0f} MB on disk, peak {ox_mb:,.0f} MB")
    row("  ratio kzgraph / oxigraph",
        f"time {kz_s / ox_s:.2f}x, disk {kz_disk / ox_disk:.2f}x, memory {kz_mb / ox_mb:.2f}x")  # fmt: skip
    row("  kzgraph's own account", note)
    return kz_store


def slowest_after_restart(store: Path, count: int = 6) -> None:
    """The six slowest saved queries on a store: first answers, then again after a restart."""
    from kzgraph.endpoint.execution.answer_cache import forget_beside

    queries = saved_queries(with_prologue=True)
    forget_beside(store)
    port = free_port()
    url = f"http://127.0.0.1:{port}/sparql"
    command = [str(BIN / "kzgraph"), "serve", "--store", str(store), "--no-validate", "--port",
               str(port)]  # fmt: skip
    process, _ = serve(command, url)
    try:
        first = dict(zip(queries, cold_pass(url, list(queries.values())), strict=True))
        again = dict(zip(queries, cold_pass(url, list(queries.values())), strict=True))
    finally:
        stop(process)
    slowest = sorted(first, key=first.get, reverse=True)[:count]  # type: ignore[arg-type]
    process, started = serve(command, url)
    try:
        restarted = dict(zip(slowest, cold_pass(url, [queries[n] for n in slowest]), strict=True))
        sizes = {n: len(httpx.post(url, data={"query": queries[n]}, timeout=600,
                                   headers={"Accept": "application/sparql-results+json"}).content)
                 for n in slowest}  # fmt: skip
    finally:
        stop(process)
    row(f"\nThe {count} slowest saved queries on the store ({store.name}): first answer, "
        f"repeat, first answer after a restart (start-up {started:.1f} s)")  # fmt: skip
    for name in slowest:
        row(
            f"  {name:<30} {first[name]:7.2f} s  {again[name] * 1000:8.1f} ms  "
            f"{restarted[name] * 1000:8.1f} ms  ({sizes[name] / 1e6:.1f} MB answer)"
        )


def union_differences(store_dir: Path | None) -> None:
    """Saved queries on the written merge against Oxigraph's union default graph.

    The union would spare a load its second copy of every quad; this counts what it would
    change in the answers (a triple in two graphs is matched twice there).
    """
    from collections import Counter

    import pyoxigraph as ox

    from kzgraph.core.namespaces import PREFIXES
    from kzgraph.core.settings import Settings
    from kzgraph.store.engines import OxigraphStore

    def rows(store: ox.Store, text: str, union: bool) -> Counter[tuple[str, ...]]:
        result = store.query(text, prefixes=PREFIXES, use_default_graph_as_union=union)
        if isinstance(result, ox.QuerySolutions):
            names = result.variables
            return Counter(
                tuple("_" if isinstance(s[v], ox.BlankNode) else str(s[v]) for v in names)
                for s in result
            )
        if isinstance(result, ox.QueryBoolean):
            return Counter([(str(bool(result)),)])
        return Counter((str(t),) for t in result)

    saved = saved_queries(with_prologue=False)
    seeded = OxigraphStore()
    seeded.load_project(Settings.discover())
    sources = {"seeded graph": seeded.store}
    if store_dir is not None:
        sources[store_dir.name] = ox.Store.read_only(str(store_dir))
    print("\nDefault graph written as the merge, or Oxigraph's union at query time")
    for label, merged in sources.items():
        union = ox.Store()
        union.bulk_extend(q for q in merged if not isinstance(q.graph_name, ox.DefaultGraph))
        named = sum(1 for _ in union)
        merge = sum(1 for _ in merged.quads_for_pattern(None, None, None, ox.DefaultGraph()))
        differ = []
        for name, text in saved.items():
            a, b = rows(merged, text, False), rows(union, text, True)
            if a != b:
                differ.append(f"{name} {sum(a.values())} -> {sum(b.values())} rows")
        row(f"  {label}: {named:,} quads in named graphs, {merge:,} distinct triples in the "
            f"merge; {len(differ)} of {len(saved)} saved queries answer differently on the "
            f"union: {'; '.join(differ) or 'none'}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--seconds", type=float, default=1.0, help="per endpoint cell")
    parser.add_argument("--before", default=None, help="also time the CLI of this git revision")
    parser.add_argument("--union-on-store", action="store_true",
                        help="compare merge and union on --store too (slow: no time limit)")  # fmt: skip
    parser.add_argument("--store", type=Path, default=None,
                        help="a 1M-quad store made by kzgraph load, instead of loading one")  # fmt: skip
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["cli", "endpoint", "load", "restart", "union"])  # fmt: skip
    args = parser.parse_args()
    if "load" not in args.skip and not (BIN / "oxigraph").exists():
        sys.exit("the Oxigraph server is missing: run bash bench/speed.sh, which installs it")
    print(f"kzgraph speed benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="kzgraph-speed-", dir=ROOT / "bench" / "data") as tmp:
        work = Path(tmp)
        stores: dict[int, Path] = {}
        if "load" not in args.skip:
            for quads in args.sizes:
                stores[quads] = bulk_load(quads, work)
        store_1m = args.store or stores.get(1_000_000)
        if "cli" not in args.skip:
            command_line(work, store_1m, args.before)
        if "endpoint" not in args.skip:
            endpoint_ratios(work, args.seconds)
        if "restart" not in args.skip and store_1m is not None:
            slowest_after_restart(store_1m)
        if "union" not in args.skip:
            # on the seeded graph; at 1M quads the comparison had not ended after 8 minutes
            union_differences(args.store if args.union_on_store else None)


if __name__ == "__main__":
    main()

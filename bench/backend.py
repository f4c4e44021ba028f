"""Proxy benchmark: saved queries through ``kzgraph serve --backend`` vs the store's own endpoint.

Run with one command: ``bash bench/backend.sh [--quads 0,1000000] [--seconds 2]``. For each size
(0 = the seeded graph; otherwise the synthetic generator's graph of that many quads) it fills an
Oxigraph server (the PyPI binary, on loopback) with the named graphs and their merge in the
default graph, the layout ``kzgraph push`` writes, then for every saved query without required
parameters measures requests per second at 4 concurrent clients, one run after the other:

- ``store``: the Oxigraph server's own ``/query`` (the query sent with kzgraph's prefixes);
- ``kzgraph``: ``kzgraph serve --backend`` in front of it (default settings, answer cache off,
  validation off: what is measured is the proxy, not the cache).

The ratio kzgraph/store is the share of the store's rate the proxy keeps. Both must answer with
the same number of rows. The load generator is wrk when installed (bench/backend.sh installs
Debian's), sharing the two cores with both servers. Results go to stdout and
bench/RESULTS-backend.txt.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pyoxigraph as ox

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.server_process import OXIGRAPH, free_port  # noqa: E402

from bench.endpoint import rows_of, rps  # noqa: E402
from kzgraph.queries.catalogue import load_catalogue  # noqa: E402
from kzgraph.remote.stores import with_prologue  # noqa: E402


def write_data(quads: int, folder: Path) -> tuple[Path, Path, int]:
    """The named graphs (N-Quads) and their merge (N-Triples) for an Oxigraph bulk load."""
    data = folder / "data.nq"
    if quads == 0:
        out = subprocess.run(
            [sys.executable, "-m", "kzgraph", "export", "--output", str(data)],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
    else:
        from kzgraph.store.synthetic import generate_file

        generate_file(data, quads, seed=1)
    merged: set[ox.Triple] = set()
    count = 0
    for quad in ox.parse(path=str(data), format=ox.RdfFormat.N_QUADS):
        count += 1
        merged.add(ox.Triple(quad.subject, quad.predicate, quad.object))
    merge = folder / "merge.nt"
    ox.serialize(list(merged), str(merge), format=ox.RdfFormat.N_TRIPLES)
    return data, merge, count


def wait_for(url: str, process: subprocess.Popen[bytes], what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < 300:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return time.monotonic() - started
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not start")


#: Seconds above which a query is timed, not rated (wrk would see no answer in its window).
SLOW = 0.5


def timed(url: str, query: str) -> float:
    """Seconds for one answer (JSON), read whole."""
    started = time.perf_counter()
    httpx.post(
        url,
        data={"query": query},
        headers={"Accept": "application/sparql-results+json"},
        timeout=600,
    ).raise_for_status()
    return time.perf_counter() - started


def queries() -> dict[str, str]:
    """Saved queries that run without a parameter being given."""
    return {
        name: q.text
        for name, q in sorted(load_catalogue().items())
        if not any(p.required for p in q.parameters)
    }


#: Seconds a query may take at the store before it is left out (at 1M quads the pair queries
#: run for minutes; the issue-13 note has them).
GIVE_UP = 60.0


def rows(url: str, query: str) -> int | str:
    """Rows a server answers ``query`` with, or why not."""
    try:
        return rows_of(url, query, GIVE_UP)
    except httpx.TimeoutException:
        return f"over {GIVE_UP:g} s"


#: kzgraph's --answer-cache-mb in the runs (0 unless --answer-cache-mb says otherwise).
CACHE_MB = 0


def measure(
    label: str,
    store_url: str,
    direct: dict[str, str],
    seconds: float,
    lines: list[str],
    restart: Callable[[], None] = lambda: None,
) -> None:
    """Start kzgraph in front of ``store_url``; compare every query's rate with the store's own.

    ``direct``: each saved query as sent to the store itself (its prologue, and on Virtuoso the
    dataset kzgraph's proxy sends too), so both answer the same question. ``restart``: called
    after a query ran past :data:`GIVE_UP` at the store, which would otherwise go on computing
    it and slow every later measurement.
    """
    kz_port = free_port()
    kzgraph = subprocess.Popen(
        [
            sys.executable, "-m", "kzgraph", "serve", "--backend", store_url,
            "--port", str(kz_port), "--no-validate", "--answer-cache-mb", str(CACHE_MB),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        kz_url = f"http://127.0.0.1:{kz_port}/sparql"
        start_up = wait_for(f"http://127.0.0.1:{kz_port}/healthz", kzgraph, "kzgraph")
        lines.append(
            f"\n{label}; kzgraph serve --backend answered /healthz {start_up:.1f} s after start"
            f" (answer cache {CACHE_MB} MB)."
        )
        lines.append(
            f"Requests/s per saved query at 4 clients, {seconds:g} s each "
            "(p50 ms in brackets); ratio = kzgraph / store. Queries slower than "
            f"{SLOW:g} s: best of two single requests (ms in brackets), ratio = store time / "
            "kzgraph time."
        )
        lines.append(f"{'query':34} {'store':>16} {'kzgraph':>16} {'ratio':>7}")
        print("\n".join(lines[-3:]), flush=True)
        ratios = []
        for name, text in queries().items():
            there = rows(store_url, direct[name])
            if isinstance(there, str):
                restart()
                lines.append(f"{name:34} not compared: {there} at the store")
                print(lines[-1], flush=True)
                continue
            proxied = rows(kz_url, text)
            if there != proxied:
                lines.append(f"{name:34} not compared: store {there} rows, kzgraph {proxied}")
                print(lines[-1], flush=True)
                continue
            once = timed(store_url, direct[name])
            if once > SLOW:  # too slow for a rate in a few seconds: two timed runs each, 1 client
                s_ms = min(once, timed(store_url, direct[name])) * 1000
                k_ms = min(timed(kz_url, text) for _ in range(2)) * 1000
                ratio = s_ms / k_ms
                ratios.append(ratio)
                lines.append(
                    f"{name:34} {'':8} ({s_ms:5.0f}) {'':8} ({k_ms:5.0f}) {ratio:6.2f}x  1 client"
                )
            else:
                s_rps, s_p50, _ = rps(store_url, [direct[name]], 4, seconds)
                k_rps, k_p50, _ = rps(kz_url, [text], 4, seconds)
                ratio = k_rps / s_rps if s_rps else 0.0
                ratios.append(ratio)
                lines.append(
                    f"{name:34} {s_rps:8.1f} ({s_p50:5.1f}) {k_rps:8.1f} ({k_p50:5.1f}) "
                    f"{ratio:6.2f}x"
                )
            print(lines[-1], flush=True)
        if ratios:
            lines.append(
                f"ratio over {len(ratios)} queries: median {statistics.median(ratios):.2f}x, "
                f"min {min(ratios):.2f}x, max {max(ratios):.2f}x"
            )
            print(lines[-1], flush=True)
    finally:
        kzgraph.terminate()
        kzgraph.wait()


def run_oxigraph(quads: int, seconds: float, lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        data, merge, count = write_data(quads, folder)
        store_dir = folder / "store"
        subprocess.run(
            [str(OXIGRAPH), "load", "--location", str(store_dir), "--file", str(data), str(merge)],
            check=True,
            capture_output=True,
        )
        prepared = time.perf_counter() - started
        port = free_port()
        store_url = f"http://127.0.0.1:{port}/query"
        running: list[subprocess.Popen[bytes]] = []

        def start() -> None:
            for process in running:
                process.kill()
                process.wait()
            running[:] = [
                subprocess.Popen(
                    [str(OXIGRAPH), "serve-read-only", "--location", str(store_dir),
                     "--bind", f"127.0.0.1:{port}"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            ]  # fmt: skip
            wait_for(store_url + "?query=ASK%7B%7D", running[0], "the Oxigraph server")

        try:
            start()
            size = "seeded" if quads == 0 else f"{quads:,} (synthetic)"
            label = (
                f"Oxigraph server, data: {size}, {count:,} quads in named graphs, prepared and "
                f"bulk-loaded in {prepared:.1f} s"
            )
            direct = {name: with_prologue(text) for name, text in queries().items()}
            measure(label, store_url, direct, seconds, lines, start)
        finally:
            for process in running:
                process.terminate()
                process.wait()


def fill_virtuoso(quads: int, query: str, update: str, gsp: str, folder: Path) -> float:
    """Fill Virtuoso as ``kzgraph push`` does (seconds taken): Graph Store PUTs, then the merge.

    The seeded graph goes by ``kzgraph push`` itself; a synthetic one (whose graphs are in
    kzgraph's own namespace, which a file push leaves to the project) through the same sending
    code, counts verified: one N-Triples PUT per named graph, then the merge.
    """
    from kzgraph.remote.push import _send, _Sender
    from kzgraph.remote.stores import Backend, RemoteStore

    started = time.perf_counter()
    if quads == 0:
        out = subprocess.run(
            [
                sys.executable, "-m", "kzgraph", "push", "--backend", query,
                "--backend-update", update, "--backend-store", gsp,
            ],
            capture_output=True, text=True,
        )  # fmt: skip
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        return time.perf_counter() - started
    from kzgraph.store.synthetic import generate_file

    data = folder / "data.nq"
    generate_file(data, quads, seed=1)
    graphs: dict[str, list[ox.Triple]] = {}
    for quad in ox.parse(path=str(data), format=ox.RdfFormat.N_QUADS):
        assert isinstance(quad.graph_name, ox.NamedNode)
        graphs.setdefault(quad.graph_name.value, []).append(
            ox.Triple(quad.subject, quad.predicate, quad.object)
        )
    backend = Backend(query, update, gsp)
    sending = (
        (iri, (ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b"", len(triples)))
        for iri, triples in graphs.items()
    )
    _send(_Sender(backend), RemoteStore(backend), sending, [], None)
    return time.perf_counter() - started


def run_virtuoso(quads: int, seconds: float, lines: list[str]) -> None:
    """Virtuoso 7.2 with the seeded or a synthetic graph, filled as ``kzgraph push`` does."""
    from tests.server_process import virtuoso_server

    from kzgraph.core.namespaces import PREFIXES
    from kzgraph.remote.path_expansion import expand
    from kzgraph.remote.stores import Backend, RemoteStore
    from kzgraph.remote.virtuoso import virtuoso_dataset

    with tempfile.TemporaryDirectory() as tmp, virtuoso_server(Path(tmp)) as (query, update, gsp):
        pushed = fill_virtuoso(quads, query, update, gsp, Path(tmp))
        store = RemoteStore(Backend(query))
        graphs = store.graph_names()

        def defines(text: str) -> str:
            """The dataset kzgraph gives a query, all as Virtuoso's own pragmas."""
            pragmas, params = virtuoso_dataset(text, graphs)
            return pragmas + "".join(f"define input:{n} <{iri}>\n" for n, iri in params)

        def fetch(sparql: str) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in store.query(sparql).rows]

        # the store is asked the query kzgraph sends it: paths written out (the edges fetched
        # once here; the proxy fetches them for each query, a cost it is charged with)
        direct = {
            name: defines(text) + with_prologue(expand(text, fetch, {}, dict(PREFIXES)))
            for name, text in queries().items()
        }
        size = "seeded" if quads == 0 else f"{quads:,} (synthetic)"
        label = (
            f"Virtuoso 7.2 (Debian), data: {size}, {len(store):,} quads in "
            f"{len(graphs)} named graphs, pushed in {pushed:.1f} s"
        )
        measure(label, query, direct, seconds, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quads", default="0,1000000", help="sizes, comma-separated; 0 = seeded")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument(
        "--stores", default="oxigraph,virtuoso", help="oxigraph, virtuoso (each at every size)"
    )
    parser.add_argument(
        "--answer-cache-mb",
        type=int,
        default=0,
        help="kzgraph's answer cache (0: the proxy alone is measured; 64: its default)",
    )
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS-backend.txt")
    args = parser.parse_args()
    global CACHE_MB
    CACHE_MB = args.answer_cache_mb
    stores = args.stores.split(",")
    lines = [
        "Proxy benchmark: kzgraph serve --backend in front of a store; baseline = the same "
        f"store queried directly ({subprocess.run([str(OXIGRAPH), '--version'], capture_output=True, text=True).stdout.strip()}, "
        "Virtuoso Open Source 7.2.5 from Debian).",
    ]
    for quads in (int(q) for q in args.quads.split(",")):
        if "virtuoso" in stores:
            run_virtuoso(quads, args.seconds, lines)
        if "oxigraph" in stores:
            run_oxigraph(quads, args.seconds, lines)
    text = "\n".join(lines) + "\n"
    print(text)
    args.results.write_text(text)


if __name__ == "__main__":
    main()

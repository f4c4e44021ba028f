"""Search benchmark: the full-text index on a store of N quads, beside SPARQL CONTAINS.

Run with one command: ``.venv/bin/python bench/search.py --quads 1000000`` (add 10000000 for the
big one; the synthetic file is generated once into bench/data/). It loads a synthetic graph
shaped like the seeded one (``kzgraph.store.synthetic``) with ``kzgraph load``, then measures:

- building the index beside the store (reading every name and quoted sentence with SPARQL,
  then FTS5), wall time, peak RSS of the process and the index file's size;
- opening the kept index again (what a restart or a second ``kzgraph search`` costs);
- search latency for a few words, median of 20, against the baseline: the saved query
  ``search-quotations`` (SPARQL ``CONTAINS`` over every quotation) on the same store.

Figures are printed with the ratio to the baseline. Nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kzgraph.queries import search  # noqa: E402
from kzgraph.queries.running import run_saved  # noqa: E402
from kzgraph.store import state as store_state  # noqa: E402
from kzgraph.store.engines import OxigraphStore  # noqa: E402
from kzgraph.store.synthetic import VERSION, generate_file  # noqa: E402

WORDS = ["polyethylene", "tenge", "Huawei", "corn processing"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quads", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="keep the loaded store in this folder and reuse it on the next run (no reload)",
    )
    args = parser.parse_args()
    data = ROOT / "bench" / "data" / f"synthetic-{args.quads}-v{VERSION}.nq.gz"
    if not data.exists():
        data.parent.mkdir(parents=True, exist_ok=True)
        print(f"generating {data.name}", flush=True)
        generate_file(data, args.quads)
    with tempfile.TemporaryDirectory() as work:
        store_dir = args.store or Path(work) / "store"
        kzgraph = Path(sys.executable).parent / "kzgraph"
        if not (store_dir / "CURRENT").exists():
            started = time.monotonic()
            subprocess.run([str(kzgraph), "load", str(data), "--store", str(store_dir)],
                           check=True, stdout=subprocess.DEVNULL)  # fmt: skip
            print(f"loaded {args.quads:,} quads in {time.monotonic() - started:.1f} s", flush=True)
        store = OxigraphStore.read_only(store_dir)
        recorded = store_state.read(store_dir)
        assert recorded is not None and recorded.content
        path = Path(work) / "index.sqlite"  # beside the store, as the server keeps it
        started = time.monotonic()
        index = search.index_for(store, recorded.content, path,
                                 lambda m: print("  " + m, flush=True))  # fmt: skip
        built = time.monotonic() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows = len(index)
        index.close()
        started = time.monotonic()
        index = search.index_for(store, recorded.content, path)
        reopened = time.monotonic() - started
        print(f"index: built in {built:.1f} s (peak RSS {peak:,.0f} MB), {rows:,} texts, "
              f"{path.stat().st_size / 1e6:,.1f} MB on disk; reopened in {reopened * 1000:.1f} ms")  # fmt: skip
        print(f"{'words':<18} {'FTS5 (ms)':>10} {'CONTAINS (ms)':>14} {'ratio':>8}")
        for words in WORDS:
            fts = []
            for _ in range(args.runs):
                t = time.perf_counter()
                index.search(words, limit=20, kind="quotation")
                fts.append(time.perf_counter() - t)
            sparql = []
            for _ in range(max(3, args.runs // 5)):
                t = time.perf_counter()
                run_saved("search-quotations", {"text": words}, store=store)
                sparql.append(time.perf_counter() - t)
            a, b = statistics.median(fts) * 1000, statistics.median(sparql) * 1000
            print(f"{words:<18} {a:>10.2f} {b:>14.1f} {b / a:>7.0f}×")


if __name__ == "__main__":
    main()

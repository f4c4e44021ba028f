"""Write a synthetic graph shaped like the seeded one: ``.venv/bin/python bench/generate.py``.

``--quads 1000000 --seed 1 -o bench/data/synthetic-1M.nq.gz`` writes about a million quads
(N-Quads, gzipped by extension) with a progress bar, and prints how many copies of the articles
it made and how many of them carry an injected violation. The same seed writes the same bytes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from kzgraph.store.synthetic import generate_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quads", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--invalid", type=float, default=0.02, help="share of copies made invalid")
    parser.add_argument("-o", "--output", type=Path, default=Path("bench/data/synthetic.nq.gz"))
    args = parser.parse_args()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    counts = generate_file(args.output, args.quads, args.seed, args.invalid)
    seconds = time.perf_counter() - started
    print(f"{counts.quads:,} quads in {counts.copies:,} copies ({counts.invalid_copies:,} invalid) "
          f"-> {args.output} in {seconds:.1f} s ({counts.quads / seconds:,.0f} quads/s)")  # fmt: skip


if __name__ == "__main__":
    main()

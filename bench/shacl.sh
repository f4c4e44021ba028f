#!/usr/bin/env bash
# One command for the SHACL engine benchmark: set up, add every engine compared, run.
#   bash bench/shacl.sh                       # W3C suites, seeded graph, fault corpus
#   bash bench/shacl.sh --data bench/data/synthetic-1M.nq bench/data/synthetic-10M.nq
# (make the synthetic files with bench/generate.py --quads 1000000 -o bench/data/synthetic-1M.nq)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# The engines compared with the default (shacl, installed with kzgraph) and the reference
# (pyshacl): the other Rust engines published on PyPI.
.venv/bin/python -m pip install --quiet "pyshacl-turbo==0.6.5" "shacl-rust==0.2.12" \
  "pyshifty==0.5.1" "pyrudof==0.3.35"
exec .venv/bin/python bench/shacl_engines.py "$@"

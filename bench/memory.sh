#!/usr/bin/env bash
# One command for the memory benchmark: set up, then measure RSS with 1 and 4 queries at once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
exec .venv/bin/python bench/memory.py "$@"

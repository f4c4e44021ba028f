#!/usr/bin/env bash
# One command for the import benchmark: set up (with the mapping engine), then run it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python bench/import_rows.py "$@"

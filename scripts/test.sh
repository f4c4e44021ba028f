#!/usr/bin/env bash
# Set everything up and run every check: lint, types, the SHACL validation and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
echo "== ruff"
.venv/bin/ruff check src tests scripts bench
.venv/bin/ruff format --check src tests scripts bench
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
exec .venv/bin/python -m pytest "$@"

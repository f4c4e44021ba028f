#!/usr/bin/env bash
# Create .venv and install kzgraph into it (with the test tools when given "test").
# Safe to run again: an existing .venv is reused and only updated.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
extra=""
if [ "${1:-}" = "test" ]; then extra="[test]"; fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".${extra}"

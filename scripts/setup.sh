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

# The query editor (YASGUI) and API docs (Swagger UI) are served from web/node_modules, never a CDN.
if command -v npm >/dev/null 2>&1; then
  npm ci --prefix web --no-audit --no-fund --loglevel=error
else
  echo "npm not found: the endpoint works, but the query editor page will lack its scripts" >&2
fi

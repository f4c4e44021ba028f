#!/usr/bin/env bash
# Set everything up and run every check: lint, types, the SHACL validation and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# Real clients the endpoint tests talk to: Comunica (npm) and Debian's Chromium.
want="$(sha256sum tests/clients/package-lock.json | cut -d' ' -f1)"
if [ "$(cat tests/clients/node_modules/.kzgraph-installed 2>/dev/null)" != "$want" ]; then
  echo "setup: installing the test clients (Comunica) from npm" >&2
  npm ci --prefix tests/clients --no-audit --no-fund --loglevel=error
  printf '%s' "$want" > tests/clients/node_modules/.kzgraph-installed
fi
# Debian packages: Chromium for the browser tests, Virtuoso (the server binary only; the tests
# start it with their own configuration on loopback) for the remote-store tests.
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v virtuoso-t >/dev/null 2>&1 || missing="$missing virtuoso-opensource-7-bin"
if [ -n "$missing" ]; then
  echo "setup: installing Debian packages:$missing" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  fi
fi
echo "== ruff"
.venv/bin/ruff check src tests scripts bench
.venv/bin/ruff format --check src tests scripts bench
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
exec .venv/bin/python -m pytest "$@"

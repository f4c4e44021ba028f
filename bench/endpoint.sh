#!/usr/bin/env bash
# One command for the endpoint benchmark: set up, add the baseline server, run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
.venv/bin/python -m pip install --quiet "rdflib-endpoint>=0.5"
if ! command -v wrk >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
exec .venv/bin/python bench/endpoint.py "$@"

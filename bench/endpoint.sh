#!/usr/bin/env bash
# One command for the endpoint benchmark: set up, install wrk (the load generator), run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/setup.sh
exec .venv/bin/python bench/endpoint.py "$@"

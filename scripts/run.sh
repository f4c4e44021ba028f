#!/usr/bin/env bash
# Set everything up and run the main job: the SPARQL endpoint on the seeded graph
# (in-memory Oxigraph store), at http://127.0.0.1:7878/ unless --host/--port say otherwise.
# Set-up, validation and the documentation site are redone only when their inputs change.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "starting the endpoint (open the URL it prints; Ctrl+C stops it)" >&2
exec .venv/bin/kzgraph serve "$@"

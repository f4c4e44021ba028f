#!/usr/bin/env bash
# Set everything up and run the main job: the SPARQL endpoint on the seeded graph
# (in-memory Oxigraph store), at http://127.0.0.1:7878/ unless --host/--port say otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/kzgraph serve "$@"

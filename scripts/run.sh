#!/usr/bin/env bash
# Set everything up and run the main job on the seeded graph.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/kzgraph build "$@"

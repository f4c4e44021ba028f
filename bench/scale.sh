#!/usr/bin/env bash
# One command for the scale benchmark: set up, add the Oxigraph server (PyPI "oxigraph"), run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
.venv/bin/python -m pip install --quiet "oxigraph==0.5.13"
exec .venv/bin/python bench/scale.py "$@"

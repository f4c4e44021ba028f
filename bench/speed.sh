#!/usr/bin/env bash
# One command for the speed benchmark: set up (wrk), add the Oxigraph server (PyPI "oxigraph"),
# run. Arguments go to bench/speed.py (--sizes, --seconds, --before REV, --skip ...).
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/setup.sh
.venv/bin/python -m pip install --quiet "oxigraph==0.5.13"
exec .venv/bin/python bench/speed.py "$@"

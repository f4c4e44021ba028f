#!/usr/bin/env bash
# One command for the proxy (serve --backend) benchmark: set up, install wrk and Virtuoso, run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/setup.sh
if ! command -v virtuoso-t >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq virtuoso-opensource-7-bin >/dev/null
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq virtuoso-opensource-7-bin >/dev/null
  fi
fi
exec .venv/bin/python bench/backend.py "$@"

#!/usr/bin/env bash
# Create .venv and install kzgraph into it (with the test tools when given "test"), and the web
# UI's scripts into web/node_modules. Each step runs only when its inputs changed since the last
# run (a SHA-256 of pyproject.toml or package-lock.json, kept beside what it installed), so a
# second run costs well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
extra=""
if [ "${1:-}" = "test" ]; then extra="[test]"; fi

stamp_of() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $("$PYTHON" --version)" >&2
  "$PYTHON" -m venv .venv
fi
want="$(printf '%s %s' "$extra" "$(stamp_of pyproject.toml)")"
have="$(cat .venv/.kzgraph-installed 2>/dev/null || true)"
# a test install includes the plain one
if [ -z "$extra" ] && [ "$have" = "[test] $(stamp_of pyproject.toml)" ]; then want="$have"; fi
if [ "$have" != "$want" ] || [ ! -x .venv/bin/kzgraph ]; then
  echo "setup: installing kzgraph${extra} and its dependencies into .venv (first run: about a minute)" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".${extra}"
  printf '%s' "$want" > .venv/.kzgraph-installed
else
  echo "setup: .venv is up to date (pyproject.toml unchanged)" >&2
fi

# The query editor (YASGUI), API docs (Swagger UI) and graph view are served from
# web/node_modules, never a CDN.
if command -v npm >/dev/null 2>&1; then
  want="$(stamp_of web/package-lock.json)"
  if [ "$(cat web/node_modules/.kzgraph-installed 2>/dev/null)" != "$want" ]; then
    echo "setup: installing the web UI's scripts from npm into web/node_modules" >&2
    npm ci --prefix web --no-audit --no-fund --loglevel=error
    printf '%s' "$want" > web/node_modules/.kzgraph-installed
  else
    echo "setup: web/node_modules is up to date (package-lock.json unchanged)" >&2
  fi
else
  echo "setup: npm not found: the endpoint works, but the query editor page will lack its scripts" >&2
fi

# The mapping engine for `kzgraph import`: morph-kgc, in a venv of its own because it pins
# pyoxigraph<0.4, pandas<3 and rdflib<7.3, which kzgraph's own environment must not be held to.
# kzgraph runs it as a program (`python -m morph_kgc`), so the two never share an interpreter.
MORPH_KGC="morph-kgc==2.10.0"
if [ "$(cat .tools/morph-kgc/.kzgraph-installed 2>/dev/null)" != "$MORPH_KGC" ]; then
  echo "setup: installing the mapping engine ($MORPH_KGC) into .tools/morph-kgc" >&2
  rm -rf .tools/morph-kgc
  "$PYTHON" -m venv .tools/morph-kgc
  .tools/morph-kgc/bin/python -m pip install --quiet "$MORPH_KGC"
  printf '%s' "$MORPH_KGC" > .tools/morph-kgc/.kzgraph-installed
else
  echo "setup: .tools/morph-kgc is up to date ($MORPH_KGC)" >&2
fi

#!/usr/bin/env bash
# Install Pintuan, load the demo store and serve it on the embedded default:
# GraphiQL at http://127.0.0.1:8000/graphql
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
.venv/bin/pintuan migrate
.venv/bin/pintuan seed --demo
exec .venv/bin/pintuan serve "$@"

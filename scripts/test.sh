#!/usr/bin/env bash
# Install the project with its test extras, then run the whole suite twice:
# on the embedded default (SQLite + in-process live layer) and on PostgreSQL + Redis.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"

export PINTUAN_PG_URL=${PINTUAN_PG_URL:-postgres://postgres@127.0.0.1:5432/pintuan_test}
export PINTUAN_REDIS_TEST_URL=${PINTUAN_REDIS_TEST_URL:-redis://127.0.0.1:6379/15}

run_pytest() {
  local label=$1; shift
  echo "== tests on $label =="
  local status=0
  "$@" .venv/bin/python -m pytest "${PYTEST_ARGS[@]}" || status=$?
  if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests on $label: treating as failure" >&2
    return 1
  fi
  return "$status"
}

PYTEST_ARGS=("$@")
run_pytest "embedded (SQLite + in-process live layer)" env \
  -u PINTUAN_TEST_DATABASE_URL -u PINTUAN_TEST_REDIS_URL
run_pytest "PostgreSQL + Redis" env \
  PINTUAN_TEST_DATABASE_URL="$PINTUAN_PG_URL" PINTUAN_TEST_REDIS_URL="$PINTUAN_REDIS_TEST_URL"

#!/usr/bin/env bash
# Fuzz the GraphQL API from outside: start a server with the demo store, then let
# schemathesis send it generated queries and mutations, anonymously and signed in
# as a customer and as merchant staff. Fails on any 5xx and on any top-level error
# without `extensions.code` (scripts/fuzz_checks.py). Seeded, so a failure replays.
#
# The database is PINTUAN_FUZZ_DATABASE_URL (default: a fresh SQLite file) and the
# live layer PINTUAN_FUZZ_REDIS_URL (default: in-process); a PostgreSQL database
# named there is dropped and created afresh.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

EXAMPLES=${FUZZ_EXAMPLES:-25}
SEED=${FUZZ_SEED:-20261201}
work=$(mktemp -d)
port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"

export PINTUAN_DATABASE_URL=${PINTUAN_FUZZ_DATABASE_URL:-sqlite:///$work/pintuan.db}
if [ -n "${PINTUAN_FUZZ_REDIS_URL:-}" ]; then export PINTUAN_REDIS_URL=$PINTUAN_FUZZ_REDIS_URL; fi
export PINTUAN_RATE_LIMIT_IP_PER_MINUTE=1000000
export PINTUAN_RATE_LIMIT_KEY_PER_MINUTE=1000000
export PINTUAN_RUN_SCHEDULER=false

server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  if [ -n "${PINTUAN_REDIS_URL:-}" ]; then .venv/bin/python -c 'import sys, redis; redis.Redis.from_url(sys.argv[1]).flushdb()' "$PINTUAN_REDIS_URL"; fi
  rm -rf "$work"
}
trap cleanup EXIT

case $PINTUAN_DATABASE_URL in
  postgres*) .venv/bin/python - "$PINTUAN_DATABASE_URL" <<'PY'
import asyncio, sys
from urllib.parse import urlsplit, urlunsplit
import asyncpg

async def recreate(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    conn = await asyncpg.connect(urlunsplit(parts._replace(scheme="postgresql", path="/postgres", query="")))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()

asyncio.run(recreate(sys.argv[1]))
PY
  ;;
esac
if [ -n "${PINTUAN_REDIS_URL:-}" ]; then .venv/bin/python -c 'import sys, redis; redis.Redis.from_url(sys.argv[1]).flushdb()' "$PINTUAN_REDIS_URL"; fi

(cd "$work" && "$root/.venv/bin/pintuan" migrate >/dev/null && "$root/.venv/bin/pintuan" seed --demo)
(cd "$work" && exec "$root/.venv/bin/pintuan" serve --port "$port" >"$work/server.log" 2>&1) &
server=$!
for _ in $(seq 1 100); do
  .venv/bin/python -c 'import sys, httpx; sys.exit(httpx.get(sys.argv[1]).status_code != 200)' "$url/readyz" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.2
done

token_of() {
  .venv/bin/python - "$url/graphql" "$1" "$2" <<'PY'
import sys, httpx
url, email, password = sys.argv[1:]
query = "mutation ($email: String!, $password: String!) { tokenCreate(input: {email: $email, password: $password}) { accessToken } }"
body = httpx.post(url, json={"query": query, "variables": {"email": email, "password": password}}).json()
print(body["data"]["tokenCreate"]["accessToken"])
PY
}
customer=$(token_of alice@example.com pintuan-demo)
staff=$(token_of yunnan-tea@staff.pintuan.dev pintuan-staff-demo)

fuzz() {
  local who=$1; shift
  echo "== fuzzing as $who: $EXAMPLES examples per operation, seed $SEED =="
  (cd "$work" && SCHEMATHESIS_HOOKS=fuzz_checks PYTHONPATH="$root/scripts" "$root/.venv/bin/st" run "$url/graphql" \
    --max-examples "$EXAMPLES" --seed "$SEED" --no-color --exclude-checks not_a_server_error,positive_data_acceptance \
    --phases fuzzing --generation-database none "$@")
}
status=0
fuzz anonymous || status=1
fuzz "a customer" -H "Authorization: Bearer $customer" || status=1
fuzz "merchant staff" -H "Authorization: Bearer $staff" || status=1
if grep -q "Traceback" "$work/server.log"; then
  echo "the server logged a traceback:"; grep -B2 -A30 "Traceback" "$work/server.log" | head -80
  status=1
fi
exit $status

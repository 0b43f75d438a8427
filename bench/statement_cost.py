"""Statement cost: the server-side CPU of one trivial statement through each database layer.

The question it answers is "how much of a purchase is the database client, not the
database?". A paid join sends about fifteen statements; this sends one trivial statement
(``SELECT $1::int``) many times through each layer the server can use, and an empty
transaction, and prints the CPU this process spent per call. PostgreSQL's own work is in
its process and is not counted. It prints figures and asserts none.

    .venv/bin/python -m bench.statement_cost
    .venv/bin/python -m bench.statement_cost --database-url postgres://postgres@db:5432/postgres
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable, Sequence

from tortoise import Tortoise, connections
from tortoise.transactions import in_transaction

from bench.harness import run
from pintuan.core import sql
from pintuan.core.db import tortoise_config

STATEMENT = "SELECT $1::int AS answer"


async def cpu_per_call(call: Callable[[], Awaitable[object]], calls: int, warmup: int) -> float:
    """Microseconds of this process's CPU per call, after ``warmup`` unmeasured calls."""
    for _ in range(warmup):
        await call()
    started = time.process_time()
    for _ in range(calls):
        await call()
    return (time.process_time() - started) / calls * 1e6


async def measure(args: argparse.Namespace) -> list[tuple[str, float]]:
    await Tortoise.init(config=tortoise_config(args.database_url))
    try:
        client = connections.get("default")
        if client.capabilities.dialect != "postgres":
            raise SystemExit("statement_cost measures the PostgreSQL client only")

        async def cpu(call: Callable[[], Awaitable[object]]) -> float:
            return await cpu_per_call(call, args.calls, args.warmup)

        async def through_orm_client() -> object:
            return await sql.rows(STATEMENT, 1)

        async def empty_transaction() -> None:
            async with in_transaction():
                pass

        results = [
            ("the ORM's client (sql.rows), outside a transaction", await cpu(through_orm_client))
        ]
        async with in_transaction():
            results.append(("the same, inside a transaction", await cpu(through_orm_client)))
        async with client.acquire_connection() as connection:
            direct = await cpu(lambda: connection.fetch(STATEMENT, 1))
        results.append(("asyncpg directly, on one connection held throughout", direct))
        results.append(
            ("an empty transaction (BEGIN, COMMIT) through the ORM", await cpu(empty_transaction))
        )
        return results
    finally:
        await Tortoise.close_connections()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    args = parser.parse_args(argv)
    results = run(measure(args))
    print(
        f"CPU of this process per call, PostgreSQL, {args.calls} calls each "
        f"after {args.warmup} to warm up (statement: {STATEMENT})"
    )
    for name, micros in results:
        print(f"  {name:58} {micros:7.0f} µs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

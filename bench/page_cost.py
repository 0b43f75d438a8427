"""Page cost: the CPU one catalog page costs the GraphQL app and the plain baseline, in
one process, with no sockets and no client.

The question it answers is "did this change make the catalog page cheaper for the
server?". ``bench.catalog`` answers with throughput, which on a shared machine moves
between identical runs by more than most single changes; here both apps are called
as ASGI applications by the same in-process driver on the same seeded SQLite
database, so what is measured is the server's own work: HTTP handling in Starlette,
GraphQL, the ORM, the database client. The library's floor (``bench.floor``, a bare
Strawberry schema over the baseline's SQL) is measured the same way. Run under
valgrind's callgrind it counts instructions instead, which repeat to within a percent:

    .venv/bin/python -m bench.page_cost
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python -m bench.page_cost --calls 20 --warmup 5

It prints figures and asserts none.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message

from bench import harness
from bench.catalog import PAGE, _body, baseline_app
from bench.floor import floor_app
from pintuan.app import create_app
from pintuan.demo import seed_catalog
from pintuan.settings import Settings

_THREAD_TOTAL = re.compile(r"^\s*Th\s+\d+\s+([\d,]+)\s*$", re.MULTILINE)


def under_callgrind() -> bool:
    return shutil.which("callgrind_control") is not None and "valgrind" in os.environ.get(
        "LD_PRELOAD", ""
    )


def instructions() -> int:
    """Instructions this process (every thread) has executed so far, from callgrind."""
    shown = subprocess.run(
        ["callgrind_control", "-e", "Ir", str(os.getpid())],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    ).stdout
    return sum(int(total.replace(",", "")) for total in _THREAD_TOTAL.findall(shown))


def post(
    app: ASGIApp, body: bytes, headers: Sequence[tuple[bytes, bytes]] = ()
) -> Callable[[], Awaitable[bytes]]:
    """One POST /graphql of ``body`` to ``app`` as an ASGI server would make it."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }

    async def call() -> bytes:
        chunks: list[bytes] = []
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> Message:
            if messages:
                return messages.pop()
            await asyncio.Event().wait()  # the client never disconnects
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(dict(scope), receive, send)
        return b"".join(chunks)

    return call


async def cost(
    app: Any, call: Callable[[], Awaitable[bytes]], args: argparse.Namespace
) -> tuple[float, str]:
    """``per_call`` within the app's lifespan."""
    async with app.router.lifespan_context(app):
        return await per_call(call, args)


async def per_call(
    call: Callable[[], Awaitable[bytes]], args: argparse.Namespace, what: str = "the page"
) -> tuple[float, str]:
    """CPU per call once warm (ms, the best of ``args.batches`` batches of ``args.calls``)
    or, under callgrind, instructions per call (M)."""
    for _ in range(args.warmup):
        answer = await call()
    if b'"errors"' in answer or b'"data"' not in answer:
        raise harness.BenchError(f"{what} failed: {answer[:300]!r}")
    if under_callgrind():
        before = instructions()
        for _ in range(args.calls):
            await call()
        return (instructions() - before) / args.calls / 1e6, "M instructions"
    batches = []
    for _ in range(args.batches):
        started = time.process_time()
        for _ in range(args.calls):
            await call()
        batches.append((time.process_time() - started) / args.calls * 1000)
    return min(batches), "ms CPU"


async def measure(database_url: str, args: argparse.Namespace) -> list[tuple[str, float, str]]:
    body = _body("Page", PAGE, {})
    os.environ["PINTUAN_DATABASE_URL"] = database_url
    settings = Settings(
        database_url=database_url,
        secret_key="page-cost-" + "k" * 40,
        run_scheduler=False,
        rate_limit_ip_per_minute=10**9,
        response_cache=False,  # the cost of executing the page, not of a cached copy
    )
    os.environ["PINTUAN_SECRET_KEY"] = settings.secret_key
    graphql = create_app(settings)
    baseline = baseline_app()
    floor = floor_app()
    ours = await cost(graphql, post(graphql, body), args)
    theirs = await cost(baseline, post(baseline, body), args)
    bare = await cost(floor, post(floor, body), args)
    return [("page: graphql", *ours), ("page: baseline", *theirs), ("page: floor", *bare)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=50, help="per batch")
    parser.add_argument("--batches", type=int, default=5, help="the best one counts")
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pintuan-page-cost-") as tmp:
        database_url = f"sqlite://{Path(tmp) / 'bench.db'}"
        harness.run(harness.fresh_database(database_url, None))

        async def seed() -> None:
            async with harness.Orm(database_url):
                await seed_catalog(args.products)

        harness.run(seed())
        rows = asyncio.run(measure(database_url, args))
    (_, ours, unit), (_, theirs, _), (_, bare, _) = rows
    for name, value, _unit in rows:
        print(f"{name:16} {value:8.2f} {unit}")
    print(f"baseline / graphql: {theirs / ours:.2f}x (the share of the baseline's throughput")
    print("a CPU-bound server would reach; bench.catalog measures the real one)")
    print(f"baseline / floor:   {theirs / bare:.2f}x (a bare Strawberry schema, bench.floor)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

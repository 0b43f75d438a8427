"""Join cost: CPU instructions the server spends per purchase, counted by callgrind.

The question it answers is "did this change make a join cheaper for the server?".
Throughput on a shared machine moves between identical runs, which hides most single
changes; an instruction count does not. The server (one worker, on
PostgreSQL + Redis) runs under valgrind's callgrind, and the count of instructions it
executed is read with ``callgrind_control`` before and after each batch of sequential
requests. PostgreSQL's and Redis's own work is not counted: it happens in their
processes. Each batch is preceded by a warm-up, so caches and prepared statements are
in place. A signed-in ``me`` query, measured in the same run, is the baseline: the cost
of any signed-in GraphQL request (HTTP, access checks, GraphQL), which the purchases
minus the baseline leave out. It prints figures and asserts none.

    .venv/bin/python -m bench.join_cost                  # a few minutes
    .venv/bin/python -m bench.join_cost --requests 100
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    BenchError,
    bearer_headers,
    check_deployment,
    drop,
    fresh_database,
    graphql,
    pintuan,
    seed_offer,
    server_env,
)
from bench.join_contention import JOIN_MUTATION, START_MUTATION
from tests.servers import Server

# Python starts some forty times slower under callgrind.
READY_SECONDS = 600.0
ME = "query { me { id } }"
Headers = dict[str, str]
_THREAD_TOTAL = re.compile(r"^\s*Th\s+\d+\s+([\d,]+)\s*$", re.MULTILINE)


def instructions_so_far(pid: int) -> int:
    """Instructions executed by every thread of the callgrind-run process ``pid``."""
    shown = subprocess.run(
        ["callgrind_control", "-e", "Ir", str(pid)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    ).stdout
    totals = _THREAD_TOTAL.findall(shown)
    if not totals:
        raise BenchError(f"callgrind_control gave no counts for {pid}:\n{shown}")
    return sum(int(total.replace(",", "")) for total in totals)


class Shop:
    """Sequential requests against the server, each checked to have done what it should."""

    def __init__(self, client: httpx.AsyncClient, server: Server, offer_gid: str) -> None:
        self.client = client
        self.url = server.url + "/graphql"
        self.offer_gid = offer_gid
        self.group_id = ""

    async def _paid(
        self, mutation: str, name: str, target: dict[str, str], shopper: Headers
    ) -> Any:
        """One purchase, which must come back paid; returns its payload."""
        purchase = {**target, "idempotencyKey": secrets.token_hex(8), "paymentToken": "tok_x"}
        data = await graphql(self.client, self.url, mutation, {"input": purchase}, shopper)
        payload = data[name]
        if payload["userErrors"] or payload["order"]["status"] != "PAID":
            raise BenchError(f"{name} refused: {payload}")
        return payload

    async def start(self, shopper: Headers) -> None:
        target = {"groupBuyId": self.offer_gid}
        payload = await self._paid(START_MUTATION, "groupStart", target, shopper)
        self.group_id = payload["group"]["id"]

    async def join(self, shopper: Headers) -> None:
        await self._paid(JOIN_MUTATION, "groupJoin", {"groupId": self.group_id}, shopper)

    async def me(self, shopper: Headers) -> None:
        if (await graphql(self.client, self.url, ME, {}, shopper))["me"] is None:
            raise BenchError("me is null for a signed-in shopper")


async def per_request(
    pid: int, send: Callable[[Headers], Awaitable[None]], shoppers: list[Headers]
) -> float:
    """Instructions per request over ``shoppers`` (one request each, one after another)."""
    before = await asyncio.to_thread(instructions_so_far, pid)
    for shopper in shoppers:
        await send(shopper)
    after = await asyncio.to_thread(instructions_so_far, pid)
    return (after - before) / len(shoppers)


async def measure(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    await fresh_database(args.database_url, args.redis_url)
    n, warm = args.requests, args.warmup
    # The joins all go into one group, large enough never to fill.
    seeded = await seed_offer(
        args.database_url,
        shoppers=3 * (n + warm) + 1,
        group_size=1000,
        stock=10**6,
    )
    env = server_env(args.database_url, args.redis_url, scheduler=False)
    env["PYTHONHASHSEED"] = "0"  # the same dict and set layouts on every run
    callgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={workdir / 'cg.%p'}"]
    print("waiting for the server under callgrind (a minute or so) ...", flush=True)
    server = await asyncio.to_thread(
        pintuan, env, args.port, 1, workdir, wrapper=callgrind, within=READY_SECONDS
    )
    try:
        shoppers = bearer_headers(env["PINTUAN_SECRET_KEY"], seeded.shopper_ids)
        pid = server.process.pid
        async with httpx.AsyncClient(timeout=120.0) as client:
            shop = Shop(client, server, seeded.offer_gid)
            kinds = {"me": shop.me, "groupStart": shop.start, "groupJoin": shop.join}
            results = {}
            for name, send in kinds.items():
                batch, shoppers = shoppers[: n + warm], shoppers[n + warm :]
                if name == "groupJoin":
                    await shop.start(shoppers.pop())  # the group everyone joins
                for shopper in batch[:warm]:
                    await send(shopper)
                results[name] = await per_request(pid, send, batch[warm:])
        return results
    finally:
        server.stop()


def report(args: argparse.Namespace, results: dict[str, float]) -> None:
    baseline = results["me"]
    print(
        f"\nserver instructions per request (callgrind, 1 worker, PostgreSQL + Redis, "
        f"{args.requests} sequential requests each after {args.warmup} to warm up)"
    )
    print(f"  {'request':<34}{'M instructions':>16}{'minus baseline':>16}")
    labels = {
        "me": "query { me { id } }  (baseline)",
        "groupStart": "groupStart, paid",
        "groupJoin": "groupJoin, paid",
    }
    for name, label in labels.items():
        extra = "" if name == "me" else f"{(results[name] - baseline) / 1e6:16.2f}"
        print(f"  {label:<34}{results[name] / 1e6:16.2f}{extra}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/pintuan_bench_cost",
        help="a PostgreSQL database of its own: recreated, then dropped",
    )
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/11",
        help="a dedicated Redis database (not 0); it is flushed before and after",
    )
    parser.add_argument("--port", type=int, default=8795)
    parser.add_argument("--requests", type=int, default=50, help="measured requests per kind")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests per kind")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        for tool in ("valgrind", "callgrind_control"):
            if shutil.which(tool) is None:
                raise BenchError(f"{tool} is not installed (Debian: apt-get install valgrind)")
        if args.requests < 1 or args.warmup < 0:
            raise BenchError("--requests must be at least 1 and --warmup at least 0")
        check_deployment(args)
        with tempfile.TemporaryDirectory(prefix="pintuan-bench-") as tmp:
            try:
                results = asyncio.run(measure(args, Path(tmp)))
            finally:
                asyncio.run(drop(args.database_url, args.redis_url))
    except (BenchError, RuntimeError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    report(args, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Join contention: many shoppers racing into a few small groups, then an audit of the books.

The question it answers is "how many group joins a second does the server take when
buyers pile into the same groups, and does the accounting still add up?". Every join
takes conditional holds on the group, the offer and the variant in one transaction;
under contention that is where overfilling or overselling would show. So after the load
it audits the books with ``pintuan.groupbuys.invariants`` and exits non-zero on any inconsistency (a
correctness check, never a timing assertion). Timings are printed, not asserted.

Then, on a server started afresh, the same clients send requests with no purchase in
them for a few seconds each: ``GET /healthz`` and a signed-in ``me`` query. Every join
pays what those pay, so their rates are ceilings that no change to the join can lift.

After each of our runs the same load and audit run against ``join_baseline.py``: the
same purchases written by hand on Starlette and asyncpg, with the same guarantees, on a
fresh database. The ratio of the two is what GraphQL, the ORM and our extras cost.

    .venv/bin/python -m bench.join_contention                 # 2 workers
    .venv/bin/python -m bench.join_contention --workers 1 2   # one run each, fresh database
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from tortoise import Tortoise

from bench.harness import (
    BenchError,
    Cpu,
    Seeded,
    bearer_headers,
    check_deployment,
    closed_loop,
    deployment_options,
    drop,
    fresh_database,
    graphql,
    load_session,
    log_problems,
    percentile,
    pintuan,
    run,
    seed_offer,
    server_env,
    uvicorn_app,
)
from pintuan.core.db import tortoise_config
from pintuan.groupbuys.invariants import RULES, audit_books, stock_on_hand_conserved
from pintuan.groupbuys.order_models import Order, OrderStatus
from tests.servers import Server

GOAL_JOINS_PER_SECOND = 1000.0
PINTUAN = "pintuan"
BASELINE = "baseline"
# Refusals that leave the shopper free to try another group.
RETRYABLE = {"GROUP_FULL", "GROUP_CLOSED"}
PURCHASE_FIELDS = "order { status } group { id slotsLeft status } userErrors { code }"
JOIN_MUTATION = (
    "mutation Join($input: GroupJoinInput!) { groupJoin(input: $input) { "
    + PURCHASE_FIELDS
    + " } }"
)
START_MUTATION = (
    "mutation Start($input: GroupStartInput!) { groupStart(input: $input) { "
    + PURCHASE_FIELDS
    + " } }"
)
ME_BODY = json.dumps({"query": "query Me { me { id } }"})


# --------------------------------------------------------------------------------------
# Load: a closed loop per client over a shared pool of shoppers and open groups.
# --------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the clients saw in one phase (warm-up or measurement)."""

    joins_ok: int = 0
    starts_ok: int = 0
    requests: int = 0
    elapsed: float = 0.0
    join_latencies: list[float] = field(default_factory=list)
    codes: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    # Requests whose outcome is unknown (HTTP/GraphQL/transport errors): they may have
    # committed, so the database may hold more PAID orders than were reported.
    indeterminate: int = 0
    lock_line: str = ""


@dataclass
class Market:
    """State shared by all clients: unused shoppers and the groups believed open.

    One event loop runs every client, so plain containers need no locks.
    """

    url: str
    offer_gid: str
    target_groups: int
    shoppers: deque[dict[str, str]]
    open_groups: list[str] = field(default_factory=list)
    starting: int = 0
    exhausted: bool = False

    def take_shopper(self) -> dict[str, str] | None:
        if not self.shoppers:
            self.exhausted = True
            return None
        return self.shoppers.popleft()

    def forget(self, group_id: str) -> None:
        if group_id in self.open_groups:
            self.open_groups.remove(group_id)


async def _post(
    session: aiohttp.ClientSession, url: str, body: str, headers: dict[str, str]
) -> tuple[int, bytes]:
    async with session.post(url, data=body, headers=headers) as response:
        return response.status, await response.read()


def _purchase(status: int, raw: bytes, name: str, tally: Tally) -> dict[str, Any] | None:
    """The mutation's payload, or None after counting why there is none."""
    if status != 200:
        tally.failures[f"{name}: HTTP {status}"] += 1
        tally.indeterminate += 1
        return None
    body = json.loads(raw)
    if body.get("errors"):
        error = body["errors"][0]
        code = (error.get("extensions") or {}).get("code") or error.get("message", "")[:60]
        tally.failures[f"{name}: GraphQL error {code}"] += 1
        tally.indeterminate += 1
        return None
    payload: dict[str, Any] = body["data"][name]
    return payload


async def start_group(client: aiohttp.ClientSession, market: Market, tally: Tally) -> None:
    """A new group led by a fresh shopper, added to the open list once it exists."""
    shopper = market.take_shopper()
    if shopper is None:
        return
    variables = {
        "input": {
            "groupBuyId": market.offer_gid,
            "idempotencyKey": secrets.token_hex(8),
            "paymentToken": "tok_visa",
        }
    }
    body = json.dumps({"query": START_MUTATION, "variables": variables})
    market.starting += 1
    try:
        tally.requests += 1
        status, raw = await _post(client, market.url, body, shopper)
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.failures[f"groupStart: {type(exc).__name__}"] += 1
        tally.indeterminate += 1
        return
    finally:
        market.starting -= 1
    payload = _purchase(status, raw, "groupStart", tally)
    if payload is None:
        return
    if payload["userErrors"]:
        for error in payload["userErrors"]:
            tally.codes[f"groupStart {error['code']}"] += 1
        return
    tally.starts_ok += 1
    group = payload["group"]
    if group and group["status"] == "OPEN" and group["slotsLeft"] > 0:
        market.open_groups.append(group["id"])


async def join_group(client: aiohttp.ClientSession, market: Market, tally: Tally) -> None:
    """One groupJoin by an unused shopper into a random open group."""
    shopper = market.take_shopper()
    if shopper is None:
        return
    group_id = random.choice(market.open_groups)
    variables = {
        "input": {
            "groupId": group_id,
            "idempotencyKey": secrets.token_hex(8),
            "paymentToken": "tok_visa",
        }
    }
    body = json.dumps({"query": JOIN_MUTATION, "variables": variables})
    started = time.perf_counter()
    try:
        tally.requests += 1
        status, raw = await _post(client, market.url, body, shopper)
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.failures[f"groupJoin: {type(exc).__name__}"] += 1
        tally.indeterminate += 1
        return
    latency = time.perf_counter() - started
    payload = _purchase(status, raw, "groupJoin", tally)
    if payload is None:
        return
    if payload["userErrors"]:
        codes = [error["code"] for error in payload["userErrors"]]
        for code in codes:
            tally.codes[f"groupJoin {code}"] += 1
        if set(codes) <= RETRYABLE:
            market.forget(group_id)
            market.shoppers.append(shopper)  # nothing was kept: the shopper may try again
        return
    order, group = payload["order"], payload["group"]
    if order is None or order["status"] != "PAID":
        tally.codes[f"groupJoin order {order and order['status']}"] += 1
        return
    tally.joins_ok += 1
    tally.join_latencies.append(latency)
    if group is None or group["status"] != "OPEN" or group["slotsLeft"] <= 0:
        market.forget(group_id)


async def client_loop(
    client: aiohttp.ClientSession, market: Market, tally: Tally, deadline: float
) -> None:
    """Keep one request in flight: start a group when too few are open, else join one."""
    while time.perf_counter() < deadline and not market.exhausted:
        if not market.open_groups or (
            len(market.open_groups) + market.starting < market.target_groups
        ):
            await start_group(client, market, tally)
        else:
            await join_group(client, market, tally)


async def drive(
    client: aiohttp.ClientSession, concurrency: int, market: Market, seconds: float
) -> Tally:
    """Run every client until the deadline; the elapsed time includes the last replies."""
    tally = Tally()
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(client_loop(client, market, tally, deadline) for _ in range(concurrency))
    )
    tally.elapsed = time.perf_counter() - started
    return tally


@dataclass(frozen=True)
class Ceiling:
    """The rate one fixed request reaches on the same server with the same clients."""

    name: str
    per_second: float
    failed: int


async def ceilings(
    args: argparse.Namespace, url: str, shoppers: Sequence[dict[str, str]]
) -> list[Ceiling]:
    """What the stack reaches with no purchase in it: the most a join could reach.

    A join goes through the same HTTP stack, middleware, sign-in and GraphQL execution
    as these requests, then does its own work: it cannot be faster. Client ``n`` sends
    as shopper ``n``.
    """

    async def health(_: int) -> bool:
        async with client.get(url + "/healthz") as response:
            await response.read()
            return response.status == 200

    async def me(n: int) -> bool:
        headers = shoppers[n % len(shoppers)]
        async with client.post(url + "/graphql", data=ME_BODY, headers=headers) as response:
            body = await response.read()
            data = json.loads(body).get("data") if response.status == 200 else None
            return bool(data and data["me"])

    kinds = (("GET /healthz (HTTP and middleware)", health), ("signed-in query { me { id } }", me))
    measured = []
    async with load_session(args.concurrency) as client:
        for name, request in kinds:
            await closed_loop(args.concurrency, args.warmup, request)
            load = await closed_loop(args.concurrency, args.ceiling_duration, request)
            measured.append(Ceiling(name, load.rps, load.failures))
    return measured


def measure_ceilings(
    args: argparse.Namespace, env: dict[str, str], workers: int, workdir: Path, seeded: Seeded
) -> list[Ceiling]:
    """The ceilings on a server started afresh on the same database, once the joins'
    figures are taken, so that they count none of these requests."""
    shoppers = bearer_headers(env["PINTUAN_SECRET_KEY"], seeded.shopper_ids[: args.concurrency])
    server = pintuan(env, args.port, workers, workdir)
    try:
        return run(ceilings(args, server.url, shoppers))
    finally:
        server.stop()


async def open_initial_groups(market: Market, count: int) -> None:
    """Pre-open ``count`` groups through the API, checked, before anything is measured."""
    async with httpx.AsyncClient(timeout=30.0) as client:

        async def one() -> str:
            shopper = market.take_shopper()
            if shopper is None:
                raise BenchError("not enough shoppers to open the first groups")
            variables = {
                "input": {
                    "groupBuyId": market.offer_gid,
                    "idempotencyKey": secrets.token_hex(8),
                    "paymentToken": "tok_visa",
                }
            }
            data = await graphql(client, market.url, START_MUTATION, variables, shopper)
            payload = data["groupStart"]
            if payload["userErrors"] or payload["order"]["status"] != "PAID":
                raise BenchError(f"groupStart refused: {payload}")
            group_id: str = payload["group"]["id"]
            return group_id

        market.open_groups.extend(await asyncio.gather(*(one() for _ in range(count))))


class LockSampler:
    """Samples pg_stat_activity of the benchmark database ten times a second.

    Every join updates the same offer and variant rows, so how many server connections
    sit waiting for a lock (rather than running) says whether row contention or CPU
    limits the rate. One query per 100 ms from a separate connection costs little.
    """

    QUERY = (
        "SELECT count(*) FILTER (WHERE state <> 'idle') AS busy, "
        "count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiting, count(*) AS total "
        "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.samples: list[tuple[int, int, int]] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LockSampler:
        import asyncpg

        self._connection = await asyncpg.connect(self.database_url)
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._connection.close()

    async def _run(self) -> None:
        while True:
            row = await self._connection.fetchrow(self.QUERY)
            self.samples.append((row["busy"], row["waiting"], row["total"]))
            await asyncio.sleep(0.1)

    def summary(self) -> str:
        if not self.samples:
            return "n/a"
        n = len(self.samples)
        busy = sum(s[0] for s in self.samples) / n
        waiting = sum(s[1] for s in self.samples) / n
        total = sum(s[2] for s in self.samples) / n
        return (
            f"avg {total:.1f} server connections: {busy:.1f} busy, {waiting:.1f} waiting "
            f"on a lock ({n} samples)"
        )


async def transactions_so_far(database_url: str) -> int:
    """Committed + rolled-back transactions of the database (pg_stat_database).

    Statements outside a transaction count one each, so per request this approximates
    the database round trips the server makes (pool resets included).
    """
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("SELECT pg_stat_clear_snapshot()")
        value = await connection.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()"
        )
    finally:
        await connection.close()
    return int(value)


@dataclass
class RunResult:
    target: str
    workers: int
    tally: Tally
    cpu: str
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    ceilings: list[Ceiling] = field(default_factory=list)
    log_problems: list[str] = field(default_factory=list)
    xacts_per_request: float = 0.0

    @property
    def joins_per_second(self) -> float:
        return self.tally.joins_ok / self.tally.elapsed if self.tally.elapsed else 0.0

    @property
    def requests_per_second(self) -> float:
        return self.tally.requests / self.tally.elapsed if self.tally.elapsed else 0.0


async def load(
    args: argparse.Namespace, server: Server, seeded: Seeded, secret_key: str
) -> tuple[Tally, Tally, str]:
    """Warm up, then measure. Returns (warm-up tally, measured tally, CPU line)."""
    shoppers = deque(bearer_headers(secret_key, seeded.shopper_ids))
    market = Market(server.url + "/graphql", seeded.offer_gid, args.groups, shoppers)
    await open_initial_groups(market, args.groups)
    async with load_session(args.concurrency) as client:
        concurrency = args.concurrency
        warmup = Tally()
        if args.warmup > 0:
            warmup = await drive(client, concurrency, market, args.warmup)
        before = Cpu.sample(server)
        async with LockSampler(args.database_url) as locks:
            measured = await drive(client, concurrency, market, args.duration)
        after = Cpu.sample(server)
    measured.lock_line = locks.summary()
    if market.exhausted:
        print(
            f"warning: ran out of shoppers after {len(seeded.shopper_ids)}; "
            "the measurement ended early (raise --shoppers)"
        )
    return warmup, measured, before.report(after)


# --------------------------------------------------------------------------------------
# Audit: the books must balance whatever the timing.
# --------------------------------------------------------------------------------------


async def audit(
    database_url: str, seeded: Seeded, reported_ok: int, indeterminate: int
) -> list[tuple[str, bool, str]]:
    """The books' invariants, then what only this load promises: (name, passed, detail)."""
    await Tortoise.init(config=tortoise_config(database_url))
    try:
        violations = await audit_books({seeded.variant_id: seeded.initial_on_hand})
        paid_orders = await Order.filter(status=OrderStatus.PAID).count()
        others = await Order.exclude(
            status__in=[OrderStatus.PAID, OrderStatus.PENDING_PAYMENT]
        ).count()
    finally:
        await Tortoise.close_connections()
    broken = Counter(v.rule for v in violations)
    checks = [
        (
            rule.__name__,
            not broken[rule.__name__],
            "; ".join([v.detail for v in violations if v.rule == rule.__name__][:5]),
        )
        for rule in (*RULES, stock_on_hand_conserved)
    ]
    checks.append(
        (
            "PAID orders in the database == successes the clients were told of",
            reported_ok <= paid_orders <= reported_ok + indeterminate,
            f"{paid_orders} in the database, {reported_ok} reported, "
            f"{indeterminate} with unknown outcome",
        )
    )
    checks.append(
        (
            "no order was cancelled or refunded (every payment used tok_visa)",
            others == 0,
            f"{others} such orders",
        )
    )
    return checks


# --------------------------------------------------------------------------------------
# One run per worker count.
# --------------------------------------------------------------------------------------


async def prepare(args: argparse.Namespace) -> Seeded:
    await fresh_database(args.database_url, args.redis_url)
    return await seed_offer(
        args.database_url, shoppers=args.shoppers, group_size=args.group_size, stock=args.stock
    )


def run_once(args: argparse.Namespace, workers: int, workdir: Path, target: str) -> RunResult:
    started = time.perf_counter()
    seeded = asyncio.run(prepare(args))
    print(
        f"\n== {target}, {workers} worker(s): database seeded with "
        f"{len(seeded.shopper_ids)} shoppers in {time.perf_counter() - started:.1f}s"
    )
    env = server_env(args.database_url, args.redis_url)
    server: Server | None = None
    xacts_before = asyncio.run(transactions_so_far(args.database_url))
    try:
        if target == BASELINE:
            server = uvicorn_app("bench.join_baseline:app", env, args.port, workers, workdir)
        else:
            server = pintuan(env, args.port, workers, workdir, profile=args.profile_server)
        warmup, tally, cpu = run(load(args, server, seeded, env["PINTUAN_SECRET_KEY"]))
    finally:
        if server is not None:
            server.stop()  # every in-flight transaction is over before the audit
    time.sleep(1.0)  # backends report their statistics within a second of exiting
    xacts = asyncio.run(transactions_so_far(args.database_url)) - xacts_before
    requests = warmup.requests + tally.requests + args.groups
    result = RunResult(target, workers, tally, cpu)
    result.xacts_per_request = xacts / requests if requests else 0.0
    result.log_problems = log_problems(server) if server else []
    reported = warmup.joins_ok + warmup.starts_ok + tally.joins_ok + tally.starts_ok
    reported += args.groups  # the pre-opened groups' leaders
    unknown = warmup.indeterminate + tally.indeterminate
    result.checks = asyncio.run(audit(args.database_url, seeded, reported, unknown))
    if args.ceiling_duration > 0 and target != BASELINE:
        result.ceilings = measure_ceilings(args, env, workers, workdir, seeded)
    report(args, result, warmup)
    return result


def report(args: argparse.Namespace, result: RunResult, warmup: Tally) -> None:
    t = result.tally
    print(
        f"join contention, {result.target}, postgresql + redis, {result.workers} worker(s), "
        f"concurrency {args.concurrency}, {args.groups} groups of {args.group_size} kept open, "
        f"{args.duration:g}s after {args.warmup:g}s warm-up"
    )
    print(f"  successful joins/s     {result.joins_per_second:9.1f}   ({t.joins_ok} joins)")
    print(f"  groups started/s       {t.starts_ok / t.elapsed if t.elapsed else 0:9.1f}")
    print(f"  requests/s (all)       {result.requests_per_second:9.1f}   ({t.requests} requests)")
    print(
        f"  join latency (ok) ms   p50 {percentile(t.join_latencies, 0.5) * 1000:.1f}  "
        f"p99 {percentile(t.join_latencies, 0.99) * 1000:.1f}  "
        f"max {percentile(t.join_latencies, 1.0) * 1000:.1f}"
    )
    codes = ", ".join(f"{k}: {v}" for k, v in sorted(t.codes.items())) or "none"
    print(f"  userErrors             {codes}")
    failures = ", ".join(f"{k}: {v}" for k, v in sorted((t.failures + warmup.failures).items()))
    print(f"  failed requests        {failures or 'none'} (warm-up included)")
    print(f"  CPU (core-s per s)     {result.cpu}")
    print(f"  postgres activity      {t.lock_line}")
    print(
        f"  postgres transactions  {result.xacts_per_request:.1f} per request "
        "(whole run; a statement outside a transaction counts as one)"
    )
    verdict = "met" if result.joins_per_second >= GOAL_JOINS_PER_SECOND else "NOT met"
    print(f"  goal >= {GOAL_JOINS_PER_SECOND:,.0f} successful joins/s: {verdict}")
    if result.ceilings:
        print(
            f"  ceilings: server restarted, the same clients, {args.ceiling_duration:g}s each "
            f"after {args.warmup:g}s warm-up"
        )
    for limit in result.ceilings:
        failed = f"   ({limit.failed} failed)" if limit.failed else ""
        print(f"    {limit.name:36} {limit.per_second:9.1f} requests/s{failed}")
    lowest = min((c.per_second for c in result.ceilings), default=0.0)
    if lowest > 0:
        print(
            f"    joins/s are {result.joins_per_second / lowest:.2f}x the lowest ceiling; "
            f"the goal is {GOAL_JOINS_PER_SECOND / lowest:.2f}x it"
        )
    print("  audit of the database:")
    for name, passed, detail in result.checks:
        print(f"    {'PASS' if passed else '!!! FAIL'}  {name}  [{detail}]")
    if result.log_problems:
        print(f"  !!! server log has {len(result.log_problems)} error line(s); first ones:")
        for line in result.log_problems[:8]:
            print(f"    {line[:200]}")


def bench(args: argparse.Namespace) -> int:
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix="pintuan-bench-") as tmp:
        try:
            for workers in args.workers:
                for target in (PINTUAN, BASELINE) if args.baseline else (PINTUAN,):
                    results.append(run_once(args, workers, Path(tmp), target))
        except (BenchError, RuntimeError) as exc:
            print(f"bench failed: {exc}", file=sys.stderr)
            return 1
        finally:
            if not args.keep_database:
                asyncio.run(drop(args.database_url, args.redis_url))
    print("\nsummary: target, workers, joins/s, requests/s, join p50/p99 ms, ceilings requests/s")
    for r in results:
        lat = r.tally.join_latencies
        limits = "  ".join(f"{c.per_second:8.1f}" for c in r.ceilings)
        print(
            f"  {r.target:9} {r.workers}  {r.joins_per_second:8.1f}  "
            f"{r.requests_per_second:8.1f}  "
            f"{percentile(lat, 0.5) * 1000:6.1f} / {percentile(lat, 0.99) * 1000:6.1f}  {limits}"
        )
    for ours, baseline in pairwise(results):
        if (ours.target, baseline.target) == (PINTUAN, BASELINE) and baseline.joins_per_second:
            ratio = ours.joins_per_second / baseline.joins_per_second
            print(f"  joins/s, {ours.workers} worker(s): pintuan/baseline {ratio:.2f}x")
    failed = [
        (f"{r.target}, {r.workers}", name, detail)
        for r in results
        for name, passed, detail in r.checks
        if not passed
    ]
    if failed:
        print("\n!!! CORRECTNESS FAILURES (bugs, not timing):", file=sys.stderr)
        for run, name, detail in failed:
            print(f"!!!   [{run} worker(s)] {name}: {detail}", file=sys.stderr)
        return 3
    print("\nall audit checks passed")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    deployment_options(parser, database="pintuan_bench_join", redis_db=13, port=8775, workers=2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--groups", type=int, default=32, help="open groups kept available")
    parser.add_argument("--group-size", type=int, default=5)
    parser.add_argument(
        "--shoppers", type=int, default=40_000, help="users; each buys at most once"
    )
    parser.add_argument("--stock", type=int, default=10_000_000, help="variant and offer stock")
    parser.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="skip the hand-written baseline (join_baseline.py) run after each of ours",
    )
    parser.add_argument(
        "--ceiling-duration",
        type=float,
        default=5.0,
        help="seconds of each request with no purchase in it, after the joins (0: none)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_deployment(args)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 2
    return bench(args)


if __name__ == "__main__":
    raise SystemExit(main())

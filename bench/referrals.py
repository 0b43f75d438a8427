"""Referral tree reads: a team's summary and a leaf's upline over HTTP, against ``me { id }``.

The question it answers is "do ancestor columns and per-level counters keep tree reads
as cheap as the cheapest signed-in request, whatever the team's size?". It seeds a tree
with a heavy-tailed fan-out (each user's inviter drawn towards the earliest users, so
the first have thousands of direct invitees and chains run many levels deep), its
nodes and counters as the outbox consumer would have left them, then loads one server
with closed-loop clients: ``teamSummary(depth: 3)`` as the 20 largest teams' owners,
``upline(depth: 3)`` as leaves, and ``{ me { id } }`` in the same run as the reference.

Then the outbox's lag under load: on the same database, a server whose outbox consumer
runs takes ``join_contention``'s load (shoppers piling into small groups), and a poller
sees each outbox event (every paid order emits one) become delivered, that is, its
delivery committed: the lag is that moment less the event's creation, within the
poller's 20 ms. The same-run reference is the join's own latency (what the buyer
waited for the order the event reports). It prints figures and asserts none.

    .venv/bin/python -m bench.referrals --database-url postgres://.../db --users 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from bench import harness, join_contention
from pintuan.settings import Settings
from tests.servers import Server, spawn

ME = '{"query": "{ me { id } }"}'
SUMMARY = '{"query": "{ me { teamSummary(depth: 3) { level members sales } } }"}'
UPLINE = '{"query": "{ me { upline(depth: 3) { id } } }"}'
DEPTH = 3
BATCH = 50_000
LAG_POLL_SECONDS = 0.02
LAG_GOAL_SECONDS = 1.0
TREE_GOAL_RATIO = 2.0
DRAIN_SECONDS = 30.0


def tree(users: int, seed: int) -> list[int]:
    """Each user's inviter's index (-1 for the first): drawn as ``i * u**3``, so early
    users collect most invitees and the tail of the tree runs deep."""
    rng = random.Random(seed)
    return [-1] + [int(i * rng.random() ** 3) for i in range(1, users)]


async def seed(database_url: str, users: int, seed_value: int) -> tuple[list[int], int]:
    """The users, nodes and counters; returns the parents and the deepest level."""
    parents = tree(users, seed_value)
    rng = random.Random(seed_value + 1)
    own_sales = [rng.choice((0, 0, 0, 800, 1600, 5000)) for _ in range(users)]
    depth = [0] * users
    members: Counter[tuple[int, int]] = Counter()
    sales: Counter[tuple[int, int]] = Counter()
    ancestors: list[tuple[int | None, int | None, int | None]] = []
    for i, parent in enumerate(parents):
        chain: list[int] = []
        above = parent
        while above >= 0 and len(chain) < DEPTH:
            chain.append(above + 1)
            above = parents[above]
        depth[i] = depth[parent] + 1 if parent >= 0 else 0
        for level, ancestor in enumerate(chain, 1):
            members[(ancestor, level)] += 1
            sales[(ancestor, level)] += own_sales[i]
        if own_sales[i]:
            sales[(i + 1, 0)] += own_sales[i]
        padded: list[int | None] = [*chain, None, None, None]
        ancestors.append((padded[0], padded[1], padded[2]))
    now = datetime.now(UTC)
    connection = await asyncpg.connect(database_url)
    try:
        for start in range(0, users, BATCH):
            rows = range(start, min(users, start + BATCH))
            await connection.copy_records_to_table(
                "app_user",
                columns=[
                    "id",
                    "email",
                    "password_hash",
                    "handle",
                    "display_name",
                    "invite_code",
                    "inviter_id",
                    "is_admin",
                    "created_at",
                ],
                records=[
                    (
                        i + 1,
                        f"u{i}@bench.example",
                        harness.PASSWORD_HASH,
                        f"u-{i}",
                        f"U {i}",
                        f"B{i:09d}",
                        parents[i] + 1 if parents[i] >= 0 else None,
                        False,
                        now,
                    )
                    for i in rows
                ],
            )
            await connection.copy_records_to_table(
                "referral_node",
                columns=["id", "user_id", "ancestor_1_id", "ancestor_2_id", "ancestor_3_id"],
                records=[(i + 1, i + 1, *ancestors[i]) for i in rows],
            )
        keys = sorted(set(members) | set(sales))
        await connection.copy_records_to_table(
            "team_counter",
            columns=["ancestor_id", "level", "members", "sales"],
            records=[(a, level, members[(a, level)], sales[(a, level)]) for a, level in keys],
        )
        await connection.execute(
            "SELECT setval(pg_get_serial_sequence('app_user', 'id'), $1)", users
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return parents, max(depth)


def largest_teams(parents: list[int], count: int) -> list[int]:
    """User ids of the ``count`` users with the most members within three levels."""
    team: Counter[int] = Counter()
    for parent in parents:
        above, level = parent, 0
        while above >= 0 and level < DEPTH:
            team[above + 1] += 1
            above, level = parents[above], level + 1
    return [user for user, _ in team.most_common(count)]


def leaves(parents: list[int], count: int, seed_value: int) -> list[int]:
    inviters = set(parents)
    childless = [i + 1 for i in range(len(parents)) if i not in inviters]
    return random.Random(seed_value).sample(childless, min(count, len(childless)))


async def measure(
    name: str, server: Server, body: str, headers: list[dict[str, str]], args: argparse.Namespace
) -> harness.Row:
    row = harness.Row(name, harness.Load(), 0.0)
    url = server.url + "/graphql"
    callers = itertools.cycle(headers)
    async with harness.load_session(args.concurrency) as session:

        async def request(_: int) -> bool:
            async with session.post(url, data=body, headers=next(callers)) as response:
                answer = await response.read()
            return response.status == 200 and b'"errors"' not in answer

        await harness.closed_loop(args.concurrency, args.warmup, request)
        before = harness.tree_cpu(server.process.pid)
        row.load = await harness.closed_loop(args.concurrency, args.duration, request)
        row.server_cpu = harness.tree_cpu(server.process.pid) - before
    return row


@dataclass
class LagWatch:
    """Sees outbox events become delivered by polling the database, and keeps their lag.

    An event counts once its ``delivered_at`` is visible, i.e. its delivery committed;
    its lag is when the poller first saw that, less its ``created_at`` (set by the
    server inside the order's transaction). Only events created from ``since`` count.
    """

    database_url: str
    since: datetime = field(default_factory=lambda: datetime.now(UTC))
    lags: dict[int, float] = field(default_factory=dict)
    undelivered: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set and then until the outbox drains (bounded)."""
        connection = await asyncpg.connect(self.database_url)
        try:
            floor = int(
                await connection.fetchval('SELECT COALESCE(MAX("id"), 0) FROM "outbox_event"')
            )
            drain_until: float | None = None
            while True:
                floor = await self._poll(connection, floor)
                if stop.is_set():
                    drain_until = drain_until or time.monotonic() + DRAIN_SECONDS
                    self.undelivered = int(
                        await connection.fetchval(
                            'SELECT COUNT(*) FROM "outbox_event" WHERE "delivered_at" IS NULL'
                        )
                    )
                    if not self.undelivered or time.monotonic() > drain_until:
                        return
                await asyncio.sleep(LAG_POLL_SECONDS)
        finally:
            await connection.close()

    async def _poll(self, connection: asyncpg.Connection, floor: int) -> int:
        """Record newly delivered events above ``floor``; returns the next floor (below
        the oldest event still undelivered, so a late delivery is still seen)."""
        rows = await connection.fetch(
            'SELECT "id", "created_at", "delivered_at" IS NOT NULL AS "done" '
            'FROM "outbox_event" WHERE "id" > $1 ORDER BY "id"',
            floor,
        )
        seen_at = datetime.now(UTC)
        waiting = [row["id"] for row in rows if not row["done"]]
        for row in rows:
            if row["done"] and row["id"] not in self.lags and row["created_at"] >= self.since:
                self.lags[row["id"]] = (seen_at - row["created_at"]).total_seconds()
        if waiting:
            return int(waiting[0]) - 1
        return int(rows[-1]["id"]) if rows else floor


async def consuming(database_url: str, within: float = 60.0) -> None:
    """Until a consumer runs: a probe event of a topic no handler takes is delivered at
    once by any consumer (a worker has no readiness probe, and starts slowly on a busy
    machine: without this its start-up would count as lag)."""
    connection = await asyncpg.connect(database_url)
    try:
        probe = await connection.fetchval(
            'INSERT INTO "outbox_event" ("topic", "payload", "created_at", "available_at", '
            "\"attempts\") VALUES ('bench.probe', '{}', now(), now(), 0) RETURNING \"id\""
        )
        deadline = time.monotonic() + within
        while not await connection.fetchval(
            'SELECT "delivered_at" IS NOT NULL FROM "outbox_event" WHERE "id" = $1', probe
        ):
            if time.monotonic() > deadline:
                raise harness.BenchError(f"no outbox consumer ran within {within:.0f}s")
            await asyncio.sleep(LAG_POLL_SECONDS)
    finally:
        await connection.close()


@dataclass
class LagResult:
    watch: LagWatch
    tally: join_contention.Tally
    workers: int


async def lag_under_load(
    args: argparse.Namespace, server: Server, seeded: harness.Seeded, secret_key: str
) -> tuple[LagWatch, join_contention.Tally]:
    """join_contention's load on ``server`` while a LagWatch polls the outbox."""
    load_args = argparse.Namespace(
        groups=args.groups,
        concurrency=args.join_concurrency,
        warmup=args.warmup,
        duration=args.join_duration,
        database_url=args.database_url,
    )
    await consuming(args.database_url)
    # Events of the warm-up are left out: the measured window starts after it.
    watch = LagWatch(args.database_url, datetime.now(UTC) + timedelta(seconds=args.warmup))
    stop = asyncio.Event()
    watching = asyncio.create_task(watch.run(stop))
    try:
        _, tally, _ = await join_contention.load(load_args, server, seeded, secret_key)
    finally:
        stop.set()
        await watching
    return watch, tally


def measure_lag(args: argparse.Namespace, workdir: Path) -> LagResult:
    seeded = harness.run(
        harness.seed_offer(
            args.database_url, shoppers=args.shoppers, group_size=args.group_size, stock=10**7
        )
    )
    env = harness.server_env(args.database_url, args.redis_url, scheduler=False)
    in_server = args.consumer == "server"
    env["PINTUAN_RUN_OUTBOX_CONSUMER"] = "true" if in_server else "false"
    if args.outbox_consumers is not None:
        env["PINTUAN_OUTBOX_CONSUMERS"] = str(args.outbox_consumers)
    workers = args.workers[0]
    server = harness.pintuan(env, args.port + 1, workers, workdir)
    consumer: Server | None = None
    if not in_server:  # the deployment the README suggests: consumers apart from serving
        worker_env = env | {"PINTUAN_RUN_OUTBOX_CONSUMER": "true"}
        command = [sys.executable, "-m", "pintuan.cli", "worker"]
        consumer = spawn(command, worker_env, 0, workdir / "worker.log")
    try:
        watch, tally = harness.run(lag_under_load(args, server, seeded, env["PINTUAN_SECRET_KEY"]))
    finally:
        server.stop()
        if consumer is not None:
            consumer.stop()
            for line in harness.log_problems(consumer)[:8]:
                print(f"worker log: {line[:200]}")
        for line in harness.log_problems(server)[:8]:
            print(f"server log: {line[:200]}")
    return LagResult(watch, tally, workers)


def lag_report(args: argparse.Namespace, result: LagResult) -> str:
    lags = list(result.watch.lags.values())
    joins = result.tally.join_latencies
    tally = result.tally
    rate = (tally.joins_ok + tally.starts_ok) / tally.elapsed if tally.elapsed else 0.0
    p99 = harness.percentile(lags, 0.99)
    verdict = "met" if p99 < LAG_GOAL_SECONDS else "NOT met"
    join_p99 = harness.percentile(joins, 0.99)
    return "\n".join(
        [
            f"\noutbox lag under join_contention's load, {result.workers} server worker(s), "
            f"consumer in the {args.consumer} "
            f"({args.outbox_consumers or Settings().outbox_consumers} at once), "
            f"{args.join_concurrency} clients, "
            f"{args.join_duration:g}s after "
            f"{args.warmup:g}s warm-up: {rate:.1f} paid orders/s",
            f"  outbox lag  p50 {harness.ms(lags, 0.5):8.1f} ms   p99 {p99 * 1000:8.1f} ms"
            f"   over {len(lags)} events (goal p99 < {LAG_GOAL_SECONDS * 1000:.0f} ms: "
            f"{verdict}); {result.watch.undelivered} still undelivered after the drain",
            f"  reference, same run: join latency p50 {harness.ms(joins, 0.5):8.1f} ms   "
            f"p99 {join_p99 * 1000:8.1f} ms; lag p99 / join p99 = {p99 / join_p99:.2f}x",
        ]
    )


def bench(
    args: argparse.Namespace, workdir: Path
) -> tuple[list[tuple[str, list[tuple[harness.Row, harness.Row]]]], LagResult | None]:
    harness.run(harness.fresh_database(args.database_url, args.redis_url))
    parents, deepest = harness.run(seed(args.database_url, args.users, args.seed))
    top = largest_teams(parents, 20)
    direct = Counter(parents)
    print(
        f"tree ready: {args.users} users, deepest level {deepest}, the top user has "
        f"{direct[top[0] - 1]} direct invitees"
    )
    try:
        rows = (
            []
            if args.lag_only
            else [(cache, tree_reads(args, workdir, parents, top, cache)) for cache in args.cache]
        )
        lag = measure_lag(args, workdir) if args.join_duration > 0 else None
        return rows, lag
    finally:
        if not args.keep_database:
            harness.run(harness.drop(args.database_url, args.redis_url))


def tree_reads(
    args: argparse.Namespace, workdir: Path, parents: list[int], top: list[int], cache: str
) -> list[tuple[harness.Row, harness.Row]]:
    env = harness.server_env(args.database_url, args.redis_url, scheduler=False)
    env["PINTUAN_RUN_OUTBOX_CONSUMER"] = "false"
    env["PINTUAN_RESPONSE_CACHE"] = "true" if cache == "on" else "false"
    key = env["PINTUAN_SECRET_KEY"]
    owners = harness.bearer_headers(key, top)
    leaf_headers = harness.bearer_headers(key, leaves(parents, 200, args.seed))
    server = harness.pintuan(env, args.port, 1, workdir)
    try:
        me = harness.run(measure("me { id }", server, ME, owners + leaf_headers, args))
        summary = harness.run(
            measure("teamSummary(depth: 3), top 20", server, SUMMARY, owners, args)
        )
        upline = harness.run(
            measure("upline(depth: 3), leaves", server, UPLINE, leaf_headers, args)
        )
        return [(me, me), (summary, me), (upline, me)]
    finally:
        server.stop()
        for line in harness.log_problems(server)[:8]:
            print(f"server log: {line[:200]}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.deployment_options(
        parser, database="pintuan_bench_referrals", redis_db=13, port=8791, workers=1
    )
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per row")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--cache",
        nargs="+",
        choices=["off", "on"],
        default=["off", "on"],
        help="the response cache of the server reading the tree (one server each)",
    )
    lag = parser.add_argument_group("outbox lag under join_contention's load")
    lag.add_argument(
        "--join-duration", type=float, default=10.0, help="measured seconds (0: skip the lag)"
    )
    lag.add_argument("--join-concurrency", type=int, default=64)
    lag.add_argument("--groups", type=int, default=32, help="open groups kept available")
    lag.add_argument("--group-size", type=int, default=5)
    lag.add_argument("--shoppers", type=int, default=40_000, help="each buys at most once")
    lag.add_argument("--lag-only", action="store_true", help="skip the tree reads")
    lag.add_argument(
        "--consumer",
        choices=["server", "worker"],
        default="server",
        help="run the outbox consumer inside the server, or in a `pintuan worker` of its own",
    )
    lag.add_argument(
        "--outbox-consumers",
        type=int,
        default=None,
        help="deliveries at once in the consuming process (default: the setting's)",
    )
    args = parser.parse_args(argv)
    try:
        harness.check_deployment(args)
        with tempfile.TemporaryDirectory(prefix="pintuan-bench-") as tmp:
            rows, lag_result = bench(args, Path(tmp))
    except (harness.BenchError, RuntimeError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    for cache, table in rows:
        print(
            f"\nreferrals, postgresql + redis, response cache {cache}, {args.users} users, "
            f"1 worker, concurrency {args.concurrency}, {args.duration:g}s per row after "
            f"{args.warmup:g}s warm-up; ratio: req/s against me {{ id }}"
        )
        print(harness.table(table))
        me = table[0][0]
        print(harness.p99_against([row for row, _ in table[1:]], me, TREE_GOAL_RATIO))
    if lag_result is not None:
        print(lag_report(args, lag_result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

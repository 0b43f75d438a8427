"""Referral tree reads: a team's summary and a leaf's upline over HTTP, against ``me { id }``.

The question it answers is "do ancestor columns and per-level counters keep tree reads
as cheap as the cheapest signed-in request, whatever the team's size?". It seeds a tree
with a heavy-tailed fan-out (each user's inviter drawn towards the earliest users, so
the first have thousands of direct invitees and chains run many levels deep), its
nodes and counters as the outbox consumer would have left them, then loads one server
with closed-loop clients: ``teamSummary(depth: 3)`` as the 20 largest teams' owners,
``upline(depth: 3)`` as leaves, and ``{ me { id } }`` in the same run as the reference.
It prints figures and asserts none.

    .venv/bin/python -m bench.referrals --database-url postgres://.../db --users 1000000
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench import harness
from tests.servers import Server

ME = '{"query": "{ me { id } }"}'
SUMMARY = '{"query": "{ me { teamSummary(depth: 3) { level members sales } } }"}'
UPLINE = '{"query": "{ me { upline(depth: 3) { id } } }"}'
DEPTH = 3
BATCH = 50_000


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


def bench(args: argparse.Namespace, workdir: Path) -> list[tuple[harness.Row, harness.Row]]:
    harness.run(harness.fresh_database(args.database_url, args.redis_url))
    parents, deepest = harness.run(seed(args.database_url, args.users, args.seed))
    top = largest_teams(parents, 20)
    direct = Counter(parents)
    print(
        f"tree ready: {args.users} users, deepest level {deepest}, the top user has "
        f"{direct[top[0] - 1]} direct invitees"
    )
    env = harness.server_env(args.database_url, args.redis_url, scheduler=False)
    env["PINTUAN_RUN_OUTBOX_CONSUMER"] = "false"
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
        if not args.keep_database:
            harness.run(harness.drop(args.database_url, args.redis_url))


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
    args = parser.parse_args(argv)
    try:
        harness.check_deployment(args)
        with tempfile.TemporaryDirectory(prefix="pintuan-bench-") as tmp:
            rows = bench(args, Path(tmp))
    except (harness.BenchError, RuntimeError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"\nreferrals, postgresql + redis, {args.users} users, 1 worker, concurrency "
        f"{args.concurrency}, {args.duration:g}s per row after {args.warmup:g}s warm-up; "
        "ratio: req/s against me { id }"
    )
    print(harness.table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

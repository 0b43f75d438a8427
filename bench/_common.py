"""Set-up shared by the group-buy benchmarks (join_contention.py, fanout.py).

Both need what catalog.py's helpers do not give: one ACTIVE offer with many shoppers,
access tokens the server accepts, rate limits out of the way, a Redis database of their
own, and a CPU account of every busy process, because on a small machine the server
shares its cores with PostgreSQL, Redis and the load generator.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import secrets
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from catalog import (
    READY_TIMEOUT_SECONDS,
    BenchError,
    Server,
    is_postgres,
    pintuan_command,
    postgres_target,
    server_env,
    start_server,
    tree_cpu_seconds,
    wait_ready,
)

from pintuan.accounts.tokens import issue_access_token, new_session_id
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.settings import Settings

JSON_HEADERS = {"content-type": "application/json"}
# Generous enough that no benchmark request is ever refused for its rate.
UNLIMITED_PER_MINUTE = "1000000000"
# Any string will do: the benchmarks never sign in with a password, they mint tokens.
PASSWORD_HASH = "$argon2id$bench-not-a-real-hash"
# ``pintuan serve`` under cProfile. uvicorn re-raises SIGTERM after a graceful shutdown
# through the handler that was installed before it, so the stats are written from there.
PROFILED_SERVE = """
import cProfile, signal, sys
from pintuan.cli import main
profile = cProfile.Profile()
def finish(*_):
    profile.disable()
    profile.dump_stats(sys.argv[1])
    sys.exit(0)
signal.signal(signal.SIGTERM, finish)
profile.enable()
try:
    main(sys.argv[2:])
finally:
    finish()
"""


# --------------------------------------------------------------------------------------
# Environment: file descriptors, Redis, the server process.
# --------------------------------------------------------------------------------------


def raise_fd_limit(wanted: int) -> int:
    """Lift the soft open-files limit towards ``wanted`` (capped by the hard limit).

    Children inherit it, so raising it before the server starts covers both ends of
    every WebSocket. Returns the soft limit now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return int(soft)


def check_redis_url(url: str) -> None:
    """The benchmark flushes its Redis database, so database 0 (the default) is refused.

    Group mirrors and deadlines are keyed by database ids, so a leftover from an earlier
    run (or another app) would be read as this run's state: a fresh database is needed.
    """
    path = urlsplit(url).path.strip("/")
    if not path.isdigit() or int(path) == 0:
        raise BenchError(
            f"refusing to flush Redis {url!r}: name a dedicated database other than 0, "
            "e.g. redis://127.0.0.1:6379/13"
        )


async def flush_redis(url: str) -> None:
    from redis.asyncio import Redis

    check_redis_url(url)
    client: Redis = Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


def bench_env(database_url: str, redis_url: str, *, scheduler: bool) -> dict[str, str]:
    """catalog.py's server environment, with rate limits lifted and the scheduler chosen.

    Signed-in users are bucketed per user with the IP limit, so both limits are lifted.
    """
    env = server_env(database_url, redis_url)
    env.update(
        PINTUAN_RATE_LIMIT_IP_PER_MINUTE=UNLIMITED_PER_MINUTE,
        PINTUAN_RATE_LIMIT_KEY_PER_MINUTE=UNLIMITED_PER_MINUTE,
        PINTUAN_RUN_SCHEDULER="true" if scheduler else "false",
    )
    return env


async def launch(
    env: dict[str, str],
    port: int,
    workers: int,
    workdir: Path,
    *,
    profile: Path | None = None,
    name: str = "pintuan",
) -> Server:
    """``pintuan serve`` in its own session; returns once /readyz answers 200.

    With ``profile`` (one worker only: uvicorn then serves in-process) the server runs
    under cProfile, which writes its statistics there when the server shuts down.
    """
    serve = ["serve", "--port", str(port), "--workers", str(workers)]
    command = [*pintuan_command(), *serve]
    if profile is not None:
        if workers != 1:
            raise BenchError("profiling needs a single worker")
        command = [sys.executable, "-c", PROFILED_SERVE, str(profile), *serve]
    return await start_ready(name, command, env, port, workdir)


async def start_ready(
    name: str,
    command: list[str],
    env: dict[str, str],
    port: int,
    workdir: Path,
    within: float = READY_TIMEOUT_SECONDS,
) -> Server:
    """``command`` as a server in its own session; returns once /readyz answers 200."""
    server = start_server(name, command, env, port, workdir)
    try:
        await wait_ready(server, within)
    except BaseException:
        server.stop()
        raise
    return server


def server_log_problems(server: Server) -> list[str]:
    """Lines of the server log that report errors (tracebacks, 500s, ERROR records)."""
    try:
        text = server.log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    needles = ("Traceback", "ERROR", "Exception", "deadlock")
    return [line for line in text.splitlines() if any(n in line for n in needles)]


# --------------------------------------------------------------------------------------
# Seeding: one offer and its shoppers, straight through the ORM.
# --------------------------------------------------------------------------------------


async def isolate_channels(connection: Any) -> None:
    """Start offer and group ids at a random offset far from other databases' ids.

    Live events travel on Redis pub/sub channels named ``group:<id>`` and
    ``offer:<id>``, and pub/sub ignores the Redis database number: every process on the
    same Redis server shares the channels. Small ids would make this run hear other
    runs' (or test suites') events and make them hear ours.
    """
    base = secrets.randbelow(1_000_000_000) + 1_000_000_000
    for table in ("group_buy", "buy_group"):
        await connection.execute_script(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {base})"
        )


@dataclass(frozen=True)
class Seeded:
    offer_id: int
    variant_id: int
    initial_on_hand: int
    group_size: int
    shopper_ids: list[int]

    @property
    def offer_gid(self) -> str:
        return to_global_id(NodeType.GROUP_BUY, self.offer_id)


async def seed_offer(
    database_url: str,
    *,
    shoppers: int,
    group_size: int,
    stock: int,
    stock_limit: int,
    per_user_limit: int = 1,
    duration_seconds: int = 3600,
) -> Seeded:
    """A merchant, one ACTIVE product and variant, an ACTIVE offer, ``shoppers`` users.

    Users are bulk-inserted with a placeholder password hash: hashing thousands of
    passwords with Argon2 would take minutes and the benchmarks use minted tokens.
    """
    from tortoise import Tortoise, connections

    from pintuan.accounts.models import Merchant, User
    from pintuan.catalog.models import Product, ProductStatus, Variant
    from pintuan.core.db import tortoise_config
    from pintuan.groupbuys.models import GroupBuy

    await Tortoise.init(config=tortoise_config(database_url))
    try:
        await isolate_channels(connections.get("default"))
        merchant = await Merchant.create(handle="bench-merchant", name="Bench Merchant")
        product = await Product.create(
            merchant=merchant,
            handle="bench-product",
            title="Bench Product",
            status=ProductStatus.ACTIVE,
            price_min=1000,
            price_max=1000,
        )
        variant = await Variant.create(
            product=product,
            sku="bench-sku",
            title="Default",
            price_amount=1000,
            currency="CNY",
            stock_on_hand=stock,
        )
        now = datetime.now(UTC)
        offer = await GroupBuy.create(
            merchant=merchant,
            product=product,
            variant=variant,
            solo_price=1000,
            group_price=800,
            currency="CNY",
            group_size=group_size,
            duration_seconds=duration_seconds,
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=1),
            per_user_limit=per_user_limit,
            stock_limit=stock_limit,
        )
        users = [
            User(
                email=f"shopper{i}@bench.example",
                password_hash=PASSWORD_HASH,
                handle=f"shopper-{i}",
                display_name=f"Shopper {i}",
                invite_code=f"B{i:010d}",
            )
            for i in range(shoppers)
        ]
        await User.bulk_create(users, batch_size=2000)
        ids = await User.filter(email__endswith="@bench.example").order_by("id")
        await connections.get("default").execute_script("ANALYZE")
        return Seeded(offer.id, variant.id, stock, group_size, [u.id for u in ids])
    finally:
        await Tortoise.close_connections()


def bearer_headers(secret_key: str, user_ids: Iterable[int]) -> list[dict[str, str]]:
    """Request headers with a fresh access token per user, signed with the server's key."""
    settings = Settings(secret_key=secret_key, access_token_seconds=3600)
    return [
        {
            **JSON_HEADERS,
            "authorization": f"Bearer {issue_access_token(uid, new_session_id(), settings).token}",
        }
        for uid in user_ids
    ]


async def graphql(
    client: httpx.AsyncClient,
    url: str,
    query: str,
    variables: dict[str, Any],
    headers: dict[str, str],
) -> dict[str, Any]:
    """One GraphQL request that must succeed at the HTTP and GraphQL level."""
    body = json.dumps({"query": query, "variables": variables})
    response = await client.post(url, content=body, headers=headers)
    if response.status_code != 200:
        raise BenchError(f"HTTP {response.status_code}: {response.text[:500]}")
    data: dict[str, Any] = response.json()
    if data.get("errors"):
        raise BenchError(f"GraphQL errors: {data['errors']}")
    result: dict[str, Any] = data["data"]
    return result


# --------------------------------------------------------------------------------------
# Figures.
# --------------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (a value that was observed); NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _cpu_of_named(names: set[str]) -> float:
    """CPU seconds of every live process whose command name is in ``names``."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, rest = stat.split("(", 1)[1].rsplit(")", 1)
        if name in names:
            parts = rest.split()
            total += (int(parts[11]) + int(parts[12])) / tick
    return total


def _machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    tick = os.sysconf("SC_CLK_TCK")
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values) - idle) / tick, sum(values) / tick


@dataclass
class CpuSample:
    wall: float
    client: float
    server: float | None
    postgres: float
    redis: float
    machine_busy: float
    machine_total: float


def cpu_sample(server: Server) -> CpuSample:
    busy, total = _machine_busy_seconds()
    return CpuSample(
        wall=time.perf_counter(),
        client=time.process_time(),
        server=tree_cpu_seconds(server.process.pid),
        postgres=_cpu_of_named({"postgres", "postmaster"}),
        redis=_cpu_of_named({"redis-server"}),
        machine_busy=busy,
        machine_total=total,
    )


def cpu_report(before: CpuSample, after: CpuSample) -> str:
    """Core-seconds per second of each party (100% = one core busy) between two samples.

    PostgreSQL and Redis are counted over every process of that name on the machine.
    """
    wall = after.wall - before.wall
    if wall <= 0:
        return "n/a"

    def share(a: float | None, b: float | None) -> str:
        return "n/a" if a is None or b is None else f"{(b - a) / wall:.0%}"

    machine_total = after.machine_total - before.machine_total
    machine = (
        f"{(after.machine_busy - before.machine_busy) / machine_total:.0%} of "
        f"{os.cpu_count()} cores"
        if machine_total > 0
        else "n/a"
    )
    ours = [
        (b - a)
        for a, b in ((before.client, after.client), (before.server, after.server))
        if a is not None and b is not None
    ]
    ours += [after.postgres - before.postgres, after.redis - before.redis]
    others = (after.machine_busy - before.machine_busy - sum(ours)) / wall
    return (
        f"client {share(before.client, after.client)}, "
        f"server {share(before.server, after.server)}, "
        f"postgres {share(before.postgres, after.postgres)}, "
        f"redis {share(before.redis, after.redis)}, other processes {max(0.0, others):.0%}; "
        f"machine busy {machine}"
    )


def add_deployment_options(
    parser: argparse.ArgumentParser, *, database: str, redis_db: int, port: int, workers: int
) -> None:
    """The options every group-buy benchmark shares: where it runs and how it is watched."""
    parser.add_argument(
        "--database-url",
        default=f"postgres://postgres@127.0.0.1:5432/{database}",
        help="PostgreSQL database whose name contains 'bench' (recreated, then dropped)",
    )
    parser.add_argument(
        "--redis-url",
        default=f"redis://127.0.0.1:6379/{redis_db}",
        help="a dedicated Redis database (not 0); it is flushed before and after",
    )
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[workers], help="uvicorn workers; one run each"
    )
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument(
        "--keep-database", action="store_true", help="leave the PostgreSQL database in place"
    )
    parser.add_argument(
        "--profile-server",
        type=Path,
        metavar="FILE",
        help="run the server (one worker) under cProfile and write its stats to FILE",
    )


def check_deployment(args: argparse.Namespace) -> None:
    if not is_postgres(args.database_url):
        raise BenchError("this benchmark needs PostgreSQL (--database-url postgres://...)")
    postgres_target(args.database_url)
    check_redis_url(args.redis_url)

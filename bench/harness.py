"""What every benchmark shares: databases, seeding, servers, load, CPU and the figures' table.

Servers start through ``tests/servers.py``, the tests' own starter. Load comes from one
event loop of closed-loop clients on aiohttp, which takes a fraction of the CPU httpx
would and so leaves the cores to the server being measured. CPU is read from /proc for
the server's process tree (workers included) and for PostgreSQL and Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import resource
import secrets
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import httpx
from redis.asyncio import Redis
from tortoise import Tortoise, connections

from pintuan.accounts.models import Merchant, User
from pintuan.accounts.tokens import issue_access_token, new_session_id
from pintuan.catalog.models import Product, ProductStatus, Variant
from pintuan.core.db import tortoise_config
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.groupbuys.models import GroupBuy
from pintuan.settings import Settings
from tests.servers import Server, clean_env, serve_command, start_server

REPO = Path(__file__).resolve().parent.parent
JSON_HEADERS = {"content-type": "application/json"}
# Any string will do: the benchmarks never sign in with a password, they mint tokens.
PASSWORD_HASH = "$argon2id$bench-not-a-real-hash"
READY_SECONDS = 60.0
T = TypeVar("T")


class BenchError(RuntimeError):
    """The benchmark cannot produce meaningful figures (bad setup or wrong answers)."""


def run(main: Coroutine[Any, Any, T]) -> T:
    """``main`` on uvloop when installed, as the servers run."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


# --------------------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------------------


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


def postgres_name(url: str) -> str:
    """The database is dropped and recreated, so the server's own databases are refused."""
    name = urlsplit(url).path.lstrip("/")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name) or name in {"postgres", "template1"}:
        raise BenchError(f"refusing to recreate database {name!r}: name a dedicated one")
    return name


async def recreate_postgres(url: str, *, create: bool = True) -> None:
    name = postgres_name(url)
    connection = await asyncpg.connect(urlsplit(url)._replace(path="/postgres").geturl())
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


def check_redis_url(url: str) -> None:
    """The benchmark flushes its Redis database, so database 0 (the default) is refused."""
    path = urlsplit(url).path.strip("/")
    if not path.isdigit() or int(path) == 0:
        raise BenchError(f"refusing to flush Redis {url!r}: name a database other than 0")


async def flush_redis(url: str) -> None:
    check_redis_url(url)
    client: Redis = Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


def migrate(database_url: str) -> None:
    env = clean_env({"PINTUAN_DATABASE_URL": database_url})
    command = [sys.executable, "-m", "pintuan.cli", "migrate"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"pintuan migrate failed:\n{done.stdout}{done.stderr}")


async def fresh_database(database_url: str, redis_url: str | None) -> None:
    """An empty, migrated database (PostgreSQL is recreated) and an empty Redis database."""
    if is_postgres(database_url):
        await recreate_postgres(database_url)
    await asyncio.to_thread(migrate, database_url)
    if redis_url:
        await flush_redis(redis_url)


async def drop(database_url: str, redis_url: str | None) -> None:
    if is_postgres(database_url):
        await recreate_postgres(database_url, create=False)
    if redis_url:
        await flush_redis(redis_url)


class Orm:
    """Tortoise on the benchmark database, for seeding; ANALYZEs on the way out, since a
    fresh PostgreSQL database has no planner statistics until autovacuum runs."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    async def __aenter__(self) -> Orm:
        await Tortoise.init(config=tortoise_config(self.database_url))
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await connections.get("default").execute_script("ANALYZE")
        finally:
            await Tortoise.close_connections()


async def users(prefix: str, count: int) -> list[int]:
    """``count`` users, bulk-inserted with a placeholder hash (Argon2 would take minutes)."""
    rows = [
        User(
            email=f"{prefix}{i}@bench.example",
            password_hash=PASSWORD_HASH,
            handle=f"{prefix}-{i}",
            display_name=f"{prefix} {i}",
            invite_code=f"{prefix[:4].upper()}{i:09d}",
        )
        for i in range(count)
    ]
    await User.bulk_create(rows, batch_size=2000)
    made = User.filter(email__startswith=prefix, email__endswith="@bench.example")
    return [u.id for u in await made.order_by("id")]


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


async def seed_offer(database_url: str, *, shoppers: int, group_size: int, stock: int) -> Seeded:
    """A merchant, one ACTIVE product and variant, an ACTIVE offer, ``shoppers`` users.

    Offer and group ids start at a random offset: live events travel on Redis pub/sub
    channels named by id, which every Redis database shares, so small ids would make this
    run hear other runs' events.
    """
    async with Orm(database_url):
        if is_postgres(database_url):
            base = secrets.randbelow(1_000_000_000) + 1_000_000_000
            for table in ("group_buy", "buy_group"):
                await connections.get("default").execute_script(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {base})"
                )
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
            duration_seconds=3600,
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=1),
            per_user_limit=1,
            stock_limit=stock,
        )
        ids = await users("shopper", shoppers)
    return Seeded(offer.id, variant.id, stock, group_size, ids)


# --------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------


def server_env(
    database_url: str, redis_url: str | None = None, *, scheduler: bool = True
) -> dict[str, str]:
    """Settings for a server under load: rate limits lifted (the limiter still runs)."""
    unlimited = str(10**9)
    env = clean_env(
        {
            "PINTUAN_DATABASE_URL": database_url,
            "PINTUAN_SECRET_KEY": secrets.token_urlsafe(48),
            "PINTUAN_LOG_LEVEL": "WARNING",
            "PINTUAN_RATE_LIMIT_IP_PER_MINUTE": unlimited,
            "PINTUAN_RATE_LIMIT_KEY_PER_MINUTE": unlimited,
            "PINTUAN_POST_RATE_LIMIT": unlimited,
            "PINTUAN_COMMENT_RATE_LIMIT": unlimited,
            "PINTUAN_RUN_SCHEDULER": "true" if scheduler else "false",
            "PYTHONPATH": str(REPO),
        }
    )
    if redis_url:
        env["PINTUAN_REDIS_URL"] = redis_url
    return env


# ``pintuan serve`` under cProfile. uvicorn re-raises SIGTERM after a graceful shutdown
# through the handler installed before it, so the statistics are written from there.
PROFILED = """
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


def pintuan(
    env: dict[str, str],
    port: int,
    workers: int,
    logs: Path,
    *,
    profile: Path | None = None,
    wrapper: Sequence[str] = (),
    within: float = READY_SECONDS,
) -> Server:
    """``pintuan serve``, ready; under cProfile (one worker) or a ``wrapper`` (valgrind)."""
    command = [*wrapper, *serve_command(port, workers)]
    if profile is not None:
        if workers != 1:
            raise BenchError("profiling needs a single worker")
        command = [sys.executable, "-c", PROFILED, str(profile), *command[3:]]
    return start_server(command, env, port, logs / f"pintuan-{port}.log", within)


def uvicorn_app(factory: str, env: dict[str, str], port: int, workers: int, logs: Path) -> Server:
    """A baseline app of this package (``module:factory``) under uvicorn, ready."""
    command = [sys.executable, "-m", "uvicorn", factory, "--factory", "--port", str(port)]
    command += ["--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    return start_server(command, env, port, logs / f"baseline-{port}.log", READY_SECONDS)


def log_problems(server: Server) -> list[str]:
    """Lines of the server log that report errors (tracebacks, 500s, ERROR records)."""
    needles = ("Traceback", "ERROR", "Exception", "deadlock")
    return [line for line in server.log_tail(10**6).splitlines() if any(n in line for n in needles)]


def raise_fd_limit(wanted: int) -> int:
    """Lift the soft open-files limit towards ``wanted``; children (servers) inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return int(soft)


def deployment_options(
    parser: argparse.ArgumentParser, *, database: str, redis_db: int, port: int, workers: int
) -> None:
    """Where a PostgreSQL + Redis benchmark runs and how its server is watched."""
    parser.add_argument(
        "--database-url",
        default=f"postgres://postgres@127.0.0.1:5432/{database}",
        help="a PostgreSQL database of its own: recreated, then dropped",
    )
    parser.add_argument(
        "--redis-url",
        default=f"redis://127.0.0.1:6379/{redis_db}",
        help="a Redis database of its own (not 0): flushed before and after",
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[workers], help="one run each")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument(
        "--profile-server", type=Path, metavar="FILE", help="cProfile the server (one worker)"
    )


def check_deployment(args: argparse.Namespace) -> None:
    if not is_postgres(args.database_url):
        raise BenchError("this benchmark needs PostgreSQL (--database-url postgres://...)")
    postgres_name(args.database_url)
    check_redis_url(args.redis_url)


# --------------------------------------------------------------------------------------
# Requests and load
# --------------------------------------------------------------------------------------


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
    headers: dict[str, str] = JSON_HEADERS,
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


def load_session(concurrency: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=30.0),
    )


@dataclass
class Load:
    """What closed-loop clients saw: successes with their latencies, failures, the time."""

    ok: int = 0
    failures: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0


async def closed_loop(
    concurrency: int, seconds: float, request: Callable[[int], Awaitable[bool]]
) -> Load:
    """``concurrency`` clients each keep one ``request(client number)`` in flight.

    Only requests started before the deadline are sent; the elapsed time runs until the
    last of them is answered, so late replies are not dropped from the rate.
    """
    load = Load()
    deadline = time.perf_counter() + seconds

    async def client(number: int) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                good = await request(number)
            except (aiohttp.ClientError, TimeoutError):
                good = False
            if good:
                load.ok += 1
                load.latencies.append(time.perf_counter() - started)
            else:
                load.failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(concurrency)))
    load.elapsed = time.perf_counter() - started
    return load


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (a value that was observed); NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def ms(values: Sequence[float], fraction: float) -> float:
    return percentile(values, fraction) * 1000


# --------------------------------------------------------------------------------------
# CPU
# --------------------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _stat_cpu(stat: str) -> float:
    parts = stat.rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / TICK


def tree_cpu(pid: int) -> float:
    """User+system CPU seconds of a process and its live descendants (Linux /proc)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        total += _stat_cpu(Path(f"/proc/{current}/stat").read_text())
        for task in Path(f"/proc/{current}/task").iterdir():
            pending.extend(int(child) for child in (task / "children").read_text().split())
    return total


def named_cpu(names: set[str]) -> float:
    """CPU seconds of every live process whose command name is in ``names``."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        if stat and stat.split("(", 1)[1].rsplit(")", 1)[0] in names:
            total += _stat_cpu(stat)
    return total


@dataclass
class Cpu:
    """CPU seconds of each party at one moment, for core-seconds per second between two."""

    wall: float
    client: float
    server: float
    postgres: float
    redis: float
    machine_busy: float

    @classmethod
    def sample(cls, server: Server) -> Cpu:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = values[3] + values[4]
        return cls(
            wall=time.perf_counter(),
            client=time.process_time(),
            server=tree_cpu(server.process.pid),
            postgres=named_cpu({"postgres", "postmaster"}),
            redis=named_cpu({"redis-server"}),
            machine_busy=(sum(values) - idle) / TICK,
        )

    def report(self, after: Cpu) -> str:
        """Shares of a core (100% = one core busy); PostgreSQL and Redis machine-wide."""
        wall = after.wall - self.wall
        parts = ("client", "server", "postgres", "redis")
        used = {p: (getattr(after, p) - getattr(self, p)) / wall for p in parts}
        others = (after.machine_busy - self.machine_busy) / wall - sum(used.values())
        shares = ", ".join(f"{p} {v:.0%}" for p, v in used.items())
        return f"{shares}, other processes {max(0.0, others):.0%} of {os.cpu_count()} cores"


# --------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------


@dataclass
class Row:
    """One measured target: its load, the server CPU it cost, and its cache hits."""

    name: str
    load: Load
    server_cpu: float
    hits: int = 0
    reads: int = 0

    def cells(self, reference: Row | None) -> list[str]:
        load = self.load
        ratio = load.rps / reference.load.rps if reference and reference.load.rps else math.nan
        per_request = self.server_cpu / load.ok * 1000 if load.ok else math.nan
        return [
            self.name,
            f"{load.rps:.1f}",
            f"{ms(load.latencies, 0.5):.1f}",
            f"{ms(load.latencies, 0.99):.1f}",
            f"{per_request:.2f}",
            f"{self.server_cpu / load.elapsed:.0%}" if load.elapsed else "n/a",
            f"{self.hits / self.reads:.0%}" if self.reads else "n/a",
            str(load.failures),
            "reference" if reference is self else f"{ratio:.2f}x",
        ]


HEADINGS = ["target", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "server CPU", "hits"]
HEADINGS += ["failures", "ratio"]


def p99_against(rows: Iterable[Row], reference: Row, goal: float) -> str:
    """A line per row: its p99 as a multiple of ``reference``'s, and whether it is
    within ``goal`` times it."""
    base = ms(reference.load.latencies, 0.99)
    lines = []
    for row in rows:
        p99 = ms(row.load.latencies, 0.99)
        verdict = "met" if p99 <= goal * base else "NOT met"
        lines.append(
            f"  {row.name}: p99 {p99:.1f} ms = {p99 / base:.2f}x {reference.name}'s; "
            f"goal {goal:g}x {verdict}"
        )
    return "\n".join(lines)


def table(rows: Sequence[tuple[Row, Row | None]]) -> str:
    """Each row with its ratio of req/s to its reference row (measured in the same run)."""
    cells = [HEADINGS] + [row.cells(reference) for row, reference in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADINGS))]
    lines = [
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in cells
    ]
    lines.insert(1, "-" * len(lines[0]))
    lines.append("CPU ms/req: server CPU per successful request; server CPU: share of a core.")
    return "\n".join(lines)

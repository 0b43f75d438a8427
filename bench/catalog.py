"""Catalog read benchmark: the GraphQL ``products`` page against a hand-written baseline.

The question it answers is "what does the GraphQL/ORM stack cost on our hottest read?".
Both targets run as real uvicorn servers on the same seeded database and return the same
page (checked before measuring), so the ratio of their throughput is the overhead of
Strawberry, Tortoise and our resolvers. It prints figures and never asserts on them.

    .venv/bin/python bench/catalog.py
    .venv/bin/python bench/catalog.py \\
        --database-url postgres://postgres@127.0.0.1:5432/pintuan_bench \\
        --redis-url redis://127.0.0.1:6379/14
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
import httpx

from pintuan.core.money import format_money
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.graphql.pagination import encode_cursor

BENCH_DIR = Path(__file__).resolve().parent
# The baseline's uvicorn workers are separate processes; the URL reaches them through here.
BASELINE_DB_ENV = "PINTUAN_BENCH_BASELINE_DATABASE_URL"
PAGE_SIZE = 20
GOAL_RATIO = 0.5
# Tortoise's asyncpg client defaults to a pool of at most 5; the baseline gets the same.
PG_POOL_MAX = 5
READY_TIMEOUT_SECONDS = 60.0
GRAPHQL_QUERY = (
    "query Page { products(first: 20) { edges { node { id title merchant { name handle } "
    "variants { sku price { amount currency formatted } available } } } "
    "pageInfo { hasNextPage endCursor } } }"
)
REQUEST_BODY = json.dumps({"query": GRAPHQL_QUERY, "operationName": "Page"}).encode()
JSON_HEADERS = {"content-type": "application/json"}


class BenchError(RuntimeError):
    """The benchmark cannot produce meaningful figures (bad setup or wrong answers)."""


# --------------------------------------------------------------------------------------
# Baseline server: the same page with three hand-written queries and no framework on top.
# --------------------------------------------------------------------------------------

ProductRow = tuple[int, str, int, Any]  # id, title, merchant_id, created_at
MerchantRow = tuple[int, str, str]  # id, name, handle
VariantRow = tuple[int, str, int, str, int]  # product_id, sku, price, currency, available

SQL_PRODUCTS = (
    "SELECT id, title, merchant_id, created_at FROM product WHERE status = 'ACTIVE' "
    "ORDER BY created_at DESC, id DESC LIMIT {limit}"
)
SQL_MERCHANTS = "SELECT id, name, handle FROM merchant WHERE id {ids}"
SQL_VARIANTS = (
    "SELECT product_id, sku, price_amount, currency, stock_on_hand - stock_reserved "
    "FROM variant WHERE product_id {ids} ORDER BY position, id"
)


class CatalogStore(Protocol):
    """The three reads the products page needs; one implementation per database driver."""

    async def latest_products(self, limit: int) -> list[ProductRow]: ...

    async def merchants(self, ids: Sequence[int]) -> list[MerchantRow]: ...

    async def variants(self, product_ids: Sequence[int]) -> list[VariantRow]: ...

    async def close(self) -> None: ...


class SqliteStore:
    """One aiosqlite connection per process, as Tortoise's SQLite client uses."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    @classmethod
    async def open(cls, url: str) -> SqliteStore:
        import aiosqlite

        connection = await aiosqlite.connect(sqlite_path(url), isolation_level=None)
        await connection.execute("PRAGMA journal_mode=WAL")
        return cls(connection)

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(await self.connection.execute_fetchall(sql, params))

    async def latest_products(self, limit: int) -> list[ProductRow]:
        return await self._rows(SQL_PRODUCTS.format(limit=int(limit)))

    async def merchants(self, ids: Sequence[int]) -> list[MerchantRow]:
        return await self._rows(SQL_MERCHANTS.format(ids=_in_clause(len(ids))), ids)

    async def variants(self, product_ids: Sequence[int]) -> list[VariantRow]:
        sql = SQL_VARIANTS.format(ids=_in_clause(len(product_ids)))
        return await self._rows(sql, product_ids)

    async def close(self) -> None:
        await self.connection.close()


class PostgresStore:
    """An asyncpg pool sized like Tortoise's, so both sides get the same parallelism."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        import asyncpg

        return cls(await asyncpg.create_pool(url, min_size=1, max_size=PG_POOL_MAX))

    async def _rows(self, sql: str, *params: Any) -> list[Any]:
        return [tuple(row) for row in await self.pool.fetch(sql, *params)]

    async def latest_products(self, limit: int) -> list[ProductRow]:
        return await self._rows(SQL_PRODUCTS.format(limit=int(limit)))

    async def merchants(self, ids: Sequence[int]) -> list[MerchantRow]:
        return await self._rows(SQL_MERCHANTS.format(ids="= ANY($1::int[])"), list(ids))

    async def variants(self, product_ids: Sequence[int]) -> list[VariantRow]:
        sql = SQL_VARIANTS.format(ids="= ANY($1::int[])")
        return await self._rows(sql, list(product_ids))

    async def close(self) -> None:
        await self.pool.close()


def _in_clause(count: int) -> str:
    return "IN (" + ",".join("?" * count) + ")"


def _as_datetime(value: Any) -> datetime:
    """SQLite hands back text, asyncpg a datetime; cursors need the datetime's isoformat."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


async def products_page(store: CatalogStore) -> dict[str, Any]:
    """The GraphQL response body for GRAPHQL_QUERY, built straight from rows."""
    rows = await store.latest_products(PAGE_SIZE + 1)
    page = rows[:PAGE_SIZE]
    merchant_ids = sorted({row[2] for row in page})
    product_ids = [row[0] for row in page]
    merchants, variant_rows = (
        await asyncio.gather(store.merchants(merchant_ids), store.variants(product_ids))
        if page
        else ([], [])
    )
    by_merchant = {m[0]: {"name": m[1], "handle": m[2]} for m in merchants}
    by_product: dict[int, list[dict[str, Any]]] = {pid: [] for pid in product_ids}
    for product_id, sku, amount, currency, available in variant_rows:
        by_product[product_id].append(
            {
                "sku": sku,
                "price": {
                    "amount": amount,
                    "currency": currency,
                    "formatted": format_money(amount, currency),
                },
                "available": available,
            }
        )
    edges = [
        {
            "node": {
                "id": to_global_id(NodeType.PRODUCT, pid),
                "title": title,
                "merchant": by_merchant[merchant_id],
                "variants": by_product[pid],
            }
        }
        for pid, title, merchant_id, _ in page
    ]
    end_cursor = None
    if page:
        last_id, _, _, last_created = page[-1]
        end_cursor = encode_cursor("NEWEST", [_as_datetime(last_created).isoformat(), last_id])
    return {
        "data": {
            "products": {
                "edges": edges,
                "pageInfo": {"hasNextPage": len(rows) > PAGE_SIZE, "endCursor": end_cursor},
            }
        }
    }


def baseline_app() -> Any:
    """uvicorn factory for the baseline; reads its database URL from BASELINE_DB_ENV."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    url = os.environ[BASELINE_DB_ENV]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store: CatalogStore
        if is_postgres(url):
            store = await PostgresStore.open(url)
        else:
            store = await SqliteStore.open(url)
        app.state.store = store
        try:
            yield
        finally:
            await store.close()

    async def products(request: Request) -> Response:
        await request.json()  # the GraphQL side parses its body too
        return JSONResponse(await products_page(request.app.state.store))

    async def readyz(request: Request) -> Response:
        await request.app.state.store.latest_products(1)
        return JSONResponse({"status": "ready"})

    return Starlette(
        routes=[
            Route("/products", products, methods=["POST"]),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )


def run_baseline_server(args: argparse.Namespace) -> int:
    """Entry point of the ``--baseline-server`` child process."""
    import uvicorn

    os.environ[BASELINE_DB_ENV] = args.database_url
    uvicorn.run(
        "catalog:baseline_app",
        factory=True,
        app_dir=str(BENCH_DIR),
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
    )
    return 0


# --------------------------------------------------------------------------------------
# Database preparation.
# --------------------------------------------------------------------------------------


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


def sqlite_path(url: str) -> str:
    """Tortoise spells a file as ``sqlite://<path>``; drop the scheme and any pragmas."""
    if not url.startswith("sqlite://"):
        raise BenchError(f"unsupported database URL {url!r}")
    return url.removeprefix("sqlite://").split("?", 1)[0]


def postgres_target(url: str) -> tuple[str, str]:
    """The admin URL (database ``postgres``) and the benchmark database's name.

    The database is dropped and recreated, so only names that say they are for benchmarks
    are accepted: a typo must not wipe a development database.
    """
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name) or "bench" not in name:
        raise BenchError(
            f"refusing to recreate database {name!r}: use a dedicated name containing "
            "'bench', e.g. pintuan_bench"
        )
    return parts._replace(path="/postgres").geturl(), name


async def recreate_postgres(url: str, *, create: bool = True) -> None:
    import asyncpg

    admin_url, name = postgres_target(url)
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


def pintuan_command() -> list[str]:
    """The venv's ``pintuan`` script, or the module when the script is missing."""
    script = Path(sys.executable).with_name("pintuan")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pintuan.cli"]


def server_env(database_url: str, redis_url: str | None) -> dict[str, str]:
    """The caller's environment without its PINTUAN_* settings, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINTUAN_")}
    env.update(
        PINTUAN_DATABASE_URL=database_url,
        PINTUAN_DEBUG="false",
        PINTUAN_SECRET_KEY=secrets.token_urlsafe(48),
        PINTUAN_LOG_LEVEL="WARNING",
        # The limiter still runs on every request; it just never refuses one here.
        PINTUAN_RATE_LIMIT_IP_PER_MINUTE=str(10**9),
    )
    if redis_url:
        env["PINTUAN_REDIS_URL"] = redis_url
    return env


def migrate(database_url: str, workdir: Path) -> None:
    result = subprocess.run(
        [*pintuan_command(), "migrate"],
        env=server_env(database_url, None),
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"pintuan migrate failed:\n{result.stdout}{result.stderr}")


async def seed(database_url: str, products: int) -> int:
    """Seed, then ANALYZE: a fresh PostgreSQL database has no planner statistics until
    autovacuum gets round to it, and without them it seq-scans ``variant`` and sorts every
    active product (a hundred times slower than with them), for both targets alike.
    """
    from tortoise import Tortoise, connections

    from pintuan.core.db import tortoise_config
    from pintuan.demo import seed_catalog

    await Tortoise.init(config=tortoise_config(database_url))
    try:
        created: int = await seed_catalog(products)
        await connections.get("default").execute_script("ANALYZE")
        return created
    finally:
        await Tortoise.close_connections()


# --------------------------------------------------------------------------------------
# Server processes.
# --------------------------------------------------------------------------------------


@dataclass
class Server:
    """A server subprocess in its own session, so stopping it also stops its workers."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    url: str

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM the session (uvicorn and its workers), SIGKILL it if that is ignored.

        The group id is our child's pid, signalled only while the child is unreaped, so no
        unrelated process can be hit.
        """
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start_server(
    name: str, command: list[str], env: dict[str, str], port: int, workdir: Path
) -> Server:
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(name, process, log_path, f"http://127.0.0.1:{port}")


async def wait_ready(server: Server, within: float = READY_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise BenchError(f"{server.name} exited early:\n{server.log_tail()}")
            try:
                if (await client.get(server.url + "/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise BenchError(f"{server.name} not ready in {within:.0f}s:\n{server.log_tail()}")


def tree_cpu_seconds(pid: int) -> float | None:
    """User+system CPU of a process and its live descendants (Linux /proc; else None).

    On a small machine the load generator competes with the servers for cores, so the
    report shows who was busy rather than leaving it to guesswork.
    """
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    try:
        while pending:
            current = pending.pop()
            stat = Path(f"/proc/{current}/stat").read_text()
            fields_ = stat.rsplit(")", 1)[1].split()
            total += (int(fields_[11]) + int(fields_[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(child) for child in children)
    except (OSError, ValueError, IndexError):
        return None
    return total


# --------------------------------------------------------------------------------------
# Load generation and reporting.
# --------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    ok: int = 0
    failures: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    client_cpu: float = 0.0
    server_cpu: float | None = None

    @property
    def rps(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def percentile_ms(self, fraction: float) -> float:
        """Nearest-rank percentile; no interpolation, so it is a latency someone saw."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)] * 1000


async def drive(
    session: aiohttp.ClientSession, concurrency: int, url: str, seconds: float
) -> Result:
    """Closed loop: ``concurrency`` clients each keep one request in flight.

    Only requests started before the deadline are sent; the elapsed time runs until the
    last of them is answered, so late replies are not dropped from the rate.
    """
    result = Result(url)
    deadline = time.perf_counter() + seconds

    async def client_loop() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                async with session.post(url, data=REQUEST_BODY, headers=JSON_HEADERS) as response:
                    body = await response.read()
                ok = response.status == 200 and b'"errors"' not in body
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ok:
                result.ok += 1
                result.latencies.append(time.perf_counter() - started)
            else:
                result.failures += 1

    cpu_before = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - started
    result.client_cpu = time.process_time() - cpu_before
    return result


def load_session(concurrency: int) -> aiohttp.ClientSession:
    """The load generator's HTTP client: aiohttp, one pool of ``concurrency`` connections.

    httpx, used before, needed a full core to send about 800 requests/s to a bare ASGI
    app (aiohttp: over 5,000), which capped the baseline at the client's speed.
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=30.0),
    )


async def first_page(client: httpx.AsyncClient, name: str, url: str) -> dict[str, Any]:
    """One request, checked: 200, no errors, a full page of products."""
    response = await client.post(url, content=REQUEST_BODY, headers=JSON_HEADERS)
    if response.status_code != 200:
        raise BenchError(f"{name}: HTTP {response.status_code}: {response.text[:500]}")
    body = response.json()
    if body.get("errors"):
        raise BenchError(f"{name}: errors in response: {body['errors']}")
    products: dict[str, Any] = body["data"]["products"]
    if len(products["edges"]) != PAGE_SIZE:
        raise BenchError(f"{name}: expected {PAGE_SIZE} products, got {len(products['edges'])}")
    return products


async def measure(server: Server, path: str, args: argparse.Namespace) -> Result:
    url = server.url + path
    async with load_session(args.concurrency) as session:
        if args.warmup > 0:
            await drive(session, args.concurrency, url, args.warmup)
        cpu_before = tree_cpu_seconds(server.process.pid)
        result = await drive(session, args.concurrency, url, args.duration)
        cpu_after = tree_cpu_seconds(server.process.pid)
    result.name = server.name
    if cpu_before is not None and cpu_after is not None:
        result.server_cpu = cpu_after - cpu_before
    return result


def report(args: argparse.Namespace, database: str, results: list[Result]) -> None:
    print(
        f"\ncatalog page, {database}, {args.products} products, {args.workers} worker(s), "
        f"concurrency {args.concurrency}, {args.duration:g}s per target after "
        f"{args.warmup:g}s warm-up, {os.cpu_count()} CPU(s), aiohttp load generator"
    )
    header = (
        f"{'target':<9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'failures':>9} "
        f"{'requests':>9} {'client CPU':>11} {'server CPU':>11}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        server_cpu = f"{r.server_cpu / r.elapsed:.0%}" if r.server_cpu is not None else "n/a"
        print(
            f"{r.name:<9} {r.rps:>9.1f} {r.percentile_ms(0.50):>8.1f} "
            f"{r.percentile_ms(0.99):>8.1f} {r.failures:>9} {r.ok + r.failures:>9} "
            f"{r.client_cpu / r.elapsed:>11.0%} {server_cpu:>11}"
        )
    graphql, baseline = results
    ratio = graphql.rps / baseline.rps if baseline.rps else math.nan
    verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
    print(f"\nratio graphql/baseline: {ratio:.2f}x (goal >= {GOAL_RATIO}x: {verdict})")
    print("CPU columns are core-seconds per second; 100% = one core busy.")
    if any(r.client_cpu / r.elapsed > 0.9 for r in results):
        print("note: the load generator used ~a full core; that target may be client-bound.")


async def run_targets(args: argparse.Namespace, graphql: Server, baseline: Server) -> None:
    await asyncio.gather(wait_ready(graphql), wait_ready(baseline))
    async with httpx.AsyncClient(timeout=30.0) as client:
        expected = await first_page(client, "graphql", graphql.url + "/graphql")
        actual = await first_page(client, "baseline", baseline.url + "/products")
    if expected != actual:
        raise BenchError(
            "baseline and GraphQL disagree on the page:\n"
            f"graphql:  {json.dumps(expected)[:600]}\nbaseline: {json.dumps(actual)[:600]}"
        )
    print("first responses verified: 20 products, no errors, identical on both targets")
    results = [
        await measure(graphql, "/graphql", args),
        await measure(baseline, "/products", args),
    ]
    database = "postgresql" if is_postgres(args.database_url) else "sqlite"
    report(args, database, results)


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed: the servers run on it, and the load generator needs the speed."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def bench(args: argparse.Namespace) -> int:
    servers: list[Server] = []
    pg = is_postgres(args.database_url or "")
    with tempfile.TemporaryDirectory(prefix="pintuan-bench-") as tmp:
        workdir = Path(tmp)
        if not args.database_url:
            args.database_url = f"sqlite://{workdir / 'bench.db'}"
        try:
            if pg:
                asyncio.run(recreate_postgres(args.database_url))
            started = time.perf_counter()
            migrate(args.database_url, workdir)
            created = asyncio.run(seed(args.database_url, args.products))
            print(
                f"database ready: {created} new products seeded "
                f"in {time.perf_counter() - started:.1f}s"
            )
            graphql_cmd = [*pintuan_command(), "serve", "--port", str(args.port)]
            graphql_cmd += ["--workers", str(args.workers)]
            servers.append(
                start_server(
                    "graphql",
                    graphql_cmd,
                    server_env(args.database_url, args.redis_url),
                    args.port,
                    workdir,
                )
            )
            baseline_cmd = [sys.executable, str(Path(__file__).resolve()), "--baseline-server"]
            baseline_cmd += ["--database-url", args.database_url]
            baseline_cmd += ["--port", str(args.port + 1), "--workers", str(args.workers)]
            servers.append(
                start_server(
                    "baseline",
                    baseline_cmd,
                    server_env(args.database_url, None),
                    args.port + 1,
                    workdir,
                )
            )
            with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
                runner.run(run_targets(args, servers[0], servers[1]))
        except BenchError as exc:
            print(f"bench failed: {exc}", file=sys.stderr)
            return 1
        finally:
            for server in servers:
                server.stop()
            for server in servers:
                tail = server.log_tail(10)
                if tail.strip():
                    print(f"\n--- last lines of {server.name} server log ---\n{tail}")
            if pg and not args.keep_database:
                asyncio.run(recreate_postgres(args.database_url, create=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        help="sqlite://<path> or postgres://.../<name with 'bench'> (recreated); "
        "default: a fresh SQLite file in a temporary directory",
    )
    parser.add_argument("--redis-url", help="PINTUAN_REDIS_URL for the GraphQL server")
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per target")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--port", type=int, default=8765, help="GraphQL; the baseline uses +1")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers per server")
    parser.add_argument(
        "--keep-database", action="store_true", help="leave the PostgreSQL database in place"
    )
    parser.add_argument("--baseline-server", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.baseline_server:
        return run_baseline_server(args)
    if args.database_url and is_postgres(args.database_url):
        try:
            postgres_target(args.database_url)
        except BenchError as exc:
            print(f"bench failed: {exc}", file=sys.stderr)
            return 2
    return bench(args)


if __name__ == "__main__":
    raise SystemExit(main())

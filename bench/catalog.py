"""Catalog reads: the GraphQL server against a plain Starlette + SQL baseline, same run.

Modes (each measured on both targets, which share one seeded database):

- ``page``: the first page of ``products`` again and again, the hottest read.
- ``mix``: reads spread over every page of every listing (each sort, and each merchant's
  own list, walked by keyset cursor) and every product's detail, drawn with a Zipf skew
  (s = 1.1, seeded, the same sequence for both targets), plus 1% ``productUpdate``
  writes by the merchant's staff, so no single cached entry can carry the figure.

The baseline answers the same documents with hand-written SQL built from the project's
own sort keys, statuses, page size and cursor codec, and no cache. With ``--floor``, a
bare Strawberry schema over the baseline's SQL (``bench.floor``) is measured too: the
library's own cost through the same HTTP stack, the ceiling for any Strawberry server.
The targets are checked to agree before anything is measured. Cache hits are counted
from the ``X-Cache`` header. Figures are printed, never asserted.

    .venv/bin/python -m bench.catalog
    .venv/bin/python -m bench.catalog \\
        --database-url postgres://postgres@127.0.0.1:5432/pintuan_bench --redis-url redis://127.0.0.1:6379/14
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import re
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench import harness
from pintuan.accounts.models import Merchant, MerchantStaff
from pintuan.accounts.tokens import InvalidToken, read_access_token
from pintuan.catalog.models import Product, ProductStatus
from pintuan.catalog.products import SORT_KEYS, ProductSort
from pintuan.core.money import format_money
from pintuan.demo import seed_catalog
from pintuan.graphql.ids import NodeType, from_global_id, to_global_id
from pintuan.graphql.pagination import decode_cursor, encode_cursor
from pintuan.settings import Settings
from tests.servers import Server

PAGE_SIZE = Settings().default_page_size  # the server's default; no query names `first`
ZIPF_S = 1.1
WRITE_SHARE = 0.01
PLAN_LENGTH = 100_000
NODE = (
    "id title merchant { name handle } "
    "variants { sku price { amount currency formatted } available }"
)
PAGE = (
    "query Page($after: String, $sort: ProductSort, $filter: ProductFilter) "
    "{ products(after: $after, sort: $sort, filter: $filter) "
    f"{{ edges {{ node {{ {NODE} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
)
DETAIL = f"query Detail($id: ID!) {{ product(id: $id) {{ description {NODE} }} }}"
UPDATE = (
    "mutation Update($input: ProductUpdateInput!) "
    "{ productUpdate(input: $input) { product { id } userErrors { code } } }"
)
ACTIVE = ProductStatus.ACTIVE.value


# --------------------------------------------------------------------------------------
# The baseline
# --------------------------------------------------------------------------------------


class Store:
    """Rows through asyncpg (a pool sized like Tortoise's) or one aiosqlite connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = harness.is_postgres(url)

    async def open(self) -> None:
        if self.postgres:
            import asyncpg

            self.pool = await asyncpg.create_pool(self.url.split("?")[0], min_size=1, max_size=5)
        else:
            import aiosqlite

            path = self.url.removeprefix("sqlite://").split("?")[0]
            self.connection = await aiosqlite.connect(path, isolation_level=None)
            await self.connection.execute("PRAGMA journal_mode=WAL")

    async def close(self) -> None:
        await (self.pool.close() if self.postgres else self.connection.close())

    async def rows(self, sql: str, *params: Any) -> list[Sequence[Any]]:
        """``sql`` with ``?`` placeholders, numbered for PostgreSQL."""
        if self.postgres:
            numbers = itertools.count(1)
            sql = re.sub(r"\?", lambda _: f"${next(numbers)}", sql)
            return list(await self.pool.fetch(sql, *params))
        return list(await self.connection.execute_fetchall(sql, params))


def _marks(count: int) -> str:
    return ",".join("?" * count)


async def nodes(store: Store, rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Products as NODE shapes them; ``rows`` start with id, title, merchant_id."""
    ids = [row[0] for row in rows]
    merchant_ids = sorted({row[2] for row in rows})
    merchants, variants = (
        await asyncio.gather(
            store.rows(
                f"SELECT id, name, handle FROM merchant WHERE id IN ({_marks(len(merchant_ids))})",
                *merchant_ids,
            ),
            store.rows(
                "SELECT product_id, sku, price_amount, currency, stock_on_hand - stock_reserved "
                f"FROM variant WHERE product_id IN ({_marks(len(ids))}) ORDER BY position, id",
                *ids,
            ),
        )
        if rows
        else ([], [])
    )
    by_merchant = {m[0]: {"name": m[1], "handle": m[2]} for m in merchants}
    by_product: dict[int, list[dict[str, Any]]] = {pid: [] for pid in ids}
    for pid, sku, amount, currency, available in variants:
        price = {
            "amount": amount,
            "currency": currency,
            "formatted": format_money(amount, currency),
        }
        by_product[pid].append({"sku": sku, "price": price, "available": available})
    return [
        {
            "id": to_global_id(NodeType.PRODUCT, row[0]),
            "title": row[1],
            "merchant": by_merchant[row[2]],
            "variants": by_product[row[0]],
        }
        for row in rows
    ]


def _key_value(value: Any) -> Any:
    """Cursor keys hold timestamps as ISO text; SQLite hands them back as text already."""
    if isinstance(value, str) and re.match(r"\d{4}-\d\d-\d\d[ T]", value):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


async def page(store: Store, variables: dict[str, Any]) -> dict[str, Any]:
    sort = ProductSort(variables.get("sort", "NEWEST"))
    key = SORT_KEYS[sort]
    sql = f"SELECT id, title, merchant_id, {', '.join(key.fields)} FROM product WHERE status = ?"
    params: list[Any] = [ACTIVE]
    merchant = (variables.get("filter") or {}).get("merchantId")
    if merchant:
        sql += " AND merchant_id = ?"
        params.append(from_global_id(merchant)[1])
    after = decode_cursor(variables.get("after"), sort.value)
    if after is not None:
        beyond = "<" if key.descending else ">"
        sql += f" AND ({', '.join(key.fields)}) {beyond} ({_marks(len(key.fields))})"
        params += key.parse(after)
    order = " DESC" if key.descending else ""
    sql += " ORDER BY " + ", ".join(f + order for f in key.fields) + " LIMIT ?"
    rows = await store.rows(sql, *_sqlite_times(store, params), PAGE_SIZE + 1)
    shown = rows[:PAGE_SIZE]
    end = encode_cursor(sort.value, [_key_value(v) for v in shown[-1][3:]]) if shown else None
    edges = [{"node": node} for node in await nodes(store, shown)]
    return {
        "products": {
            "edges": edges,
            "pageInfo": {"hasNextPage": len(rows) > PAGE_SIZE, "endCursor": end},
        }
    }


def _sqlite_times(store: Store, params: list[Any]) -> list[Any]:
    """Tortoise stores SQLite timestamps as ``str(datetime)``; keys compare as that text."""
    return (
        params
        if store.postgres
        else [p.isoformat(" ") if isinstance(p, datetime) else p for p in params]
    )


async def detail(store: Store, variables: dict[str, Any]) -> dict[str, Any]:
    sql = "SELECT id, title, merchant_id, description FROM product WHERE id = ? AND status = ?"
    rows = await store.rows(sql, from_global_id(variables["id"])[1], ACTIVE)
    found = await nodes(store, rows)
    return {"product": {"description": rows[0][3], **found[0]} if rows else None}


async def update(store: Store, request: Request, variables: dict[str, Any]) -> dict[str, Any]:
    """The description changed by one of the product's merchant's staff."""
    change = variables["input"]
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    user = read_access_token(token, request.app.state.settings).user_id
    product = from_global_id(change["id"])[1]
    allowed = await store.rows(
        "SELECT 1 FROM merchant_staff s JOIN product p ON p.merchant_id = s.merchant_id "
        "WHERE s.user_id = ? AND p.id = ?",
        user,
        product,
    )
    if not allowed:
        return {"productUpdate": {"product": None, "userErrors": [{"code": "FORBIDDEN"}]}}
    now = datetime.now(UTC)
    await store.rows(
        "UPDATE product SET description = ?, updated_at = ? WHERE id = ?",
        change["description"],
        now if store.postgres else now.isoformat(" "),
        product,
    )
    return {"productUpdate": {"product": {"id": change["id"]}, "userErrors": []}}


def served(routes: Callable[[Store], list[Route]]) -> Starlette:
    """An app over one ``Store`` opened for its lifespan (``app.state.store``), with
    ``/readyz``; configured by the same PINTUAN_* variables as the real server."""
    settings = Settings.from_env()
    store = Store(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        app.state.store = store
        app.state.settings = settings
        try:
            yield
        finally:
            await store.close()

    async def readyz(request: Request) -> Response:
        await store.rows("SELECT 1")
        return JSONResponse({"status": "ready"})

    return Starlette(routes=[*routes(store), Route("/readyz", readyz)], lifespan=lifespan)


def baseline_app() -> Starlette:
    """uvicorn factory: the hand-written SQL behind a bare JSON endpoint."""

    def routes(store: Store) -> list[Route]:
        async def graphql(request: Request) -> Response:
            body = await request.json()
            variables = body.get("variables") or {}
            name = body["operationName"]
            try:
                data = (
                    await update(store, request, variables)
                    if name == "Update"
                    else await (page if name == "Page" else detail)(store, variables)
                )
            except InvalidToken:
                return JSONResponse({"errors": [{"message": "UNAUTHENTICATED"}]}, status_code=401)
            return JSONResponse({"data": data})

        return [Route("/graphql", graphql, methods=["POST"])]

    return served(routes)


# --------------------------------------------------------------------------------------
# The plan of requests
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    body: bytes
    write: bool = False
    merchant: int = 0  # whose staff sends a write


def _body(operation: str, query: str, variables: dict[str, Any]) -> bytes:
    return json.dumps({"query": query, "operationName": operation, "variables": variables}).encode()


async def seed(
    database_url: str, products: int
) -> tuple[list[Call], list[tuple[int, int]], dict[int, int]]:
    """Seed; return the reads in popularity order, the products (id, merchant id) in a
    seeded shuffle, and one staff member's user id per merchant."""
    async with harness.Orm(database_url):
        await seed_catalog(products)
        merchants = [m.id for m in await Merchant.all().order_by("id")]
        staff = await harness.users("staff", len(merchants))
        await MerchantStaff.bulk_create(
            [MerchantStaff(merchant_id=m, user_id=u) for m, u in zip(merchants, staff, strict=True)]
        )
        listings: list[list[Call]] = []
        for sort, merchant in [(s, None) for s in ProductSort] + [
            (ProductSort.NEWEST, m) for m in merchants
        ]:
            key = SORT_KEYS[sort]
            query = Product.filter(status=ProductStatus.ACTIVE)
            if merchant is not None:
                query = query.filter(merchant_id=merchant)
            keys = await query.order_by(*key.ordering()).values_list(*key.fields)
            variables: dict[str, Any] = {"sort": sort.value}
            if merchant is not None:
                variables["filter"] = {"merchantId": to_global_id(NodeType.MERCHANT, merchant)}
            cursors = [None] + [
                encode_cursor(sort.value, [_key_value(v) for v in keys[i - 1]])
                for i in range(PAGE_SIZE, len(keys), PAGE_SIZE)
            ]
            listings.append([Call(_body("Page", PAGE, {**variables, "after": c})) for c in cursors])
        active = Product.filter(status=ProductStatus.ACTIVE).order_by("id")
        ids = [(p, m) for p, m in await active.values_list("id", "merchant_id")]
    random.Random(7).shuffle(ids)
    pages = [p for column in itertools.zip_longest(*listings) for p in column if p]
    details = [
        Call(_body("Detail", DETAIL, {"id": to_global_id(NodeType.PRODUCT, i)})) for i, _ in ids
    ]
    reads = [c for pair in itertools.zip_longest(pages, details) for c in pair if c]
    return reads, ids, dict(zip(merchants, staff, strict=True))


def zipf_plan(reads: list[Call], products: list[tuple[int, int]], seed: int) -> list[Call]:
    """PLAN_LENGTH calls: reads drawn by rank with weight 1/rank^s, and WRITE_SHARE writes
    to products drawn the same way (so the popular entries are the ones invalidated)."""
    rng = random.Random(seed)
    weights = list(itertools.accumulate(1 / rank**ZIPF_S for rank in range(1, len(reads) + 1)))
    product_weights = weights[: len(products)]
    plan = []
    for n in range(PLAN_LENGTH):
        if rng.random() >= WRITE_SHARE:
            plan.append(rng.choices(reads, cum_weights=weights)[0])
            continue
        product, merchant = rng.choices(products, cum_weights=product_weights)[0]
        change = {
            "id": to_global_id(NodeType.PRODUCT, product),
            "description": f"Edited, call {n}.",
        }
        plan.append(Call(_body("Update", UPDATE, {"input": change}), True, merchant))
    return plan


# --------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------


async def agree(graphql: str, baseline: str, reads: list[Call]) -> None:
    """Both targets give the same data for reads spread over the plan (pages deep into each
    listing included, so the cursors computed in ``seed`` are ones the server accepts)."""
    async with httpx.AsyncClient(timeout=60.0) as client:
        deep = [call for call in reads if b'"after": "' in call.body]
        for call in reads[:10] + deep[:: max(1, len(deep) // 30)]:
            answers = []
            for url in (graphql, baseline):
                response = await client.post(
                    url + "/graphql", content=call.body, headers=harness.JSON_HEADERS
                )
                answers.append(response.json())
            if answers[0].get("data") != answers[1]["data"] or "errors" in answers[0]:
                raise harness.BenchError(
                    f"targets disagree on {call.body[:200]!r}:\n"
                    f"graphql:  {json.dumps(answers[0])[:600]}\n"
                    f"baseline: {json.dumps(answers[1])[:600]}"
                )


async def measure(
    name: str,
    server: Server,
    plan: list[Call],
    staff: dict[int, dict[str, str]],
    args: argparse.Namespace,
) -> harness.Row:
    row = harness.Row(name, harness.Load(), 0.0)
    url = server.url + "/graphql"
    calls = itertools.cycle(plan)
    async with harness.load_session(args.concurrency) as session:

        async def request(_: int) -> bool:
            call = next(calls)
            headers = staff[call.merchant] if call.write else harness.JSON_HEADERS
            async with session.post(url, data=call.body, headers=headers) as response:
                body = await response.read()
            if not call.write:
                row.reads += 1
                row.hits += response.headers.get("X-Cache") == "HIT"
            return response.status == 200 and b'"errors"' not in body and b'"code"' not in body

        if args.warmup > 0:
            await harness.closed_loop(args.concurrency, args.warmup, request)
        row.hits = row.reads = 0
        before = harness.tree_cpu(server.process.pid)
        row.load = await harness.closed_loop(args.concurrency, args.duration, request)
        row.server_cpu = harness.tree_cpu(server.process.pid) - before
    return row


def bench(args: argparse.Namespace, workdir: Path) -> list[tuple[harness.Row, harness.Row]]:
    database_url = args.database_url or f"sqlite://{workdir / 'bench.db'}"
    harness.run(harness.fresh_database(database_url, args.redis_url))
    reads, products, owners = harness.run(seed(database_url, args.products))
    print(f"database ready: {args.products} products, {len(reads)} distinct reads")
    env = harness.server_env(database_url, args.redis_url, scheduler=False)
    headers = harness.bearer_headers(env["PINTUAN_SECRET_KEY"], owners.values())
    staff = dict(zip(owners, headers, strict=True))
    plans = {"page": reads[:1], "mix": zipf_plan(reads, products, args.seed)}
    baseline = harness.uvicorn_app(
        "bench.catalog:baseline_app", env, args.port + 1, args.workers, workdir
    )
    servers: dict[str, Server] = {}
    try:
        for n, cache in enumerate(args.cache):
            cache_env = {**env, "PINTUAN_RESPONSE_CACHE": "true" if cache == "on" else "false"}
            port = args.port + 2 * n
            servers[f"graphql, cache {cache}"] = harness.pintuan(
                cache_env, port, args.workers, workdir
            )
        if args.floor:
            servers["floor: bare strawberry"] = harness.uvicorn_app(
                "bench.floor:floor_app", env, args.port + 5, args.workers, workdir
            )
        for server in servers.values():
            harness.run(agree(server.url, baseline.url, reads))
        print("answers verified: every target agrees on a sample of pages and products")
        results = []
        for mode in args.modes:
            theirs = harness.run(measure(f"{mode}: baseline", baseline, plans[mode], staff, args))
            for target, server in servers.items():
                ours = harness.run(measure(f"{mode}: {target}", server, plans[mode], staff, args))
                results.append((ours, theirs))
            results.append((theirs, theirs))
        return results
    finally:
        for server in servers.values():
            server.stop()
            for line in harness.log_problems(server)[:8]:
                print(f"server log: {line[:200]}")
        baseline.stop()
        if not args.keep_database:
            harness.run(harness.drop(database_url, args.redis_url))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        help="postgres://... of its own (recreated); default: SQLite in a temporary folder",
    )
    parser.add_argument(
        "--redis-url", help="PINTUAN_REDIS_URL for the server (a database other than 0: flushed)"
    )
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--modes", nargs="+", choices=["page", "mix"], default=["page", "mix"])
    parser.add_argument(
        "--cache",
        nargs="+",
        choices=["off", "on"],
        default=["off", "on"],
        help="the response cache of the GraphQL server (one server each)",
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="measured seconds per target and mode"
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers per server")
    parser.add_argument(
        "--port",
        type=int,
        default=8765,
        help="GraphQL; the baseline uses the next, a second GraphQL server the one after",
    )
    parser.add_argument("--seed", type=int, default=1, help="of the mix's random draws")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also measure a bare Strawberry schema over the baseline's SQL (bench.floor)",
    )
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="pintuan-bench-") as tmp:
            rows = bench(args, Path(tmp))
    except (harness.BenchError, RuntimeError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    backend = "postgresql" if args.database_url else "sqlite"
    print(
        f"\ncatalog, {backend}{' + redis' if args.redis_url else ''}, {args.products} products, "
        f"{args.workers} worker(s), concurrency {args.concurrency}, {args.duration:g}s per row "
        f"after {args.warmup:g}s warm-up; mix: Zipf s={ZIPF_S}, seed {args.seed}, "
        f"{WRITE_SHARE:.0%} writes"
    )
    print(harness.table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

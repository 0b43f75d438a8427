"""The join benchmark's baseline: group purchases written by hand on Starlette and asyncpg.

It answers ``groupStart`` and ``groupJoin`` requests of the shape the load generator
sends with the same guarantees and the same rows as the real server: the JWT checked,
the buyer read, the holds (allowance, slot, offer stock, variant stock) taken by
conditional updates in one transaction, the charge after the commit, the payment in a
second transaction, and each change mirrored to Redis and published. It leaves out
what a hand-written endpoint can: GraphQL, the ORM, the rate limiter, the idempotency
pre-check (the order's unique key still guards retries), the viewer's staff roles.
The same audit then checks its books. Run by ``bench.join_contention``.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pintuan.accounts.tokens import InvalidToken, read_access_token
from pintuan.core.codes import new_code
from pintuan.core.errors import ErrorCode
from pintuan.graphql.ids import NodeType, from_global_id, to_global_id
from pintuan.groupbuys.models import GroupStatus
from pintuan.groupbuys.progress import GroupEvent
from pintuan.settings import Settings

UPDATED_NOTHING = "UPDATE 0"


class Refused(Exception):
    def __init__(self, code: str) -> None:
        self.code = code


def _payload(operation: str, order: Any = None, group: Any = None, code: str = "") -> Any:
    result = {
        "order": {"status": order["status"]} if order else None,
        "group": {
            "id": to_global_id(NodeType.GROUP, group["id"]),
            "slotsLeft": group["size"] - group["slots_taken"],
            "status": group["status"],
        }
        if group
        else None,
        "userErrors": [{"code": code}] if code else [],
    }
    return {"data": {operation: result}}


async def _take_slot(
    db: asyncpg.Connection,
    buyer: int,
    key: str,
    offer: Any,
    group_id: int,
    leader: bool,
    now: datetime,
    payment_due: datetime,
) -> tuple[int, Any]:
    """The holds, in the real server's lock order; raises Refused to roll back."""
    order_id = await db.fetchval(
        'INSERT INTO "customer_order" ("buyer_id", "quantity", "idempotency_key", '
        '"request_hash", "status", "created_at", "kind", "merchant_id", "group_id", '
        '"group_buy_id", "variant_id", "unit_price", "currency", "payment_due_at") '
        "VALUES ($1, 1, $2, $3, 'PENDING_PAYMENT', $4, 'GROUP', $5, $6, $7, $8, $9, $10, $11) "
        'RETURNING "id"',
        buyer,
        key,
        "baseline",
        now,
        offer["merchant_id"],
        group_id,
        offer["id"],
        offer["variant_id"],
        offer["group_price"],
        offer["currency"],
        payment_due,
    )
    if not await db.fetchval(
        'INSERT INTO "offer_allowance" ("group_buy_id", "user_id", "quantity") VALUES ($1, $2, 1) '
        'ON CONFLICT ("group_buy_id", "user_id") DO UPDATE '
        'SET "quantity" = "offer_allowance"."quantity" + 1 '
        'WHERE "offer_allowance"."quantity" + 1 <= $3 RETURNING "id"',
        offer["id"],
        buyer,
        offer["per_user_limit"],
    ):
        raise Refused(ErrorCode.LIMIT_EXCEEDED)
    group = await db.fetchrow(
        'UPDATE "buy_group" SET "slots_taken" = "slots_taken" + 1, "version" = "version" + 1 '
        'WHERE "id" = $1 AND "status" = \'OPEN\' AND "expires_at" > $2 '
        'AND "slots_taken" < "size" RETURNING *',
        group_id,
        now,
    )
    if group is None:
        raise Refused(ErrorCode.GROUP_FULL)
    await db.execute(
        'INSERT INTO "group_member" ("group_id", "user_id", "order_id", "is_leader", "paid", '
        '"joined_at") VALUES ($1, $2, $3, $4, false, $5)',
        group_id,
        buyer,
        order_id,
        leader,
        now,
    )
    offer_stock = await db.execute(
        'UPDATE "group_buy" SET "stock_taken" = "stock_taken" + 1 WHERE "id" = $1 '
        'AND "stock_taken" < "stock_limit" AND "cancelled_at" IS NULL '
        'AND "starts_at" <= $2 AND "ends_at" > $2',
        offer["id"],
        now,
    )
    if offer_stock == UPDATED_NOTHING:
        raise Refused(ErrorCode.OUT_OF_STOCK)
    variant_stock = await db.execute(
        'UPDATE "variant" SET "stock_reserved" = "stock_reserved" + 1 '
        'WHERE "id" = $1 AND "stock_on_hand" >= "stock_reserved" + 1',
        offer["variant_id"],
    )
    if variant_stock == UPDATED_NOTHING:
        raise Refused(ErrorCode.OUT_OF_STOCK)
    return order_id, group


async def _pay(db: asyncpg.Connection, order_id: int, now: datetime) -> tuple[Any, Any]:
    """Charge (instantly, as the instant gateway does), then record it in one transaction."""
    async with db.transaction():
        order = await db.fetchrow(
            'UPDATE "customer_order" SET "status" = \'PAID\', "paid_at" = $2 '
            'WHERE "id" = $1 AND "status" = \'PENDING_PAYMENT\' RETURNING *',
            order_id,
            now,
        )
        await db.execute(
            'INSERT INTO "payment_transaction" ("order_id", "kind", "amount", "currency", '
            '"gateway", "reference", "created_at") VALUES ($1, \'CHARGE\', $2, $3, '
            "'instant', $4, $5)",
            order_id,
            order["unit_price"] * order["quantity"],
            order["currency"],
            f"ch_{order_id}",
            now,
        )
        await db.execute('UPDATE "group_member" SET "paid" = true WHERE "order_id" = $1', order_id)
        group = await db.fetchrow(
            'UPDATE "buy_group" SET "paid_count" = "paid_count" + 1, "version" = "version" + 1, '
            '"status" = CASE WHEN "status" = \'OPEN\' AND "paid_count" + 1 = "size" '
            "THEN 'FILLED' ELSE \"status\" END, "
            '"filled_at" = CASE WHEN "status" = \'OPEN\' AND "paid_count" + 1 = "size" '
            'THEN $2 ELSE "filled_at" END WHERE "id" = $1 RETURNING *',
            order["group_id"],
            now,
        )
        await db.execute(
            'UPDATE "variant" SET "stock_on_hand" = "stock_on_hand" - 1, '
            '"stock_reserved" = "stock_reserved" - 1 WHERE "id" = $1',
            order["variant_id"],
        )
    return order, group


async def _publish(redis: Redis, event: str, group: Any) -> None:
    """Mirror the group's state and announce it, as the live layer does."""
    state: dict[FieldT, EncodableT] = {
        "group_id": group["id"],
        "member_count": group["slots_taken"],
        "paid_count": group["paid_count"],
        "status": group["status"],
        "version": group["version"],
    }
    pipe = redis.pipeline(transaction=False)
    pipe.hset(f"baseline:group:{group['id']}", mapping=state)
    message = json.dumps({"event": event, "state": state})
    pipe.publish(f"baseline:group:{group['id']}", message)
    pipe.publish(f"baseline:offer:{group['group_buy_id']}", message)
    await pipe.execute()


async def purchase(request: Request) -> Response:
    app = request.app
    body = await request.json()
    operation = "groupStart" if "groupStart" in body["query"] else "groupJoin"
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    try:
        buyer = read_access_token(token, app.state.settings).user_id
    except InvalidToken:
        return JSONResponse({"errors": [{"message": "UNAUTHENTICATED"}]}, status_code=401)
    target = body["variables"]["input"]
    now = datetime.now(UTC)
    async with app.state.pool.acquire() as db:
        if await db.fetchval('SELECT "id" FROM "app_user" WHERE "id" = $1', buyer) is None:
            return JSONResponse({"errors": [{"message": "UNAUTHENTICATED"}]}, status_code=401)
        if operation == "groupStart":
            offer_id, group = from_global_id(target["groupBuyId"])[1], None
        else:
            group = await db.fetchrow(
                'SELECT * FROM "buy_group" WHERE "id" = $1', from_global_id(target["groupId"])[1]
            )
            offer_id = group["group_buy_id"]
            if group["status"] != GroupStatus.OPEN or group["expires_at"] <= now:
                return JSONResponse(_payload(operation, code=ErrorCode.GROUP_CLOSED))
            if group["slots_taken"] >= group["size"]:
                return JSONResponse(_payload(operation, code=ErrorCode.GROUP_FULL))
        offer = await db.fetchrow('SELECT * FROM "group_buy" WHERE "id" = $1', offer_id)
        try:
            async with db.transaction():
                if group is None:
                    group = await db.fetchrow(
                        'INSERT INTO "buy_group" ("group_buy_id", "leader_id", "size", '
                        '"slots_taken", "paid_count", "version", "status", "share_code", '
                        '"opened_at", "expires_at") VALUES ($1, $2, $3, 0, 0, 0, \'OPEN\', '
                        "$4, $5, $6) RETURNING *",
                        offer_id,
                        buyer,
                        offer["group_size"],
                        new_code(),
                        now,
                        min(now + timedelta(seconds=offer["duration_seconds"]), offer["ends_at"]),
                    )
                leader = operation == "groupStart"
                key = target["idempotencyKey"]
                window = timedelta(seconds=app.state.settings.payment_window_seconds)
                due = min(now + window, group["expires_at"])
                order_id, joined = await _take_slot(
                    db, buyer, key, offer, group["id"], leader, now, due
                )
        except Refused as refused:
            return JSONResponse(_payload(operation, code=refused.code))
        except asyncpg.UniqueViolationError:
            return JSONResponse(_payload(operation, code=ErrorCode.ALREADY_MEMBER))
        await _publish(app.state.redis, GroupEvent.JOINED, joined)
        order, paid = await _pay(db, order_id, datetime.now(UTC))
    filled = paid["status"] == GroupStatus.FILLED
    await _publish(app.state.redis, GroupEvent.FILLED if filled else GroupEvent.PAID, paid)
    return JSONResponse(_payload(operation, order, paid))


async def readyz(request: Request) -> Response:
    async with request.app.state.pool.acquire() as db:
        await db.fetchval("SELECT 1")
    return JSONResponse({"status": "ready"})


def app() -> Starlette:
    """uvicorn factory; configured by the same PINTUAN_* variables as the real server."""
    settings = Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        dsn = settings.database_url.split("?", 1)[0]
        app.state.pool = await asyncpg.create_pool(dsn, min_size=1, max_size=5)
        app.state.redis = Redis.from_url(os.environ["PINTUAN_REDIS_URL"])
        app.state.settings = settings
        try:
            yield
        finally:
            await app.state.redis.aclose()
            await app.state.pool.close()

    return Starlette(
        routes=[Route("/graphql", purchase, methods=["POST"]), Route("/readyz", readyz)],
        lifespan=lifespan,
    )

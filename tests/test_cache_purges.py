"""Writes made outside the API purge the cached answers that read what they changed.

Each test caches an answer through the API (asked twice: MISS, then HIT), changes it
by a path that is no GraphQL request (the expiry scheduler, the sweep, a lapsed
payment, a payment webhook, the outbox consumer, another process), and asks again.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette
from tortoise.transactions import in_transaction

from pintuan.core import cache_tags, outbox
from pintuan.core.ids import NodeType
from pintuan.core.outbox import Consumer, Event, Handlers
from pintuan.graphql.ids import from_global_id, to_global_id
from pintuan.groupbuys import expiry
from pintuan.groupbuys.gateways import sign_webhook
from pintuan.groupbuys.models import Group, GroupStatus
from pintuan.groupbuys.order_models import Order
from pintuan.groupbuys.runtime import Runtime
from pintuan.groupbuys.scheduler import ExpiryScheduler
from pintuan.settings import Settings
from tests import factories
from tests.conftest import PG_URL, REDIS_URL, TEST_SECRET_KEY, GraphQLClient
from tests.groupbuy_ops import join, start
from tests.servers import running_servers

GROUP = """query G($id: ID!) { group(id: $id) {
  status memberCount members { paid }
  groupBuy { stockRemaining variant { available } } } }"""
PRODUCT = "query P($id: ID!) { product(id: $id) { title } }"
SECRET = "webhook-secret-for-cache-tests"

needs_shared_redis = pytest.mark.skipif(
    not (PG_URL and REDIS_URL), reason="needs PostgreSQL and Redis shared by processes"
)


async def read(http: httpx.AsyncClient, query: str, node_id: str) -> tuple[str, dict[str, Any]]:
    """The cache's verdict and the answer's data."""
    response = await http.post("/graphql", json={"query": query, "variables": {"id": node_id}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return response.headers["x-cache"], body["data"]


async def cached(http: httpx.AsyncClient, query: str, node_id: str) -> dict[str, Any]:
    """The answer, once it is in the cache."""
    first, data = await read(http, query, node_id)
    second, again = await read(http, query, node_id)
    assert (first, second) == ("MISS", "HIT")
    assert again == data
    return data


async def a_group(
    http: httpx.AsyncClient, settings: Settings, *, size: int = 3
) -> tuple[int, str, dict[str, Any]]:
    """A group its leader started; its id, global id and its answer, cached."""
    offer = await factories.offer(group_size=size, stock=10, stock_limit=10)
    leader = factories.bearer(await factories.user(), settings)
    started = await start(GraphQLClient(http), leader, offer.id)
    group = await Group.get(id=from_global_id(started["group"]["id"])[1])
    return group.id, started["group"]["id"], await cached(http, GROUP, started["group"]["id"])


@pytest.mark.parametrize("catch_up", ["scheduler", "sweep"])
async def test_a_group_the_clock_fails_is_seen_failed_and_its_stock_back_on_the_next_read(
    app: Starlette, http: httpx.AsyncClient, settings: Settings, catch_up: str
) -> None:
    group_id, node_id, before = await a_group(http, settings)
    runtime: Runtime = app.state.runtime
    past = datetime.now(UTC) - timedelta(seconds=1)
    await factories.time_group(group_id, past)

    if catch_up == "scheduler":
        await runtime.group_deadlines.schedule(group_id, past)
        assert await ExpiryScheduler(runtime, 5).tick() == 1
    else:
        assert await expiry.sweep(runtime) >= 1
    verdict, after = await read(http, GROUP, node_id)

    assert before["group"]["status"] == "OPEN"
    assert before["group"]["groupBuy"] == {"stockRemaining": 9, "variant": {"available": 9}}
    assert verdict == "MISS"
    assert after["group"]["status"] == "FAILED"
    assert after["group"]["memberCount"] == 1  # paid members stay listed, refunded
    assert after["group"]["groupBuy"] == {"stockRemaining": 10, "variant": {"available": 10}}


@pytest.fixture
async def webhook_http(make_app: Any) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    async with make_app(payment_gateway="webhook", webhook_secret=SECRET) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield app, http


async def deliver(http: httpx.AsyncClient, kind: str, order: Order) -> None:
    event = {
        "id": f"evt_{kind}_{order.id}",
        "type": kind,
        "orderId": to_global_id(NodeType.ORDER, order.id),
        "reference": f"ch_{order.id}",
    }
    body = json.dumps(event).encode()
    signature = sign_webhook(SECRET, body)
    response = await http.post(
        "/webhooks/payments", content=body, headers={"x-pintuan-signature": signature}
    )
    assert response.status_code == 200, response.text


async def test_payments_confirmed_by_webhook_are_seen_on_the_next_read(
    webhook_http: tuple[Starlette, httpx.AsyncClient], settings: Settings
) -> None:
    _, http = webhook_http
    group_id, node_id, _ = await a_group(http, settings, size=2)
    await join(GraphQLClient(http), factories.bearer(await factories.user(), settings), node_id)
    pending = await cached(http, GROUP, node_id)

    for order in await Order.filter(group_id=group_id).order_by("id"):
        await deliver(http, "payment.succeeded", order)
    verdict, paid = await read(http, GROUP, node_id)

    assert pending["group"]["status"] == "OPEN"
    assert [m["paid"] for m in pending["group"]["members"]] == [False, False]
    assert verdict == "MISS"
    assert paid["group"]["status"] == "FILLED"
    assert [m["paid"] for m in paid["group"]["members"]] == [True, True]


async def test_a_payment_failed_by_webhook_frees_its_slot_and_stock_on_the_next_read(
    webhook_http: tuple[Starlette, httpx.AsyncClient], settings: Settings
) -> None:
    _, http = webhook_http
    group_id, node_id, _ = await a_group(http, settings)
    await join(GraphQLClient(http), factories.bearer(await factories.user(), settings), node_id)
    before = await cached(http, GROUP, node_id)
    joiner = await Order.filter(group_id=group_id).order_by("-id").first()
    assert joiner is not None

    await deliver(http, "payment.failed", joiner)
    verdict, after = await read(http, GROUP, node_id)

    assert before["group"]["memberCount"] == 2
    assert verdict == "MISS"
    assert after["group"]["memberCount"] == 1
    assert after["group"]["groupBuy"] == {"stockRemaining": 9, "variant": {"available": 9}}


async def test_a_payment_that_lapses_is_seen_on_the_next_read(
    webhook_http: tuple[Starlette, httpx.AsyncClient], settings: Settings
) -> None:
    app, http = webhook_http
    group_id, node_id, before = await a_group(http, settings)
    runtime: Runtime = app.state.runtime
    order = await Order.get(group_id=group_id)
    past = datetime.now(UTC) - timedelta(seconds=1)
    await Order.filter(id=order.id).update(payment_due_at=past)
    await runtime.payment_deadlines.schedule(order.id, past)

    assert await ExpiryScheduler(runtime, 5).tick() == 1
    verdict, after = await read(http, GROUP, node_id)

    assert before["group"]["groupBuy"]["variant"]["available"] == 9
    assert verdict == "MISS"
    assert after["group"]["status"] == "CANCELLED"  # its leader never paid
    assert after["group"]["groupBuy"] == {"stockRemaining": 10, "variant": {"available": 10}}


async def test_what_an_outbox_handler_writes_is_purged_once_it_commits(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    product = await factories.product(await factories.merchant(), title="Tea")
    node_id = to_global_id(NodeType.PRODUCT, product.id)
    await cached(http, PRODUCT, node_id)

    async def retitle(event: Event) -> None:
        await type(product).filter(id=product.id).update(title="Green tea")
        cache_tags.wrote(cache_tags.entity(NodeType.PRODUCT, product.id))

    handlers = Handlers()
    handlers.register("retitle", ["test.retitle"], retitle)
    async with in_transaction():
        await outbox.emit("test.retitle", {"product": product.id})
    runtime: Runtime = app.state.runtime

    assert await Consumer(handlers, purge=runtime.purge).run_once() == 1
    verdict, after = await read(http, PRODUCT, node_id)

    assert verdict == "MISS"
    assert after["product"]["title"] == "Green tea"


@needs_shared_redis
async def test_a_purge_that_fails_does_not_fail_the_expiry(
    app: Starlette, http: httpx.AsyncClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    group_id, _, _ = await a_group(http, settings)
    async with Redis.from_url(REDIS_URL or "") as redis:
        await redis.set(f"respcache:tag:Group:{group_id}", "not a set")
    past = datetime.now(UTC) - timedelta(seconds=1)
    await factories.time_group(group_id, past)

    assert await expiry.sweep(app.state.runtime) >= 1

    assert (await Group.get(id=group_id)).status == GroupStatus.FAILED
    assert any("purge" in r.message and "failed" in r.message for r in caplog.records)


@needs_shared_redis
async def test_a_group_another_process_expires_is_seen_failed_by_every_process(
    app: Starlette, http: httpx.AsyncClient, settings: Settings
) -> None:
    group_id, node_id, _ = await a_group(http, settings)
    env = {
        "PINTUAN_DATABASE_URL": settings.database_url,
        "PINTUAN_REDIS_URL": settings.redis_url or "",
        "PINTUAN_SECRET_KEY": TEST_SECRET_KEY,
        "PINTUAN_LOG_LEVEL": "WARNING",
    }
    with running_servers(1, {**env, "PINTUAN_RUN_SCHEDULER": "false"}) as [reader]:
        async with httpx.AsyncClient(base_url=reader) as other:
            verdict, before = await read(other, GROUP, node_id)
            await factories.time_group(group_id, datetime.now(UTC) + timedelta(milliseconds=300))
            worker = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "pintuan.cli",
                "worker",
                env={k: v for k, v in os.environ.items() if not k.startswith("PINTUAN_")} | env,
            )
            try:
                # Until the worker has failed the group: well within the answer's age
                # (60 s), so only a purge can show it failed.
                for _ in range(150):
                    seen = await read(other, GROUP, node_id)
                    if seen[1]["group"]["status"] != "OPEN":
                        break
                    await asyncio.sleep(0.1)
            finally:
                worker.terminate()
                await worker.wait()
            again = await read(http, GROUP, node_id)

    assert verdict == "HIT"  # the answer this process cached, from the shared store
    assert before["group"]["status"] == "OPEN"
    assert seen[1]["group"]["status"] == again[1]["group"]["status"] == "FAILED"
    assert again[0] == "HIT"  # the other process's fresh answer, shared

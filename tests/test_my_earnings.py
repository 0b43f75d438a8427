"""``subscription myEarnings``: a signed-in user hears of each of their ledger entries
as it is created or changes state, after the change commits, from any process,
and never of anyone else's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from redis.asyncio import Redis
from starlette.applications import Starlette
from tortoise.transactions import in_transaction

from pintuan.accounts.models import User
from pintuan.core.outbox import Consumer
from pintuan.graphql.ids import NodeType, from_global_id, to_global_id
from pintuan.groupbuys.events import ORDER_REFUNDED, order_changed
from pintuan.groupbuys.expiry import expire_group
from pintuan.groupbuys.order_models import Order
from pintuan.reactions import outbox_handlers
from pintuan.referrals import earnings_feed
from pintuan.referrals.earnings_feed import EarningsFeed
from pintuan.referrals.releases import run_releases
from pintuan.settings import Settings
from tests import factories
from tests.conftest import PG_URL, REDIS_URL, TEST_SECRET_KEY, GraphQLClient
from tests.groupbuy_ops import purchase
from tests.ledger_ops import COMPLETE, mark_refunded
from tests.servers import running_servers
from tests.test_commissions_end_to_end import PRICE, RATE, Shop, tiered_shop
from tests.test_live_progress import (
    WAIT_SECONDS,
    Subscription,
    refusal,
    subscribe,
    wait_for_listener,
)
from tests.test_share_links import buy_with, link_to

EARNINGS = """subscription { myEarnings { change changedAt
  commission { orderId kind entryType status amount { amount currency } planVersion rule
    createdAt availableAt reversedAt } } }"""
COMMISSION = PRICE * RATE // 10_000


def init(headers: dict[str, str]) -> dict[str, str]:
    return {"authorization": headers["authorization"]}


async def consume(app: Starlette, settings: Settings) -> None:
    """Deliver the outbox as a server's consumer does, announcing on the app's live layer."""
    consumer = Consumer(outbox_handlers(settings, app.state.runtime.bus))
    while await consumer.run_once():
        pass


@asynccontextmanager
async def listening(app: Starlette, user: User, settings: Settings) -> AsyncIterator[Subscription]:
    """``user``'s myEarnings subscription, once its channel is subscribed in Redis."""
    async with subscribe(app, EARNINGS, {}, init(factories.bearer(user, settings))) as live:
        await wait_for_listener(app.state.runtime.redis, earnings_feed.channel(user.id))
        yield live


async def owner_of(gql: GraphQLClient, store: Shop) -> User:
    owner = await factories.user()
    await store.enrol(gql, owner)
    return owner


async def emit_refund(order_id: str) -> None:
    """An after-sale refund of a completed order, with its outbox event (the order
    domain has no after-sale flow yet)."""
    await mark_refunded(order_id)
    async with in_transaction():
        await order_changed(ORDER_REFUNDED, await Order.get(id=from_global_id(order_id)[1]))


async def test_an_earning_is_heard_when_created_released_and_reversed(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    store = await tiered_shop(gql, settings)
    owner = await owner_of(gql, store)
    code = await link_to(gql, factories.bearer(owner, settings), store.offer)
    shopper = factories.bearer(await factories.user(), settings)
    feed = EarningsFeed(app.state.runtime.bus)

    async with listening(app, owner, settings) as live:
        order = (await buy_with(gql, shopper, store.offer, code))["order"]
        await consume(app, settings)
        created = await live.event()

        completed = await gql(COMPLETE, {"id": order["id"]}, store.staff)
        assert completed["data"]["orderComplete"]["userErrors"] == []
        await consume(app, settings)  # completion moves no state: nothing is sent
        releases = asyncio.create_task(run_releases(0, 1, feed))
        try:
            released = await live.event()
        finally:
            releases.cancel()
        await emit_refund(order["id"])
        await consume(app, settings)
        reversal = await live.event()

    assert created["change"] == "CREATED"
    assert created["commission"] | {"createdAt": None} == {
        "orderId": order["id"],
        "kind": "SALES_COMMISSION",
        "entryType": "EARNING",
        "status": "PENDING",
        "amount": {"amount": COMMISSION, "currency": "CNY"},
        "planVersion": 1,
        "rule": created["commission"]["rule"],
        "createdAt": None,
        "availableAt": None,
        "reversedAt": None,
    }
    assert created["changedAt"] == created["commission"]["createdAt"]
    assert (released["change"], released["commission"]["status"]) == ("AVAILABLE", "AVAILABLE")
    assert released["changedAt"] == released["commission"]["availableAt"]
    assert (reversal["change"], reversal["commission"]["entryType"]) == ("CREATED", "REVERSAL")
    assert reversal["commission"]["status"] == "AVAILABLE"
    assert reversal["commission"]["amount"]["amount"] == -COMMISSION


async def test_a_refund_while_pending_is_heard_as_reversed(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    store = await tiered_shop(gql, settings)
    owner = await owner_of(gql, store)
    code = await link_to(gql, factories.bearer(owner, settings), store.offer)
    target: dict[str, Any] = {
        "groupBuyId": to_global_id(NodeType.GROUP_BUY, store.offer.id),
        "ref": code,
    }
    buyer = factories.bearer(await factories.user(), settings)

    async with listening(app, owner, settings) as live:
        started = await purchase(
            gql, buyer, "groupStart", target, idempotency_key=None, token="tok_visa", quantity=1
        )
        await consume(app, settings)
        created = await live.event()
        group_pk = from_global_id(started["group"]["id"])[1]
        await factories.time_group(group_pk, datetime.now(UTC) - timedelta(seconds=1))
        assert await expire_group(group_pk, app.state.runtime)
        await consume(app, settings)
        reversed_ = await live.event()

    assert (created["change"], created["commission"]["status"]) == ("CREATED", "PENDING")
    assert (reversed_["change"], reversed_["commission"]["status"]) == ("REVERSED", "REVERSED")
    assert reversed_["changedAt"] == reversed_["commission"]["reversedAt"]


async def test_no_one_hears_of_anyone_elses_entries(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    store = await tiered_shop(gql, settings)
    first, second = await owner_of(gql, store), await owner_of(gql, store)
    codes = [
        await link_to(gql, factories.bearer(owner, settings), store.offer)
        for owner in (first, second)
    ]
    shopper = factories.bearer(await factories.user(), settings)

    async with listening(app, second, settings) as theirs:
        mine = (await buy_with(gql, shopper, store.offer, codes[0]))["order"]
        await consume(app, settings)  # announced on the first owner's channel only
        own = (await buy_with(gql, shopper, store.offer, codes[1]))["order"]
        await consume(app, settings)
        heard = await theirs.event()

    # Redis delivers one connection's messages in the order they were published, so
    # had the first owner's entry reached this socket it would have come first.
    assert heard["commission"]["orderId"] == own["id"] != mine["id"]


async def test_an_anonymous_caller_cannot_subscribe(app: Starlette) -> None:
    async with subscribe(app, EARNINGS, {}) as live:
        assert await refusal(live) == ["UNAUTHENTICATED"]


@pytest.mark.skipif(
    not (PG_URL and REDIS_URL), reason="needs PostgreSQL and Redis shared by processes"
)
async def test_a_subscriber_on_one_server_hears_earnings_consumed_by_another(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    store = await tiered_shop(gql, settings)
    owner = await owner_of(gql, store)
    code = await link_to(gql, factories.bearer(owner, settings), store.offer)
    shopper = factories.bearer(await factories.user(), settings)
    env = {
        "PINTUAN_DATABASE_URL": settings.database_url,
        "PINTUAN_REDIS_URL": settings.redis_url or "",
        "PINTUAN_SECRET_KEY": TEST_SECRET_KEY,
        "PINTUAN_RUN_SCHEDULER": "false",
        "PINTUAN_OUTBOX_POLL_MILLISECONDS": "20",
        "PINTUAN_LOG_LEVEL": "WARNING",
    }
    redis = Redis.from_url(settings.redis_url or "", decode_responses=True)
    try:
        with running_servers(2, env) as (server_a, server_b):
            transport = WebsocketsTransport(
                url=server_a.replace("http://", "ws://") + "/graphql",
                subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
                init_payload=init(factories.bearer(owner, settings)),
            )
            async with asyncio.timeout(3 * WAIT_SECONDS), Client(transport=transport) as session:
                stream = session.subscribe(GraphQLRequest(EARNINGS))
                waiting = asyncio.create_task(anext(stream))
                await wait_for_listener(redis, earnings_feed.channel(owner.id))
                order = await buy_on(server_b, shopper, store, code)
                heard = (await waiting)["myEarnings"]
    finally:
        await redis.aclose()

    assert heard["change"] == "CREATED"
    assert heard["commission"]["orderId"] == order
    assert heard["commission"]["amount"]["amount"] == COMMISSION


async def buy_on(server: str, shopper: dict[str, str], store: Shop, code: str) -> str:
    async with httpx.AsyncClient(base_url=server) as http:
        bought = await buy_with(GraphQLClient(http), shopper, store.offer, code)
    order_id: str = bought["order"]["id"]
    return order_id

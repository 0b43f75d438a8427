"""A group whose leader's payment falls through closes with it: no one sees or joins it,
and nothing stays held, on either payment gateway."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from pintuan.graphql.ids import NodeType, from_global_id, to_global_id
from pintuan.groupbuys import expiry
from pintuan.groupbuys.gateways import sign_webhook
from pintuan.groupbuys.models import GroupBuy
from pintuan.groupbuys.order_models import Order
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient
from tests.groupbuy_ops import codes, join, start
from tests.test_live_progress import PROGRESS, subscribe

SECRET = "webhook-secret-for-tests"
OFFER_STATE = """query($id: ID!) { groupBuy(id: $id) { stockRemaining
  openGroups(first: 10) { totalCount edges { node { id } } } } }"""
GROUP_STATE = """query($id: ID!) { group(id: $id) { status } }"""


@pytest.fixture
async def webhook_app(make_app: Any) -> AsyncIterator[Starlette]:
    async with make_app(payment_gateway="webhook", webhook_secret=SECRET) as app:
        yield app


@pytest.fixture
async def webhook_gql(webhook_app: Starlette) -> AsyncIterator[GraphQLClient]:
    transport = httpx.ASGITransport(app=webhook_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield GraphQLClient(http)


async def deliver(gql: GraphQLClient, kind: str, order_id: str, event_id: str) -> str:
    body = json.dumps({"id": event_id, "type": kind, "orderId": order_id, "reference": "ch_1"})
    response = await gql.http.post(
        "/webhooks/payments",
        content=body.encode(),
        headers={"x-pintuan-signature": sign_webhook(SECRET, body.encode())},
    )
    outcome: str = response.json()["outcome"]
    return outcome


async def assert_gone_and_nothing_held(
    gql: GraphQLClient, settings: Settings, offer: GroupBuy, group: dict[str, Any]
) -> None:
    """The group is closed to everyone and the offer's stock and allowances are whole."""
    offer_id = to_global_id(NodeType.GROUP_BUY, offer.id)
    state = (await gql(OFFER_STATE, {"id": offer_id}))["data"]["groupBuy"]
    assert state["openGroups"] == {"totalCount": 0, "edges": []}
    assert state["stockRemaining"] == offer.stock_limit
    read = (await gql(GROUP_STATE, {"id": group["id"]}))["data"]["group"]
    assert read == {"status": "CANCELLED"}
    stranger = factories.bearer(await factories.user(), settings)
    assert codes(await join(gql, stranger, share_code=group["shareCode"])) == ["GROUP_CLOSED"]
    assert codes(await join(gql, stranger, group["id"])) == ["GROUP_CLOSED"]


async def test_a_declined_start_leaves_no_group_anyone_can_see_or_join(
    gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer(group_size=2, stock=10, stock_limit=10, per_user_limit=2)
    leader = factories.bearer(await factories.user(), settings)

    declined = await start(gql, leader, offer.id, quantity=2, token="tok_decline")

    assert codes(declined) == ["PAYMENT_DECLINED"]
    assert declined["order"]["status"] == "CANCELLED"
    assert declined["group"]["status"] == "CANCELLED"
    await assert_gone_and_nothing_held(gql, settings, offer, declined["group"])
    # The leader's whole allowance is back: the same shopper may start again at the limit.
    again = await start(gql, leader, offer.id, quantity=2)
    assert again["userErrors"] == []
    assert again["group"]["status"] == "OPEN"


async def test_a_failed_leader_payment_closes_the_group_and_makes_its_members_whole(
    webhook_app: Starlette, webhook_gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer(group_size=3, stock=10, stock_limit=10)
    started = await start(webhook_gql, factories.bearer(await factories.user(), settings), offer.id)
    group = started["group"]
    paid = await join(webhook_gql, factories.bearer(await factories.user(), settings), group["id"])
    pending = await join(
        webhook_gql, factories.bearer(await factories.user(), settings), group["id"]
    )
    assert await deliver(webhook_gql, "payment.succeeded", paid["order"]["id"], "evt_p") == "PAID"

    async with subscribe(webhook_app, PROGRESS, {"id": group["id"]}) as live:
        assert (await live.event())["memberCount"] == 3
        outcome = await deliver(webhook_gql, "payment.failed", started["order"]["id"], "evt_f")
        closing = await live.until_complete()

    assert outcome == "DECLINED"
    assert [(e["event"], e["status"]) for e in closing] == [("CANCELLED", "CANCELLED")]
    statuses = {
        order_id: (await Order.get(id=from_global_id(order_id)[1])).status.value
        for order_id in (started["order"]["id"], paid["order"]["id"], pending["order"]["id"])
    }
    assert list(statuses.values()) == ["CANCELLED", "REFUNDED", "CANCELLED"]
    await assert_gone_and_nothing_held(webhook_gql, settings, offer, group)


async def test_a_lapsed_leader_payment_window_closes_the_group(
    webhook_app: Starlette, webhook_gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer(group_size=2, stock=10, stock_limit=10)
    started = await start(webhook_gql, factories.bearer(await factories.user(), settings), offer.id)
    lapsed = datetime.now(UTC) - timedelta(seconds=1)
    await Order.filter(id=from_global_id(started["order"]["id"])[1]).update(payment_due_at=lapsed)

    await expiry.sweep(webhook_app.state.runtime)

    assert (await Order.get()).failure_code == "PAYMENT_EXPIRED"
    await assert_gone_and_nothing_held(webhook_gql, settings, offer, started["group"])

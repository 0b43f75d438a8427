"""Merchants list the orders ready to ship, then complete each once, never a refundable one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.applications import Starlette

from pintuan.accounts import apikeys
from pintuan.accounts.models import ApiKeyKind, Merchant
from pintuan.graphql.ids import NodeType, from_global_id, to_global_id
from pintuan.groupbuys.expiry import expire_group
from pintuan.groupbuys.order_models import Order
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient
from tests.groupbuy_ops import buy, join, start

COMPLETE = """mutation($id: ID!) { orderComplete(id: $id) {
  order { id status paidAt completedAt } userErrors { field code message } } }"""


async def shopper(settings: Settings) -> dict[str, str]:
    return factories.bearer(await factories.user(), settings)


async def staff_of(owner: Merchant, settings: Settings) -> dict[str, str]:
    return factories.bearer(await factories.user(staff_of=owner), settings)


async def complete(gql: GraphQLClient, order_id: str, headers: dict[str, str]) -> dict[str, Any]:
    body = await gql(COMPLETE, {"id": order_id}, headers)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["orderComplete"]
    return payload


def refusal(payload: dict[str, Any]) -> str:
    assert payload["order"] is None
    (error,) = payload["userErrors"]
    assert error["field"] == "id"
    return str(error["code"])


async def filled_group_orders(owner: Merchant, settings: Settings, gql: GraphQLClient) -> list[str]:
    offer = await factories.offer(owner, group_size=2)
    started = await start(gql, await shopper(settings), offer.id)
    joined = await join(gql, await shopper(settings), started["group"]["id"])
    assert joined["group"]["status"] == "FILLED"
    return [started["order"]["id"], joined["order"]["id"]]


async def test_staff_complete_orders_of_filled_groups_and_solo_orders(
    gql: GraphQLClient, settings: Settings
) -> None:
    owner = await factories.merchant()
    staff = await staff_of(owner, settings)
    leader_order, member_order = await filled_group_orders(owner, settings, gql)
    item = await factories.offer(owner)
    solo = (await buy(gql, await shopper(settings), item.variant_id))["order"]["id"]

    done = [await complete(gql, order_id, staff) for order_id in (leader_order, solo)]

    for payload in done:
        assert payload["userErrors"] == []
        assert payload["order"]["status"] == "COMPLETED"
        completed_at = datetime.fromisoformat(payload["order"]["completedAt"])
        assert completed_at >= datetime.fromisoformat(payload["order"]["paidAt"])
    listed = await gql(
        "query($m: ID!) { merchantOrders(merchantId: $m, status: COMPLETED) { "
        "edges { node { id } } } }",
        {"m": to_global_id(NodeType.MERCHANT, owner.id)},
        staff,
    )
    edges = listed["data"]["merchantOrders"]["edges"]
    assert {edge["node"]["id"] for edge in edges} == {leader_order, solo}
    member = await Order.get(id=from_global_id(member_order)[1])
    assert (member.status, member.completed_at) == ("PAID", None)


@pytest.mark.usefixtures("needs_concurrency")
async def test_an_order_completes_once_however_many_ask_at_once(
    gql: GraphQLClient, settings: Settings
) -> None:
    owner = await factories.merchant()
    staff = await staff_of(owner, settings)
    order_id, _ = await filled_group_orders(owner, settings, gql)

    payloads = await asyncio.gather(*(complete(gql, order_id, staff) for _ in range(10)))

    done = [p for p in payloads if not p["userErrors"]]
    assert len(done) == 1
    assert [refusal(p) for p in payloads if p["userErrors"]] == ["ALREADY_COMPLETED"] * 9
    stored = await Order.get(id=from_global_id(order_id)[1])
    assert stored.completed_at == datetime.fromisoformat(done[0]["order"]["completedAt"])


async def test_orders_that_may_still_be_refunded_or_were_never_paid_do_not_complete(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    owner = await factories.merchant()
    staff = await staff_of(owner, settings)
    offer = await factories.offer(owner, group_size=3)
    forming = await start(gql, await shopper(settings), offer.id)
    declined = await start(gql, await shopper(settings), offer.id, token="tok_decline")
    failing = await start(gql, await shopper(settings), offer.id)
    failed_pk = from_global_id(failing["group"]["id"])[1]
    await factories.time_group(failed_pk, datetime.now(UTC) - timedelta(seconds=1))
    assert await expire_group(failed_pk, app.state.runtime)
    before = sorted(await Order.all().values_list("id", "status", "completed_at"))

    cases = [
        (forming["order"]["id"], "GROUP_NOT_FILLED"),
        (declined["order"]["id"], "ORDER_NOT_PAID"),  # cancelled
        (failing["order"]["id"], "ORDER_NOT_PAID"),  # refunded when its group failed
    ]
    for order_id, code in cases:
        assert refusal(await complete(gql, order_id, staff)) == code, order_id

    assert sorted(await Order.all().values_list("id", "status", "completed_at")) == before


async def test_only_the_merchant_completes_its_orders(
    gql: GraphQLClient, settings: Settings
) -> None:
    owner, other = await factories.merchant(), await factories.merchant()
    buyer = await shopper(settings)
    item = await factories.offer(owner)
    order_id = (await buy(gql, buyer, item.variant_id))["order"]["id"]
    other_key = await apikeys.create_key(other.id, ApiKeyKind.SECRET, "theirs", [])

    for headers, code in (
        ({}, "UNAUTHENTICATED"),
        (buyer, "FORBIDDEN"),
        (await staff_of(other, settings), "FORBIDDEN"),
        ({"x-pintuan-key": other_key.secret}, "FORBIDDEN"),
    ):
        refused = await gql(COMPLETE, {"id": order_id}, headers)
        assert refused["data"] is None
        assert refused["errors"][0]["extensions"]["code"] == code
    assert (await Order.get(id=from_global_id(order_id)[1])).completed_at is None

    own_key = await apikeys.create_key(owner.id, ApiKeyKind.SECRET, "fulfilment", [])
    by_key = await complete(gql, order_id, {"x-pintuan-key": own_key.secret})
    assert by_key["order"]["status"] == "COMPLETED"
    unknown = to_global_id(NodeType.ORDER, 987_654)
    assert refusal(await complete(gql, unknown, await staff_of(owner, settings))) == "NOT_FOUND"


async def test_merchants_list_the_orders_ready_to_fulfil(
    gql: GraphQLClient, settings: Settings
) -> None:
    owner = await factories.merchant()
    staff = await staff_of(owner, settings)
    filled_leader, filled_member = await filled_group_orders(owner, settings, gql)
    item = await factories.offer(owner, group_size=3)
    forming = (await start(gql, await shopper(settings), item.id))["order"]["id"]
    solo = (await buy(gql, await shopper(settings), item.variant_id))["order"]["id"]
    declined = await buy(gql, await shopper(settings), item.variant_id, token="tok_decline")
    assert (await complete(gql, filled_member, staff))["userErrors"] == []
    query = """query($m: ID!, $ready: Boolean, $after: String) {
      merchantOrders(merchantId: $m, readyToFulfil: $ready, first: 1, after: $after) {
        edges { node { id readyToFulfil } } pageInfo { hasNextPage endCursor } } }"""

    async def listed(ready: bool | None) -> list[tuple[str, bool]]:
        nodes, after = [], None
        while True:
            variables = {
                "m": to_global_id(NodeType.MERCHANT, owner.id),
                "ready": ready,
                "after": after,
            }
            page = (await gql(query, variables, staff))["data"]["merchantOrders"]
            nodes += [(edge["node"]["id"], edge["node"]["readyToFulfil"]) for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return nodes
            after = page["pageInfo"]["endCursor"]

    everything = dict(await listed(None))
    ready = {solo, filled_leader}
    assert everything == {
        order_id: order_id in ready
        for order_id in (filled_leader, filled_member, forming, solo, declined["order"]["id"])
    }
    assert dict(await listed(True)) == dict.fromkeys(ready, True)
    assert dict(await listed(False)) == {i: False for i in everything if i not in ready}

"""GraphQL documents and calls shared by the group-buy tests."""

from __future__ import annotations

import uuid
from typing import Any

from pintuan.graphql.ids import NodeType, to_global_id
from tests.conftest import GraphQLClient

PURCHASE_FIELDS = """order { id kind status quantity unitPrice { amount } total { amount currency }
    paidAt refundedAt }
  group { id status memberCount slotsLeft size shareCode expiresAt secondsLeft filledAt }
  userErrors { field code message }"""
START = f"""mutation($i: GroupStartInput!) {{ groupStart(input: $i) {{ {PURCHASE_FIELDS} }} }}"""
JOIN = f"""mutation($i: GroupJoinInput!) {{ groupJoin(input: $i) {{ {PURCHASE_FIELDS} }} }}"""
BUY = f"""mutation($i: OrderCreateInput!) {{ orderCreate(input: $i) {{ {PURCHASE_FIELDS} }} }}"""
UPDATE_OFFER = """mutation($i: GroupBuyUpdateInput!) { groupBuyUpdate(input: $i) {
  groupBuy { groupSize endsAt } userErrors { code } } }"""


def key() -> str:
    return uuid.uuid4().hex


async def purchase(
    gql: GraphQLClient,
    headers: dict[str, str],
    mutation: str,
    target: dict[str, Any],
    *,
    idempotency_key: str | None,
    token: str,
    quantity: int,
) -> dict[str, Any]:
    """Send one purchase mutation; ``target`` names what is bought into."""
    document = {"groupStart": START, "groupJoin": JOIN, "orderCreate": BUY}[mutation]
    purchase_input = target | {
        "quantity": quantity,
        "idempotencyKey": idempotency_key or key(),
        "paymentToken": token,
    }
    body = await gql(document, {"i": purchase_input}, headers)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"][mutation]
    return result


async def start(
    gql: GraphQLClient,
    headers: dict[str, str],
    offer_id: int,
    *,
    idempotency_key: str | None = None,
    token: str = "tok_visa",
    quantity: int = 1,
) -> dict[str, Any]:
    target = {"groupBuyId": to_global_id(NodeType.GROUP_BUY, offer_id)}
    return await purchase(
        gql,
        headers,
        "groupStart",
        target,
        idempotency_key=idempotency_key,
        token=token,
        quantity=quantity,
    )


async def join(
    gql: GraphQLClient,
    headers: dict[str, str],
    group_id: str | None = None,
    *,
    share_code: str | None = None,
    idempotency_key: str | None = None,
    token: str = "tok_visa",
    quantity: int = 1,
) -> dict[str, Any]:
    target = {"groupId": group_id} if group_id else {"shareCode": share_code}
    return await purchase(
        gql,
        headers,
        "groupJoin",
        target,
        idempotency_key=idempotency_key,
        token=token,
        quantity=quantity,
    )


async def buy(
    gql: GraphQLClient,
    headers: dict[str, str],
    variant_id: int,
    *,
    idempotency_key: str | None = None,
    token: str = "tok_visa",
    quantity: int = 1,
) -> dict[str, Any]:
    target = {"variantId": to_global_id(NodeType.VARIANT, variant_id)}
    return await purchase(
        gql,
        headers,
        "orderCreate",
        target,
        idempotency_key=idempotency_key,
        token=token,
        quantity=quantity,
    )


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]

"""Orders that earned commissions, and the GraphQL calls the ledger tests share.

Earnings are posted by calling ``post_earnings`` (what the outbox consumer will
call); everything a user or an admin does goes through the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from pintuan.accounts.models import Merchant, User
from pintuan.core.clock import now_utc
from pintuan.graphql.ids import from_global_id
from pintuan.groupbuys.ledger import record_money
from pintuan.groupbuys.order_models import Order, OrderStatus, TransactionKind
from pintuan.referrals import ledger
from pintuan.referrals.settlement import Earning, EarningKind
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient
from tests.groupbuy_ops import buy, key

ME = """query($status: CommissionStatus, $first: Int, $after: String) { me {
  balance { pending { amount currency } available { amount currency } }
  commissions(first: $first, after: $after, status: $status) {
    edges { node { orderId kind entryType amount { amount currency } status planVersion rule
      createdAt availableAt reversedAt } }
    pageInfo { hasNextPage endCursor } }
  withdrawals { edges { node { id amount { amount } status reason } } } } }"""
COMPLETE = """mutation($id: ID!) { orderComplete(id: $id) { order { completedAt }
  userErrors { code } } }"""
REQUEST = """mutation($amount: Int!, $key: String!, $currency: String) {
  withdrawalRequest(amount: $amount, idempotencyKey: $key, currency: $currency) {
    withdrawal { id amount { amount currency } status requestedAt decidedAt reason
      user { id } }
    userErrors { field code message } } }"""
MARK_PAID = """mutation($id: ID!) { withdrawalMarkPaid(id: $id) {
  withdrawal { id status decidedAt } userErrors { field code message } } }"""
REJECT = """mutation($id: ID!, $reason: String!) { withdrawalReject(id: $id, reason: $reason) {
  withdrawal { id status reason decidedAt } userErrors { field code message } } }"""


@dataclass
class Shop:
    """A merchant with staff who complete orders, and a shopper who buys."""

    merchant: Merchant
    staff: dict[str, str]
    shopper: dict[str, str]
    variant_id: int


async def shop(settings: Settings) -> Shop:
    owner = await factories.merchant()
    staff = factories.bearer(await factories.user(staff_of=owner), settings)
    shopper = factories.bearer(await factories.user(), settings)
    offer = await factories.offer(owner, stock=1000, stock_limit=500)
    return Shop(owner, staff, shopper, offer.variant_id)


async def paid_order(gql: GraphQLClient, store: Shop) -> str:
    """A paid order bought alone (ready to complete); its global ID."""
    payload = await buy(gql, store.shopper, store.variant_id)
    assert payload["userErrors"] == [], payload
    order_id: str = payload["order"]["id"]
    return order_id


def pk(global_id: str) -> int:
    return from_global_id(global_id)[1]


def earning(
    beneficiary: User | int,
    amount: int,
    kind: str = "SALES_COMMISSION",
    *,
    plan_version: int = 1,
    rule: str = "sales-rate",
) -> Earning:
    """What a plan would hand the ledger: ``amount`` earned by ``beneficiary``, seller level."""
    user_id = beneficiary if isinstance(beneficiary, int) else beneficiary.id
    return Earning(user_id, EarningKind(kind), amount, rule, 1, plan_version, 1)


async def earn(gql: GraphQLClient, store: Shop, beneficiary: User, amount: int) -> str:
    """A paid order that earned ``beneficiary`` ``amount``, still PENDING."""
    order_id = await paid_order(gql, store)
    assert await ledger.post_earnings(pk(order_id), [earning(beneficiary, amount)]) == 1
    return order_id


async def complete(gql: GraphQLClient, store: Shop, order_id: str) -> datetime:
    """The merchant completes the order and the ledger hears of it; its completion time."""
    body = await gql(COMPLETE, {"id": order_id}, store.staff)
    assert body["data"]["orderComplete"]["userErrors"] == [], body
    await ledger.on_order_completed(pk(order_id))
    return datetime.fromisoformat(body["data"]["orderComplete"]["order"]["completedAt"])


async def release_after_freeze(completed_at: datetime, settings: Settings) -> int:
    freeze = settings.commission_freeze_seconds
    return await ledger.release_due(completed_at + timedelta(seconds=freeze), freeze)


async def earn_available(
    gql: GraphQLClient, store: Shop, beneficiary: User, amount: int, settings: Settings
) -> str:
    """An order whose ``amount`` for ``beneficiary`` has become AVAILABLE."""
    order_id = await earn(gql, store, beneficiary, amount)
    assert await release_after_freeze(await complete(gql, store, order_id), settings) == 1
    return order_id


async def mark_refunded(order_id: str) -> None:
    """An after-sale refund of a completed order, recorded as the order's domain
    records refunds (it has no after-sale flow yet)."""
    async with in_transaction():
        changed = await Order.filter(id=pk(order_id), status=OrderStatus.COMPLETED).update(
            status=OrderStatus.REFUNDED, refunded_at=now_utc()
        )
        assert changed == 1
        order = await Order.get(id=pk(order_id))
        await record_money(order, TransactionKind.REFUND, "instant", f"re_after_sale_{order.id}")


async def refund_after_completion(order_id: str) -> None:
    """An after-sale refund, and the ledger hearing of it."""
    await mark_refunded(order_id)
    assert await ledger.on_order_refunded(pk(order_id)) >= 1


async def me(gql: GraphQLClient, headers: dict[str, str], **variables: Any) -> dict[str, Any]:
    body = await gql(ME, variables, headers)
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]["me"]
    return found


async def balance(gql: GraphQLClient, headers: dict[str, str]) -> tuple[int, int]:
    """(pending, available) in minor units."""
    sums = (await me(gql, headers))["balance"]
    return sums["pending"]["amount"], sums["available"]["amount"]


async def request(
    gql: GraphQLClient,
    headers: dict[str, str],
    amount: int,
    idempotency_key: str | None = None,
    currency: str | None = None,
) -> dict[str, Any]:
    chosen = key() if idempotency_key is None else idempotency_key
    variables = {"amount": amount, "key": chosen, "currency": currency}
    body = await gql(REQUEST, variables, headers)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["withdrawalRequest"]
    return payload


async def decide(
    gql: GraphQLClient, headers: dict[str, str], document: str, **variables: Any
) -> dict[str, Any]:
    body = await gql(document, variables, headers)
    assert "errors" not in body, body
    payload: dict[str, Any] = next(iter(body["data"].values()))
    return payload

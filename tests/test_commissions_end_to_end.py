"""From a share to money: an order bought through an owner's link earns, through the
outbox, the plan in force, the tree and the ledger, with no call from group buys."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.applications import Starlette

from pintuan.accounts.models import Merchant, User
from pintuan.core.outbox import Consumer
from pintuan.graphql.ids import NodeType, from_global_id, to_global_id
from pintuan.groupbuys.expiry import expire_group
from pintuan.groupbuys.models import GroupBuy
from pintuan.reactions import outbox_handlers
from pintuan.referrals import settle
from pintuan.referrals.ledger_models import CommissionEntry
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient
from tests.groupbuy_ops import purchase
from tests.ledger_ops import COMPLETE, balance, refund_after_completion, release_after_freeze
from tests.test_commission_plans import ENROLL, PUBLISH, tiered_input
from tests.test_share_links import buy_with, link_to, visit

PRICE = 20_000  # ¥200.00: the offer's solo price, what an order bought alone pays
RATE = 1_000  # 10%


async def consume(settings: Settings) -> None:
    consumer = Consumer(outbox_handlers(settings))
    while await consumer.run_once():
        pass


async def entries() -> set[tuple[int, str, int, str]]:
    rows = await CommissionEntry.all()
    return {(e.beneficiary_id, e.kind, e.amount, e.state.value) for e in rows}


class Shop:
    def __init__(self, merchant: Merchant, staff: dict[str, str], offer: GroupBuy) -> None:
        self.merchant, self.staff, self.offer = merchant, staff, offer

    async def enrol(self, gql: GraphQLClient, user: User) -> None:
        variables = {
            "i": {
                "merchantId": to_global_id(NodeType.MERCHANT, self.merchant.id),
                "userId": to_global_id(NodeType.USER, user.id),
                "tier": "OWNER",
            }
        }
        assert (await gql(ENROLL, variables, self.staff))["data"]["planMemberEnroll"][
            "userErrors"
        ] == []


async def tiered_shop(gql: GraphQLClient, settings: Settings) -> Shop:
    merchant = await factories.merchant()
    staff = factories.bearer(await factories.user(staff_of=merchant), settings)
    offer = await factories.offer(merchant, solo_price=PRICE, group_price=15_000, group_size=3)
    published = await gql(PUBLISH, {"i": tiered_input(merchant, rate=RATE)}, staff)
    assert published["data"]["commissionPlanPublish"]["userErrors"] == []
    return Shop(merchant, staff, offer)


async def owner_under_inviter(
    gql: GraphQLClient, settings: Settings, store: Shop
) -> tuple[User, User, str]:
    """Owner ``a`` and owner ``b`` invited by ``a``, both enrolled, and ``b``'s link code."""
    a = await factories.user()
    b = await factories.user(inviter=a)
    for owner in (a, b):
        await store.enrol(gql, owner)
    return a, b, await link_to(gql, factories.bearer(b, settings), store.offer)


async def bought_by_strangers(
    gql: GraphQLClient, settings: Settings, store: Shop, code: str, count: int
) -> list[dict[str, Any]]:
    """``count`` orders of the store's offer, each by a new buyer through ``code``."""
    return [
        await buy_with(gql, factories.bearer(await factories.user(), settings), store.offer, code)
        for _ in range(count)
    ]


async def test_an_order_through_an_owners_link_earns_the_owner_and_their_inviter(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    store = await tiered_shop(gql, settings)
    a, b, code = await owner_under_inviter(gql, settings, store)
    a_headers, b_headers = factories.bearer(a, settings), factories.bearer(b, settings)
    shopper = factories.bearer(await factories.user(), settings)
    await visit(gql, code, shopper)

    bought = await buy_with(gql, shopper, store.offer, code)
    await consume(settings)
    replayed = await settle.settle_paid_order(from_global_id(bought["order"]["id"])[1])

    assert await entries() == {(b.id, "SALES_COMMISSION", PRICE * RATE // 10_000, "PENDING")}
    assert replayed == 0  # a second delivery of the same event writes nothing
    assert await balance(gql, b_headers) == (2_000, 0)
    assert await balance(gql, a_headers) == (0, 0)  # no invite reward before completion

    completed = await gql(COMPLETE, {"id": bought["order"]["id"]}, store.staff)
    completed_at = datetime.fromisoformat(
        completed["data"]["orderComplete"]["order"]["completedAt"]
    )
    await consume(settings)
    assert await entries() == {
        (b.id, "SALES_COMMISSION", PRICE * RATE // 10_000, "PENDING"),
        (a.id, "INVITE_REWARD", 2_000, "PENDING"),  # B's first completed order; OWNER's reward
    }
    assert await balance(gql, a_headers) == (2_000, 0)
    assert await release_after_freeze(completed_at - timedelta(seconds=1), settings) == 0
    assert await release_after_freeze(completed_at, settings) == 2

    assert await balance(gql, b_headers) == (0, 2_000)
    assert await balance(gql, a_headers) == (0, 2_000)


async def test_the_invite_reward_is_paid_once_when_the_first_of_several_orders_completes(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    store = await tiered_shop(gql, settings)
    a, _, code = await owner_under_inviter(gql, settings, store)
    a_headers = factories.bearer(a, settings)
    orders = await bought_by_strangers(gql, settings, store, code, 3)
    await consume(settings)
    assert await balance(gql, a_headers) == (0, 0)

    for bought in orders:  # all complete before the consumer hears of any
        done = await gql(COMPLETE, {"id": bought["order"]["id"]}, store.staff)
        assert done["data"]["orderComplete"]["userErrors"] == []
    await consume(settings)
    replays = [
        await settle.reward_first_completion(from_global_id(bought["order"]["id"])[1])
        for bought in orders
    ]

    rewards = await CommissionEntry.filter(kind="INVITE_REWARD")
    assert [(e.beneficiary_id, e.amount, e.order_id) for e in rewards] == [
        (a.id, 2_000, from_global_id(orders[0]["order"]["id"])[1])  # the first to complete
    ]
    assert replays == [0, 0, 0]
    assert await balance(gql, a_headers) == (2_000, 0)


async def test_a_refund_of_the_first_completed_order_reverses_its_invite_reward_for_good(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    store = await tiered_shop(gql, settings)
    a, _, code = await owner_under_inviter(gql, settings, store)
    a_headers = factories.bearer(a, settings)
    first, later = await bought_by_strangers(gql, settings, store, code, 2)
    done = await gql(COMPLETE, {"id": first["order"]["id"]}, store.staff)
    completed_at = datetime.fromisoformat(done["data"]["orderComplete"]["order"]["completedAt"])
    await consume(settings)
    assert await release_after_freeze(completed_at, settings) == 2
    assert await balance(gql, a_headers) == (0, 2_000)

    await refund_after_completion(first["order"]["id"])
    await gql(COMPLETE, {"id": later["order"]["id"]}, store.staff)
    await consume(settings)

    rewards = await CommissionEntry.filter(kind="INVITE_REWARD").order_by("id")
    assert [(e.amount, e.entry_type.value, e.state.value) for e in rewards] == [
        (2_000, "EARNING", "AVAILABLE"),
        (-2_000, "REVERSAL", "AVAILABLE"),  # the ledger's rule for an available entry
    ]
    assert await balance(gql, a_headers) == (0, 0)  # no second reward for the later order


async def test_a_members_own_order_with_no_share_earns_under_the_self_purchase_rule(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    store = await tiered_shop(gql, settings)
    owner = await factories.user()
    await store.enrol(gql, owner)
    stranger = await factories.user()

    await buy_with(gql, factories.bearer(owner, settings), store.offer, None)
    await buy_with(gql, factories.bearer(stranger, settings), store.offer, None)
    await consume(settings)

    assert await entries() == {(owner.id, "SELF_PURCHASE", 2_000, "PENDING")}


async def test_a_refund_before_completion_reverses_what_the_order_earned(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    store = await tiered_shop(gql, settings)
    sharer = await factories.user()
    await store.enrol(gql, sharer)
    code = await link_to(gql, factories.bearer(sharer, settings), store.offer)
    target: dict[str, Any] = {
        "groupBuyId": to_global_id(NodeType.GROUP_BUY, store.offer.id),
        "ref": code,
    }
    buyer = factories.bearer(await factories.user(), settings)
    started = await purchase(
        gql, buyer, "groupStart", target, idempotency_key=None, token="tok_visa", quantity=1
    )
    await consume(settings)
    assert await entries() == {(sharer.id, "SALES_COMMISSION", 1_500, "PENDING")}

    group_pk = from_global_id(started["group"]["id"])[1]
    await factories.time_group(group_pk, datetime.now(UTC) - timedelta(seconds=1))
    assert await expire_group(group_pk, app.state.runtime)
    await consume(settings)

    assert await entries() == {(sharer.id, "SALES_COMMISSION", 1_500, "REVERSED")}


async def test_a_merchant_without_a_plan_pays_no_one(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    sharer = factories.bearer(await factories.user(), settings)
    offer = await factories.offer(solo_price=PRICE)
    code = await link_to(gql, sharer, offer)

    await buy_with(gql, factories.bearer(await factories.user(), settings), offer, code)
    await consume(settings)

    assert await entries() == set()


@pytest.mark.usefixtures("needs_concurrency")
async def test_consumers_handling_completions_at_once_pay_one_invite_reward(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    store = await tiered_shop(gql, settings)
    a, _, code = await owner_under_inviter(gql, settings, store)
    orders = await bought_by_strangers(gql, settings, store, code, 5)
    for bought in orders:
        await gql(COMPLETE, {"id": bought["order"]["id"]}, store.staff)

    written = await asyncio.gather(
        *(
            settle.reward_first_completion(from_global_id(bought["order"]["id"])[1])
            for bought in reversed(orders)  # the latest completion first
        )
    )

    assert sorted(written) == [0, 0, 0, 0, 1]
    rewards = await CommissionEntry.filter(kind="INVITE_REWARD")
    assert [(e.beneficiary_id, e.order_id) for e in rewards] == [
        (a.id, from_global_id(orders[0]["order"]["id"])[1])
    ]

"""What an order is bought under is decided as it is made: its seller, the seller's
upline and the plan version are frozen with it, and its price is the reseller's
or the owner's discounted price when the plan says so. Driven through the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from pintuan.accounts.models import Merchant, User
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.groupbuys.models import GroupBuy
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient
from tests.ledger_ops import COMPLETE
from tests.test_commission_plans import (
    ENROLL,
    PRICE_SET,
    PUBLISH,
    reseller_input,
    tiered_input,
)
from tests.test_commissions_end_to_end import consume, entries
from tests.test_referral_tree import REBIND
from tests.test_share_links import buy_with, link_to, visit
from tests.test_webhooks import SECRET, deliver, succeeded

PRICE = 20_000  # ¥200.00


async def enrol(
    gql: GraphQLClient, staff: dict[str, str], merchant: Merchant, user: User, **rank: str
) -> None:
    variables = {
        "i": {
            "merchantId": to_global_id(NodeType.MERCHANT, merchant.id),
            "userId": to_global_id(NodeType.USER, user.id),
        }
        | rank
    }
    body = await gql(ENROLL, variables, staff)
    assert body["data"]["planMemberEnroll"]["userErrors"] == [], body


async def publish(gql: GraphQLClient, staff: dict[str, str], plan: dict[str, Any]) -> None:
    body = await gql(PUBLISH, {"i": plan}, staff)
    assert body["data"]["commissionPlanPublish"]["userErrors"] == [], body


async def shop(
    gql: GraphQLClient, settings: Settings, price: int = PRICE
) -> tuple[Merchant, dict[str, str], GroupBuy]:
    merchant = await factories.merchant()
    staff = factories.bearer(await factories.user(staff_of=merchant), settings)
    offer = await factories.offer(merchant, solo_price=price, group_price=price // 2)
    return merchant, staff, offer


@pytest.fixture
async def webhook_gql(make_app: Any) -> AsyncIterator[GraphQLClient]:
    """An API whose payments arrive later, by webhook."""
    async with make_app(payment_gateway="webhook", webhook_secret=SECRET) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield GraphQLClient(http)


async def test_a_rebind_and_a_new_plan_version_after_an_order_was_made_change_nothing_it_earns(
    webhook_gql: GraphQLClient, settings: Settings
) -> None:
    gql = webhook_gql
    merchant, staff, offer = await shop(gql, settings)
    await publish(gql, staff, tiered_input(merchant, rate=1_000))
    old_gold, new_gold = await factories.user(), await factories.user()
    seller = await factories.user(inviter=old_gold)
    await enrol(gql, staff, merchant, old_gold, tier="GOLD")
    await enrol(gql, staff, merchant, new_gold, tier="GOLD")
    await enrol(gql, staff, merchant, seller, tier="OWNER")
    code = await link_to(gql, factories.bearer(seller, settings), offer)
    bought = await buy_with(gql, factories.bearer(await factories.user(), settings), offer, code)
    assert bought["order"]["status"] == "PENDING_PAYMENT"

    admin = factories.bearer(await factories.user(admin=True), settings)
    moved = await gql(
        REBIND,
        {
            "i": {
                "userId": to_global_id(NodeType.USER, seller.id),
                "inviterId": to_global_id(NodeType.USER, new_gold.id),
                "reason": "moved teams",
            }
        },
        admin,
    )
    assert moved["data"]["referralRebind"]["userErrors"] == []
    await publish(gql, staff, tiered_input(merchant, rate=4_000))
    paid = await deliver(gql.http, succeeded(bought["order"]["id"]))
    assert paid.status_code == 200
    await consume(settings)
    done = await gql(COMPLETE, {"id": bought["order"]["id"]}, staff)
    assert done["data"]["orderComplete"]["userErrors"] == []
    await consume(settings)

    assert await entries() == {
        (seller.id, "SALES_COMMISSION", PRICE * 1_000 // 10_000, "PENDING"),  # version 1's rate
        (old_gold.id, "TEAM_SHARE", PRICE * 1_000 // 10_000 // 4, "PENDING"),
        (old_gold.id, "INVITE_REWARD", 10_000, "PENDING"),  # the GOLD tier's, on completion
    }


async def test_a_buyer_through_a_resellers_link_pays_the_resellers_price_and_the_markup_is_earned(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    merchant, staff, offer = await shop(gql, settings, price=10_000)
    await publish(gql, staff, reseller_input(merchant))  # 20%-30% over the platform price
    reseller = await factories.user()
    await enrol(gql, staff, merchant, reseller, level="V2")
    reseller_headers = factories.bearer(reseller, settings)
    variant_id = to_global_id(NodeType.VARIANT, offer.variant_id)
    priced = await gql(
        PRICE_SET, {"i": {"variantId": variant_id, "price": 12_500}}, reseller_headers
    )
    assert priced["data"]["resellerPriceSet"]["userErrors"] == []
    code = await link_to(gql, reseller_headers, offer)
    shopper = factories.bearer(await factories.user(), settings)
    await visit(gql, code, shopper)

    through_link = await buy_with(gql, shopper, offer, code)
    direct = await buy_with(gql, factories.bearer(await factories.user(), settings), offer, None)
    own = await buy_with(gql, reseller_headers, offer, None)
    await consume(settings)

    assert through_link["order"]["total"]["amount"] == 12_500
    assert direct["order"]["total"]["amount"] == 10_000
    assert own["order"]["total"]["amount"] == 10_000  # no markup on a reseller's own purchase
    assert await entries() == {(reseller.id, "RESELLER_MARKUP", 2_500, "PENDING")}


async def test_a_reseller_price_outside_the_range_now_in_force_is_not_charged(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    merchant, staff, offer = await shop(gql, settings, price=10_000)
    await publish(gql, staff, reseller_input(merchant))
    reseller = await factories.user()
    await enrol(gql, staff, merchant, reseller, level="V1")
    headers = factories.bearer(reseller, settings)
    variant_id = to_global_id(NodeType.VARIANT, offer.variant_id)
    await gql(PRICE_SET, {"i": {"variantId": variant_id, "price": 13_000}}, headers)
    await publish(gql, staff, reseller_input(merchant, maxMarkupBasisPoints=2_500))
    code = await link_to(gql, headers, offer)

    bought = await buy_with(gql, factories.bearer(await factories.user(), settings), offer, code)
    await consume(settings)

    assert bought["order"]["total"]["amount"] == 10_000
    assert await entries() == set()


async def test_an_owner_buying_for_themselves_under_discount_pays_less_and_earns_nothing(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    merchant, staff, offer = await shop(gql, settings)
    await publish(gql, staff, tiered_input(merchant, rate=1_500, selfPurchase="DISCOUNT"))
    gold = await factories.user()
    owner = await factories.user(inviter=gold)
    for user, tier in ((gold, "GOLD"), (owner, "OWNER")):
        await enrol(gql, staff, merchant, user, tier=tier)
    owner_headers = factories.bearer(owner, settings)
    gold_code = await link_to(gql, factories.bearer(gold, settings), offer)

    own = await buy_with(gql, owner_headers, offer, None)
    assert await entries_after(settings) == set()
    await gql(COMPLETE, {"id": own["order"]["id"]}, staff)
    assert await entries_after(settings) == {
        (gold.id, "INVITE_REWARD", 10_000, "PENDING")  # the owner's first completed order
    }
    through_gold = await buy_with(gql, owner_headers, offer, gold_code)
    stranger = await buy_with(gql, factories.bearer(await factories.user(), settings), offer, None)
    await consume(settings)

    assert own["order"]["total"]["amount"] == PRICE - PRICE * 1_500 // 10_000
    assert through_gold["order"]["total"]["amount"] == PRICE  # someone else's share: no discount
    assert stranger["order"]["total"]["amount"] == PRICE
    assert await entries() == {
        (gold.id, "INVITE_REWARD", 10_000, "PENDING"),
        (gold.id, "SALES_COMMISSION", PRICE * 1_500 // 10_000, "PENDING"),
    }


async def entries_after(settings: Settings) -> set[tuple[int, str, int, str]]:
    await consume(settings)
    return await entries()

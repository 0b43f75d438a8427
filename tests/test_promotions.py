"""Tier promotions fed by real sales: the team counters an order moves promote the
owners above its buyer, and the orders made after a promotion follow break-away."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.applications import Starlette

from pintuan.graphql.ids import NodeType, from_global_id, to_global_id
from pintuan.referrals.ledger_models import CommissionEntry
from pintuan.referrals.plan_models import PlanMember, TierPromotion
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient
from tests.ledger_ops import COMPLETE
from tests.test_checkout import enrol, publish, shop
from tests.test_commission_plans import tiered_input
from tests.test_commissions_end_to_end import consume
from tests.test_referral_tree import member
from tests.test_share_links import buy_with

PRICE = 50_000  # one order is the GOLD tier's team-sales threshold (¥500)
COMMISSION = PRICE * 1_000 // 10_000  # 10%: ¥50
TEAM_SHARE = COMMISSION // 4


async def earned_on(bought: dict[str, Any]) -> set[tuple[int, str, int]]:
    rows = await CommissionEntry.filter(order_id=from_global_id(bought["order"]["id"])[1])
    return {(e.beneficiary_id, e.kind, e.amount) for e in rows}


async def test_b_turns_gold_from_cs_sales_and_the_next_orders_follow_break_away(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    merchant, staff, offer = await shop(gql, settings, price=PRICE)
    await publish(gql, staff, tiered_input(merchant, rate=1_000))  # GOLD: 1 member, ¥500
    a = await member()
    b = await member(a)
    c = await member(b)
    await consume(settings)
    await enrol(gql, staff, merchant, a, tier="GOLD")
    for owner in (b, c):
        await enrol(gql, staff, merchant, owner, tier="OWNER")
    c_headers = factories.bearer(c, settings)

    first = await buy_with(gql, c_headers, offer, None)  # C's own purchase, B not yet gold
    await consume(settings)
    promoted = await TierPromotion.all().values_list("member__user_id", "from_rank", "to_rank")
    second = await buy_with(gql, c_headers, offer, None)
    b_own = await buy_with(gql, factories.bearer(b, settings), offer, None)
    for completed in (first, b_own):  # the invite rewards wait for completion
        await gql(COMPLETE, {"id": completed["order"]["id"]}, staff)
    await consume(settings)

    assert promoted == [(b.id, "OWNER", "GOLD")]
    assert (await PlanMember.get(user_id=b.id, merchant_id=merchant.id)).rank == "GOLD"
    assert await earned_on(first) == {
        (c.id, "SELF_PURCHASE", COMMISSION),
        (b.id, "INVITE_REWARD", 2_000),  # C's first order; B was an OWNER when it was made
        (a.id, "TEAM_SHARE", TEAM_SHARE),  # A, then C's nearest gold
    }
    assert await earned_on(second) == {
        (c.id, "SELF_PURCHASE", COMMISSION),
        (b.id, "TEAM_SHARE", TEAM_SHARE),  # C's branch broke away: its share is B's
    }
    assert await earned_on(b_own) == {
        (b.id, "SELF_PURCHASE", COMMISSION),
        (a.id, "INVITE_REWARD", 10_000),  # B's first order, A's GOLD reward
        (a.id, "TEAM_SHARE", TEAM_SHARE),  # A keeps 25% of B's own profit
    }


TIER = """query($m: ID) { me { tier(merchantId: $m) {
  merchantId merchant { id } kind tier level joinedAt since } } }"""
TIER_OF = "query($id: ID!) { node(id: $id) { ... on User { tier { tier } } } }"


async def test_me_tier_shows_each_plans_rank_and_follows_a_promotion(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    merchant, staff, offer = await shop(gql, settings, price=PRICE)
    await publish(gql, staff, tiered_input(merchant, rate=1_000))  # GOLD: 1 member, ¥500
    b = await member()
    c = await member(b)
    await consume(settings)
    for owner in (b, c):
        await enrol(gql, staff, merchant, owner, tier="OWNER")
    b_headers = factories.bearer(b, settings)
    merchant_id = to_global_id(NodeType.MERCHANT, merchant.id)

    before = (await gql(TIER, {"m": None}, b_headers))["data"]["me"]["tier"]
    await buy_with(gql, factories.bearer(c, settings), offer, None)  # makes B gold
    await consume(settings)
    after = (await gql(TIER, {"m": merchant_id}, b_headers))["data"]["me"]["tier"]
    elsewhere = await gql(
        TIER, {"m": to_global_id(NodeType.MERCHANT, (await factories.merchant()).id)}, b_headers
    )

    promoted_at = (await TierPromotion.get(member__user_id=b.id)).promoted_at
    assert [(t["merchantId"], t["merchant"]["id"], t["kind"], t["tier"]) for t in before] == [
        (merchant_id, merchant_id, "TIERED_OWNER", "OWNER")
    ]
    assert before[0]["since"] == before[0]["joinedAt"]  # never promoted: since joining
    assert [(t["tier"], t["level"]) for t in after] == [("GOLD", None)]
    assert datetime.fromisoformat(after[0]["since"]) == promoted_at
    assert elsewhere["data"]["me"]["tier"] == []


async def test_other_users_and_anonymous_see_no_tier(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    merchant, staff, _ = await shop(gql, settings)
    await publish(gql, staff, tiered_input(merchant, rate=1_000))
    owner = await member()
    await enrol(gql, staff, merchant, owner, tier="OWNER")
    variables = {"id": to_global_id(NodeType.USER, owner.id)}

    other = await gql(TIER_OF, variables, factories.bearer(await member(), settings))
    anonymous = await gql(TIER_OF, variables)
    admin = await gql(TIER_OF, variables, factories.bearer(await member(admin=True), settings))

    assert other["data"]["node"] == {"tier": None}
    assert anonymous["data"]["node"] == {"tier": None}
    assert admin["data"]["node"] == {"tier": [{"tier": "OWNER"}]}

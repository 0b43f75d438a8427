"""DOMAIN.md's worked example, to the fen: A invites B, B invites C; before and after B is gold.

A earns the invite reward for B and 25% of the profit of both B and C. Once B
is gold, C's profit share goes to B, and A keeps 25% of B's own profit only.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pintuan.referrals.commissions import earnings
from pintuan.referrals.settlement import Ancestor, Earning, EarningKind, Line, OrderFacts
from pintuan.referrals.terms import (
    OwnerTier,
    PlanVersion,
    SelfPurchaseMode,
    TierRule,
    tiered_terms,
)
from pintuan.referrals.tiered import promotion

A, B, C = 1, 2, 3
MERCHANT = 10
PRODUCT = 100

TERMS = tiered_terms(
    default_rate=1_000,  # 10%
    product_rates=[],
    self_purchase=SelfPurchaseMode.DISCOUNT,
    tiers=[
        TierRule(OwnerTier.OWNER, 0, 0, invite_reward=2_000),  # the ¥20 coupon
        TierRule(OwnerTier.GOLD, 1, 50_000, invite_reward=10_000),  # ¥100 per invitee
        TierRule(OwnerTier.SENIOR_GOLD, 50, 5_000_000, invite_reward=15_000),
    ],
)
PLAN = PlanVersion(
    id=7,
    merchant_id=MERCHANT,
    version=1,
    currency="CNY",
    max_levels=3,
    terms=TERMS,
    active_from=datetime(2026, 11, 1, tzinfo=UTC),
)


def sale(
    order_id: int,
    seller: int,
    upline: list[tuple[int, OwnerTier]],
    seller_tier: OwnerTier = OwnerTier.OWNER,
    amount: int = 20_000,
    first_order: bool = False,
) -> OrderFacts:
    return OrderFacts(
        order_id=order_id,
        merchant_id=MERCHANT,
        lines=(Line(PRODUCT, platform_price=amount, paid_price=amount, quantity=1),),
        seller_id=seller,
        seller_rank=seller_tier,
        upline=tuple(Ancestor(user, tier) for user, tier in upline),
        first_order=first_order,
        self_purchase=False,
    )


def paid(facts: OrderFacts) -> set[tuple[int, EarningKind, int]]:
    return {(e.beneficiary_id, e.kind, e.amount) for e in earnings(facts, PLAN)}


def test_before_b_is_gold_a_earns_on_both_b_and_c() -> None:
    # B's first sale, ¥200: B earns 10%, A (gold) the ¥100 reward for inviting B and 25% of B's ¥20.
    assert paid(sale(1, B, [(A, OwnerTier.GOLD)], first_order=True)) == {
        (B, EarningKind.SALES_COMMISSION, 2_000),
        (A, EarningKind.INVITE_REWARD, 10_000),
        (A, EarningKind.TEAM_SHARE, 500),
    }
    # C's first sale: B (an owner) earns the ¥20 reward for inviting C; A, two levels up,
    # is still C's nearest gold and takes 25% of C's profit.
    assert paid(sale(2, C, [(B, OwnerTier.OWNER), (A, OwnerTier.GOLD)], first_order=True)) == {
        (C, EarningKind.SALES_COMMISSION, 2_000),
        (B, EarningKind.INVITE_REWARD, 2_000),
        (A, EarningKind.TEAM_SHARE, 500),
    }


def test_b_reaches_gold_on_its_team_and_the_branch_breaks_away() -> None:
    # C's ¥200 and three more of C's sales make B's team (one owner) sell ¥800.
    assert promotion(TERMS, OwnerTier.OWNER, team_size=1, team_sales=40_000) is None
    assert promotion(TERMS, OwnerTier.OWNER, team_size=1, team_sales=80_000) is OwnerTier.GOLD

    # C's sale: the team share now goes to B; A earns nothing on C.
    assert paid(sale(3, C, [(B, OwnerTier.GOLD), (A, OwnerTier.GOLD)])) == {
        (C, EarningKind.SALES_COMMISSION, 2_000),
        (B, EarningKind.TEAM_SHARE, 500),
    }
    # B's own sale: A keeps 25% of B's own shop profit.
    assert paid(sale(4, B, [(A, OwnerTier.GOLD)], seller_tier=OwnerTier.GOLD)) == {
        (B, EarningKind.SALES_COMMISSION, 2_000),
        (A, EarningKind.TEAM_SHARE, 500),
    }


def test_team_shares_are_platform_funded_and_floored() -> None:
    # ¥33.33 at 10% is ¥3.333: C gets 333 fen; 25% of it is 83.25: B gets 83 fen.
    found = earnings(sale(5, C, [(B, OwnerTier.GOLD)], amount=3_333), PLAN)

    assert found == [
        Earning(C, EarningKind.SALES_COMMISSION, 333, "tiered.sales_commission", 7, 1, 1),
        Earning(B, EarningKind.TEAM_SHARE, 83, "tiered.team_share", 7, 1, 2),
    ]


def test_the_invite_reward_is_paid_on_the_first_completed_order_only() -> None:
    later = paid(sale(6, C, [(B, OwnerTier.GOLD)], first_order=False))

    assert all(kind is not EarningKind.INVITE_REWARD for _, kind, _ in later)

"""The commission engine's rules, as pure functions: level cap, rounding, reseller range, tiers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pintuan.core.errors import DomainError, ErrorCode
from pintuan.referrals.commissions import earnings
from pintuan.referrals.depth import LEGAL_MAX_LEVELS
from pintuan.referrals.resellers import check_price, invites_left, price_range
from pintuan.referrals.settlement import Ancestor, EarningKind, Line, OrderFacts
from pintuan.referrals.terms import (
    BASIS,
    MAX_RATE,
    MIN_RATE,
    LevelRule,
    OwnerTier,
    PlanVersion,
    Rank,
    ResellerLevel,
    SelfPurchaseMode,
    Terms,
    TierRule,
    reseller_terms,
    terms_from_json,
    terms_to_json,
    tiered_terms,
)
from pintuan.referrals.tiered import promotion, self_purchase_price

MERCHANT = 1
SELLER = 100


def tiers(gold_sales: int = 100_000) -> list[TierRule]:
    return [
        TierRule(OwnerTier.OWNER, 0, 0, 2_000),
        TierRule(OwnerTier.GOLD, 5, gold_sales, 10_000),
        TierRule(OwnerTier.SENIOR_GOLD, 20, 10 * gold_sales, 15_000),
    ]


def levels(*quotas: int) -> list[LevelRule]:
    return [LevelRule(level, q) for level, q in zip(ResellerLevel, quotas, strict=True)]


TIERED = tiered_terms(1_500, [(7, 4_000)], SelfPurchaseMode.COMMISSION, tiers())
RESELLER = reseller_terms(2_000, 3_000, 100_000, levels(0, 2, 5, 20, 100))


def plan(terms: Terms, max_levels: int = 3) -> PlanVersion:
    return PlanVersion(1, MERCHANT, 1, "CNY", max_levels, terms, datetime(2026, 1, 1, tzinfo=UTC))


def facts(
    lines: list[Line],
    seller_rank: Rank | None,
    upline: list[Ancestor],
    first_order: bool = True,
    self_purchase: bool = False,
    prior_sales: int = 0,
) -> OrderFacts:
    return OrderFacts(
        order_id=1,
        merchant_id=MERCHANT,
        lines=tuple(lines),
        seller_id=SELLER,
        seller_rank=seller_rank,
        upline=tuple(upline),
        first_order=first_order,
        self_purchase=self_purchase,
        seller_prior_sales=prior_sales,
    )


owner_ranks = st.one_of(st.none(), st.sampled_from(OwnerTier))
reseller_ranks = st.one_of(st.none(), st.sampled_from(ResellerLevel))
prices = st.integers(min_value=1, max_value=1_000_000)


@st.composite
def lines(draw: st.DrawFn, markup: bool = False) -> Line:
    platform = draw(prices)
    paid = platform + draw(st.integers(0, platform)) if markup else platform
    return Line(draw(st.integers(1, 10)), platform, paid, draw(st.integers(1, 20)))


@st.composite
def orders(draw: st.DrawFn, ranks: st.SearchStrategy[Rank | None], markup: bool) -> OrderFacts:
    chain = draw(st.lists(ranks, max_size=8))
    return facts(
        draw(st.lists(lines(markup), min_size=1, max_size=4)),
        draw(ranks),
        [Ancestor(SELLER + 1 + i, rank) for i, rank in enumerate(chain)],
        first_order=draw(st.booleans()),
        self_purchase=draw(st.booleans()),
        prior_sales=draw(st.integers(0, 500_000)),
    )


any_order = st.one_of(
    st.tuples(orders(owner_ranks, markup=False), st.just(TIERED)),
    st.tuples(orders(reseller_ranks, markup=True), st.just(RESELLER)),
)


@given(any_order, st.integers(1, LEGAL_MAX_LEVELS))
def test_no_level_above_the_cap_is_ever_paid(case: tuple[OrderFacts, Terms], cap: int) -> None:
    order, terms = case
    chain = [order.seller_id, *(a.user_id for a in order.upline)]

    found = earnings(order, plan(terms, cap))

    for e in found:
        assert 1 <= e.level <= cap <= LEGAL_MAX_LEVELS
        assert chain[e.level - 1] == e.beneficiary_id  # the level is the user's place above
        assert e.amount > 0
    keys = [(e.beneficiary_id, e.kind) for e in found]
    assert len(keys) == len(set(keys)), "one entry per (order, beneficiary, kind)"


@given(orders(owner_ranks, markup=False))
def test_tiered_earnings_are_the_floored_exact_shares(order: OrderFacts) -> None:
    found = {e.kind: e.amount for e in earnings(order, plan(TIERED))}
    exact = sum(line.paid * TIERED.rate_of(line.product_id) for line in order.lines)

    own = found.get(EarningKind.SALES_COMMISSION, found.get(EarningKind.SELF_PURCHASE, 0))
    if own:
        assert 0 <= exact - own * BASIS < BASIS  # floored: under one fen kept by the platform
    gold_in_reach = any(isinstance(a.rank, OwnerTier) and a.rank.is_gold for a in order.upline[:2])
    expected_team = own * TIERED.team_share // BASIS if gold_in_reach else 0
    assert found.get(EarningKind.TEAM_SHARE, 0) == expected_team


@given(orders(reseller_ranks, markup=True))
def test_the_markup_earned_never_exceeds_the_range(order: OrderFacts) -> None:
    found = {e.kind: e.amount for e in earnings(order, plan(RESELLER))}

    ceiling = sum(
        (price_range(RESELLER, ln.platform_price)[1] - ln.platform_price) * ln.quantity
        for ln in order.lines
    )
    assert found.get(EarningKind.RESELLER_MARKUP, 0) <= ceiling
    share = found.get(EarningKind.RESELLER_INVITE_SHARE, 0)
    assert share * BASIS <= order.paid * RESELLER.invite_share


def test_a_seller_outside_the_plan_earns_nothing_and_neither_does_their_upline() -> None:
    gold = [Ancestor(SELLER + 1, OwnerTier.GOLD)]
    order = facts([Line(1, 10_000, 10_000, 1)], None, gold)

    assert earnings(order, plan(TIERED)) == []


def test_a_cap_of_one_pays_the_seller_alone() -> None:
    gold = [Ancestor(SELLER + 1, OwnerTier.GOLD)]
    order = facts([Line(1, 10_000, 10_000, 1)], OwnerTier.OWNER, gold)

    found = earnings(order, plan(TIERED, max_levels=1))

    assert [(e.beneficiary_id, e.kind) for e in found] == [(SELLER, EarningKind.SALES_COMMISSION)]


def test_a_gold_three_levels_up_is_past_the_cap() -> None:
    chain = [Ancestor(SELLER + 1, OwnerTier.OWNER), Ancestor(SELLER + 2, OwnerTier.OWNER)]
    chain.append(Ancestor(SELLER + 3, OwnerTier.GOLD))
    order = facts([Line(1, 10_000, 10_000, 1)], OwnerTier.OWNER, chain, first_order=False)

    assert [e.kind for e in earnings(order, plan(TIERED))] == [EarningKind.SALES_COMMISSION]


def test_per_product_rates_apply_to_every_unit() -> None:
    order = facts(
        [Line(7, 999, 999, 3), Line(8, 1_001, 1_001, 2)], OwnerTier.OWNER, [], first_order=False
    )

    (own,) = earnings(order, plan(TIERED))

    # 2,997 at 40% + 2,002 at 15% = 1,198.8 + 300.3 = 1,499.1: one floor over the sum.
    assert own.amount == 1_499


@pytest.mark.parametrize(
    ("mode", "kind", "price"),
    [
        (SelfPurchaseMode.COMMISSION, EarningKind.SELF_PURCHASE, 10_000),
        (SelfPurchaseMode.DISCOUNT, None, 8_500),
        (SelfPurchaseMode.NONE, None, 10_000),
    ],
)
def test_self_purchase_follows_the_plans_mode(
    mode: SelfPurchaseMode, kind: EarningKind | None, price: int
) -> None:
    terms = tiered_terms(1_500, [], mode, tiers())
    order = facts([Line(1, 10_000, price, 1)], OwnerTier.OWNER, [], first_order=False)
    order = OrderFacts(**{**order.__dict__, "self_purchase": True})

    found = earnings(order, plan(terms))

    assert self_purchase_price(terms, 1, 10_000) == price
    assert [e.kind for e in found] == ([kind] if kind else [])
    if kind:
        assert found[0].amount == 1_500


def test_self_purchase_discount_is_floored_in_the_platforms_favour() -> None:
    terms = tiered_terms(1_500, [], SelfPurchaseMode.DISCOUNT, tiers())

    assert self_purchase_price(terms, 1, 999) == 999 - 149  # 149.85 off, floored


def test_promotion_is_upgrade_only_and_needs_both_thresholds() -> None:
    assert promotion(TIERED, OwnerTier.OWNER, 5, 99_999) is None
    assert promotion(TIERED, OwnerTier.OWNER, 4, 100_000) is None
    assert promotion(TIERED, OwnerTier.OWNER, 5, 100_000) is OwnerTier.GOLD
    assert promotion(TIERED, OwnerTier.OWNER, 20, 1_000_000) is OwnerTier.SENIOR_GOLD
    assert promotion(TIERED, OwnerTier.SENIOR_GOLD, 0, 0) is None
    assert promotion(TIERED, OwnerTier.GOLD, 5, 100_000) is None


def test_the_reseller_range_rounds_inwards() -> None:
    assert price_range(RESELLER, 999) == (1_199, 1_298)  # 1,198.8 up; 1,298.7 down
    assert check_price(RESELLER, 999, 1_199) == 1_199
    assert check_price(RESELLER, 999, 1_298) == 1_298
    for refused in (1_198, 1_299, 999):
        with pytest.raises(DomainError) as exc:
            check_price(RESELLER, 999, refused)
        assert exc.value.code is ErrorCode.RESELLER_PRICE_OUT_OF_RANGE


def test_the_reseller_earns_the_markup_and_the_inviter_a_share_past_the_threshold() -> None:
    inviter = [Ancestor(SELLER + 1, ResellerLevel.V3)]
    # ¥1,250 sold at 25% over ¥1,000; ¥900 sold before, so ¥1,150 of it is past ¥1,000.
    order = facts([Line(1, 100_000, 125_000, 1)], ResellerLevel.V1, inviter, prior_sales=90_000)

    found = {(e.beneficiary_id, e.kind): e.amount for e in earnings(order, plan(RESELLER))}

    assert found == {
        (SELLER, EarningKind.RESELLER_MARKUP): 25_000,
        (SELLER + 1, EarningKind.RESELLER_INVITE_SHARE): 11_500,
    }


def test_no_invite_share_below_the_threshold_and_invite_quotas_by_level() -> None:
    inviter = [Ancestor(SELLER + 1, ResellerLevel.V3)]
    order = facts([Line(1, 10_000, 12_000, 1)], ResellerLevel.V1, inviter, prior_sales=0)

    assert [e.kind for e in earnings(order, plan(RESELLER))] == [EarningKind.RESELLER_MARKUP]
    assert invites_left(RESELLER, ResellerLevel.V1, 0) == 0
    assert invites_left(RESELLER, ResellerLevel.V3, 4) == 1
    assert invites_left(RESELLER, ResellerLevel.V3, 9) == 0


@pytest.mark.parametrize(
    ("build", "code", "field"),
    [
        (
            lambda: tiered_terms(MIN_RATE - 1, [], SelfPurchaseMode.NONE, tiers()),
            ErrorCode.COMMISSION_RATE_OUT_OF_RANGE,
            "tiered.defaultRateBasisPoints",
        ),
        (
            lambda: tiered_terms(MIN_RATE, [(3, MAX_RATE + 1)], SelfPurchaseMode.NONE, tiers()),
            ErrorCode.COMMISSION_RATE_OUT_OF_RANGE,
            "tiered.productRates.0.rateBasisPoints",
        ),
        (
            lambda: tiered_terms(MIN_RATE, [], SelfPurchaseMode.NONE, tiers(gold_sales=0)),
            ErrorCode.HEADCOUNT_ONLY,
            "tiered.tiers.1.minTeamSales",
        ),
        (
            lambda: tiered_terms(MIN_RATE, [], SelfPurchaseMode.NONE, tiers()[:2]),
            ErrorCode.INVALID,
            "tiered.tiers",
        ),
        (
            lambda: reseller_terms(3_000, 2_000, 0, levels(0, 0, 0, 0, 0)),
            ErrorCode.MARKUP_RANGE_INVALID,
            "reseller.minMarkupBasisPoints",
        ),
    ],
)
def test_terms_out_of_bounds_are_refused_with_a_code(
    build: Callable[[], Terms], code: ErrorCode, field: str
) -> None:
    with pytest.raises(DomainError) as exc:
        build()
    assert (exc.value.code, exc.value.field) == (code, field)


@pytest.mark.parametrize("terms", [TIERED, RESELLER])
def test_terms_round_trip_through_json(terms: Terms) -> None:
    assert terms_from_json(terms_to_json(terms)) == terms

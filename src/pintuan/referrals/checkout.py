"""The referral domain's part in a purchase, decided as the order is made.

Group buys ask for a quote (``groupbuys.checkout``) inside the transaction that
makes the order; the composition root hands them this one. It credits the
order to a sharer (``attribution.credit_at``), reads the seller's upline to the
level cap, the plan version in force and everyone's rank, and sets the price:

- bought alone at the variant's own price through a reseller's share, under
  that merchant's reseller plan: the reseller's price for the variant, if it
  is still within the plan's range (else the list price);
- an owner's own purchase (no share led to it) under a tiered plan in
  DISCOUNT mode: the product's rate off the list price, floored like every
  share (``tiered.self_purchase_price``);
- otherwise the list price.

All of it is written with the order (``OrderTerms``) and settles it later.
"""

from __future__ import annotations

from dataclasses import dataclass

from pintuan.catalog.models import Variant
from pintuan.core import sql
from pintuan.groupbuys.checkout import Basket
from pintuan.referrals import attribution, members, tree
from pintuan.referrals.depth import LEGAL_MAX_LEVELS
from pintuan.referrals.models import OrderTerms, PriceRule
from pintuan.referrals.plan_models import ResellerPrice
from pintuan.referrals.plans import plan_in_force
from pintuan.referrals.resellers import price_range
from pintuan.referrals.terms import (
    OwnerTier,
    PlanVersion,
    Rank,
    ResellerLevel,
    ResellerTerms,
    SelfPurchaseMode,
    TieredTerms,
)
from pintuan.referrals.tiered import self_purchase_price


@dataclass(frozen=True, slots=True)
class FrozenQuote:
    unit_price: int
    terms: dict[str, object]  # the order's OrderTerms row, but for its order id

    async def record(self, order_id: int) -> None:
        await sql.insert(OrderTerms, {"order_id": order_id} | self.terms)


async def _reseller_price(
    plan: PlanVersion, terms: ResellerTerms, seller_id: int, basket: Basket, platform_price: int
) -> int | None:
    found = await ResellerPrice.get_or_none(reseller_id=seller_id, variant_id=basket.variant_id)
    if found is None or found.currency != basket.currency or plan.currency != basket.currency:
        return None
    low, high = price_range(terms, platform_price)
    return found.price if low <= found.price <= high else None


class ReferralCheckout:
    """Credits, freezes and prices every purchase under one attribution policy."""

    def __init__(self, policy: attribution.Policy) -> None:
        self.policy = policy

    async def quote(self, basket: Basket) -> FrozenQuote:
        touch = await attribution.credit_at(basket.buyer_id, basket.ref, basket.at, self.policy)
        seller_id = basket.buyer_id if touch is None else touch.link.sharer_id
        terms: dict[str, object] = {
            "seller_id": seller_id,
            "link_id": None if touch is None else touch.link.id,
            "touched_at": None if touch is None else touch.at,
            "price_rule": PriceRule.LIST.value,
        }
        plan = await plan_in_force(basket.merchant_id, basket.at)
        if plan is None:
            return FrozenQuote(basket.list_price, terms)
        upline = await tree.upline_ids(seller_id, LEGAL_MAX_LEVELS - 1)
        rank = await members.ranks(basket.merchant_id, plan.kind, [seller_id, *upline])
        platform_price = basket.list_price
        if basket.group_buy_id is not None:
            variant = await Variant.get(id=basket.variant_id)
            platform_price = variant.price_amount
        price, rule = basket.list_price, PriceRule.LIST
        seller_rank = rank.get(seller_id)
        if (
            isinstance(plan.terms, ResellerTerms)
            and touch is not None
            and basket.at_variant_price
            and isinstance(seller_rank, ResellerLevel)
        ):
            own = await _reseller_price(plan, plan.terms, seller_id, basket, platform_price)
            if own is not None:
                price, rule = own, PriceRule.RESELLER_PRICE
        elif (
            isinstance(plan.terms, TieredTerms)
            and touch is None
            and isinstance(seller_rank, OwnerTier)
            and plan.terms.self_purchase is SelfPurchaseMode.DISCOUNT
        ):
            price = self_purchase_price(plan.terms, basket.product_id, basket.list_price)
            rule = PriceRule.OWNER_DISCOUNT
        ranked = [(user_id, rank.get(user_id)) for user_id in upline] + [(None, None)] * 2
        terms |= {
            "upline_1_id": ranked[0][0],
            "upline_1_rank": _value(ranked[0][1]),
            "upline_2_id": ranked[1][0],
            "upline_2_rank": _value(ranked[1][1]),
            "seller_rank": _value(seller_rank),
            "plan_id": plan.id,
            "plan_version": plan.version,
            "platform_price": platform_price,
            "price_rule": rule.value,
        }
        return FrozenQuote(price, terms)


def _value(rank: Rank | None) -> str | None:
    return None if rank is None else rank.value

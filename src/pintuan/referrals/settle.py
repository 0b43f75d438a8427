"""An order's earnings, from what the outbox consumer knows about it.

``settle_paid_order`` gathers the order's line, its frozen earner (the sharer it
was credited to, or the buyer themself when no share led to it), the earner's
upline from the tree, nearest first, and the flags; ``order_earnings`` looks up
the plan version in force when the order was paid and the ranks of everyone
involved, then runs the pure engine. Reading happens here; the rules live in
``commissions``; the ledger keeps the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pintuan.groupbuys.order_models import Order
from pintuan.referrals import ledger, members, tree
from pintuan.referrals.commissions import earnings
from pintuan.referrals.depth import LEGAL_MAX_LEVELS
from pintuan.referrals.ledger_models import CommissionEntry
from pintuan.referrals.models import OrderAttribution
from pintuan.referrals.plans import plan_in_force
from pintuan.referrals.settlement import Ancestor, Earning, EarningKind, Line, OrderFacts

_OWN_SALES = [EarningKind.SALES_COMMISSION.value, EarningKind.SELF_PURCHASE.value]


async def order_earnings(
    *,
    order_id: int,
    merchant_id: int,
    paid_at: datetime,
    lines: Sequence[Line],
    seller_id: int,
    upline_ids: Sequence[int],
    first_order: bool,
    self_purchase: bool,
    seller_prior_sales: int = 0,
) -> list[Earning]:
    """Every earning the order makes under the plan in force at ``paid_at``; none when
    the merchant had no active plan then. Deterministic: a replayed event gets the
    same list, so the ledger's (order, beneficiary, kind) key absorbs the replay."""
    plan = await plan_in_force(merchant_id, paid_at)
    if plan is None:
        return []
    chain = list(upline_ids[: LEGAL_MAX_LEVELS - 1])
    rank = await members.ranks(merchant_id, plan.kind, [seller_id, *chain])
    facts = OrderFacts(
        order_id=order_id,
        merchant_id=merchant_id,
        lines=tuple(lines),
        seller_id=seller_id,
        seller_rank=rank.get(seller_id),
        upline=tuple(Ancestor(user_id, rank.get(user_id)) for user_id in chain),
        first_order=first_order,
        self_purchase=self_purchase,
        seller_prior_sales=seller_prior_sales,
    )
    return earnings(facts, plan)


async def settle_paid_order(order_id: int) -> int:
    """Post a paid order's earnings to the ledger; returns how many entries were new.

    Safe to repeat: the ledger keeps the first entry per (order, beneficiary, kind).
    The earner's "first order" is one before which they had earned on no other
    order, so a replay after later orders pays no second invite reward.
    """
    order = await Order.get_or_none(id=order_id).select_related("variant")
    if order is None or order.paid_at is None:
        return 0
    credit = await OrderAttribution.get_or_none(order_id=order_id)
    seller_id = order.buyer_id if credit is None else credit.sharer_id
    earned_before = (
        await CommissionEntry.filter(beneficiary_id=seller_id, kind__in=_OWN_SALES)
        .exclude(order_id=order_id)
        .exists()
    )
    line = Line(
        product_id=order.variant.product_id,
        platform_price=order.variant.price_amount,
        paid_price=order.unit_price,
        quantity=order.quantity,
    )
    found = await order_earnings(
        order_id=order.id,
        merchant_id=order.merchant_id,
        paid_at=order.paid_at,
        lines=[line],
        seller_id=seller_id,
        upline_ids=await tree.upline_ids(seller_id, LEGAL_MAX_LEVELS - 1),
        first_order=not earned_before,
        self_purchase=credit is None,
    )
    entries = [
        ledger.Earning(e.beneficiary_id, e.kind.value, e.amount, e.plan_version, e.rule)
        for e in found
    ]
    return await ledger.post_earnings(order.id, entries)

"""An order's earnings, from what the outbox consumer knows about it.

The consumer supplies the order's lines, its frozen earner, the earner's upline
(from the tree, nearest first) and the flags; this looks up the plan version in
force when the order was paid and the ranks of everyone involved, then runs the
pure engine. Reading happens here; the rules live in ``commissions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pintuan.referrals import members
from pintuan.referrals.commissions import earnings
from pintuan.referrals.depth import LEGAL_MAX_LEVELS
from pintuan.referrals.plans import plan_in_force
from pintuan.referrals.settlement import Ancestor, Earning, Line, OrderFacts


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

"""An order's earnings, from what was frozen with it when it was made.

``settle_paid_order`` reads the order's ``OrderTerms`` (its seller, the seller's
upline to the cap, everyone's rank and the plan version in force when it was
made, see ``referrals.checkout``) and its line, adds what only settlement can
know (whether this is the seller's first earning order, and for a reseller
their sales through their links before it), and runs the pure
engine. Reading happens here; the rules live in ``commissions``; the ledger
keeps the result.
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from pintuan.accounts.models import User
from pintuan.core import sql
from pintuan.groupbuys.order_models import Order, OrderStatus
from pintuan.referrals import ledger
from pintuan.referrals.commissions import earnings
from pintuan.referrals.members import rank_of
from pintuan.referrals.models import OrderTerms
from pintuan.referrals.plans import plan_by_id, version_of
from pintuan.referrals.settlement import Ancestor, EarningKind, Line, OrderFacts
from pintuan.referrals.terms import PlanVersion, ResellerTerms, TieredTerms


async def prior_sales(order: Order, seller_id: int) -> int:
    """What the seller sold for the order's merchant through their links before this
    order (paid totals of orders paid earlier, refunded ones not counted). Read from
    the orders, not the ledger, so it is the same whichever order is settled first."""
    [row] = await sql.rows(
        'SELECT COALESCE(SUM(o."unit_price" * o."quantity"), 0) AS "sales" '
        'FROM "order_terms" t JOIN "customer_order" o ON o."id" = t."order_id" '
        'WHERE t."seller_id" = $1 AND t."link_id" IS NOT NULL AND o."merchant_id" = $2 '
        'AND o."status" IN ($3, $4) AND o."paid_at" IS NOT NULL '
        'AND (o."paid_at" < $5 OR (o."paid_at" = $5 AND o."id" < $6))',
        seller_id,
        order.merchant_id,
        OrderStatus.PAID.value,
        OrderStatus.COMPLETED.value,
        order.paid_at,
        order.id,
    )
    return int(row["sales"])


def facts_of(
    order: Order,
    terms: OrderTerms,
    plan: PlanVersion,
    *,
    first_order: bool,
    seller_prior_sales: int = 0,
) -> OrderFacts:
    """The engine's input for ``order``, from its frozen terms alone."""
    line = Line(
        product_id=order.variant.product_id,
        platform_price=order.unit_price if terms.platform_price is None else terms.platform_price,
        paid_price=order.unit_price,
        quantity=order.quantity,
    )
    return OrderFacts(
        order_id=order.id,
        merchant_id=order.merchant_id,
        lines=(line,),
        seller_id=terms.seller_id,
        seller_rank=None if terms.seller_rank is None else rank_of(plan.kind, terms.seller_rank),
        upline=tuple(
            Ancestor(user_id, None if rank is None else rank_of(plan.kind, rank))
            for user_id, rank in terms.upline()
        ),
        first_order=first_order,
        self_purchase=terms.link_id is None,
        seller_prior_sales=seller_prior_sales,
    )


async def settle_paid_order(order_id: int) -> int:
    """Post a paid order's earnings to the ledger; returns how many entries were new.

    0 when no plan was in force as the order was made. Safe to repeat: the
    ledger keeps the first entry per (order, beneficiary, kind). The invite
    reward is not among them: it waits for completion (``reward_first_completion``).
    """
    order = await Order.get_or_none(id=order_id).select_related("variant")
    terms = await OrderTerms.get_or_none(order_id=order_id)
    if order is None or order.paid_at is None or terms is None or terms.plan_id is None:
        return 0
    row = await plan_by_id(terms.plan_id)
    if row is None:
        return 0
    plan = version_of(row)
    shared = isinstance(plan.terms, ResellerTerms) and terms.link_id is not None
    prior = await prior_sales(order, terms.seller_id) if shared else 0
    facts = facts_of(order, terms, plan, first_order=False, seller_prior_sales=prior)
    return await ledger.post_earnings(order.id, earnings(facts, plan))


async def _first_completed(order: Order, seller_id: int) -> bool:
    """Whether ``order`` is the earliest completed (by completion, then id) of the
    orders a member ``seller_id`` sold or bought for themselves at its merchant.
    Read from the orders, so it is the same whatever order the events arrive in;
    an order refunded after completion keeps its place (its reward is reversed,
    never granted again to a later order)."""
    first = await sql.rows(
        'SELECT o."id" FROM "order_terms" t JOIN "customer_order" o ON o."id" = t."order_id" '
        'WHERE t."seller_id" = $1 AND t."seller_rank" IS NOT NULL AND t."plan_id" IS NOT NULL '
        'AND o."merchant_id" = $2 AND o."completed_at" IS NOT NULL '
        'ORDER BY o."completed_at", o."id" LIMIT 1',
        seller_id,
        order.merchant_id,
    )
    return bool(first) and first[0]["id"] == order.id


async def _rewarded(order: Order, seller_id: int) -> bool:
    """Whether an invite reward was already posted for ``seller_id`` at the order's
    merchant, on any of their orders."""
    [row] = await sql.rows(
        'SELECT COUNT(*) AS "n" FROM "commission_entry" e '
        'JOIN "order_terms" t ON t."order_id" = e."order_id" '
        'JOIN "customer_order" o ON o."id" = e."order_id" '
        'WHERE t."seller_id" = $1 AND o."merchant_id" = $2 AND e."kind" = $3',
        seller_id,
        order.merchant_id,
        EarningKind.INVITE_REWARD.value,
    )
    return int(row["n"]) > 0


async def reward_first_completion(order_id: int) -> int:
    """Post the invite reward of a tiered plan when ``order`` is its seller's first
    completed order at its merchant; returns how many entries were new (0 or 1).

    Paid once per invitee and merchant, whatever the replays: the seller's row is
    locked, so two of their orders completing at once are handled one after the
    other, and the second sees the first's reward. The reward follows the order's
    frozen terms (the inviter and their tier when it was made) and then the
    ledger's rules: pending until the freeze passes, reversed with a refund.
    """
    async with in_transaction():
        await Order.filter(id=order_id).select_for_update(no_key=True).first()
        order = await Order.get_or_none(id=order_id).select_related("variant")
        terms = await OrderTerms.get_or_none(order_id=order_id)
        if order is None or order.completed_at is None or terms is None or terms.plan_id is None:
            return 0
        row = await plan_by_id(terms.plan_id)
        plan = None if row is None else version_of(row)
        if plan is None or not isinstance(plan.terms, TieredTerms):
            return 0
        await User.filter(id=terms.seller_id).select_for_update(no_key=True).first()
        if await _rewarded(order, terms.seller_id) or not await _first_completed(
            order, terms.seller_id
        ):
            return 0
        facts = facts_of(order, terms, plan, first_order=True)
        rewards = [e for e in earnings(facts, plan) if e.kind is EarningKind.INVITE_REWARD]
        return await ledger.post_earnings(order.id, rewards)

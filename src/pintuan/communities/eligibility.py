"""Entry thresholds and purchase requirements: who may join a community at all.

Paid means PAID or COMPLETED: a cancelled or refunded order does not count, so a
buyer who returns the product no longer qualifies for a new admission.
"""

from __future__ import annotations

from pintuan.communities.models import Community, MembershipModel
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.groupbuys.order_models import Order, OrderStatus
from pintuan.referrals.plan_models import PlanMember
from pintuan.referrals.terms import OwnerTier, ResellerLevel

PAID = (OrderStatus.PAID, OrderStatus.COMPLETED)
# Each ladder lowest first: holding a rank at or above the threshold's, on its ladder.
LADDERS: tuple[tuple[str, ...], ...] = (
    tuple(t.value for t in OwnerTier),
    tuple(level.value for level in ResellerLevel),
)
RANKS = frozenset(rank for ladder in LADDERS for rank in ladder)


def _ranks_at_or_above(rank: str) -> list[str]:
    for ladder in LADDERS:
        if rank in ladder:
            return list(ladder[ladder.index(rank) :])
    return [rank]


async def check(community: Community, user_id: int) -> None:
    """Refuse with NOT_ELIGIBLE unless the user meets every requirement of ``community``."""
    if community.membership == MembershipModel.WITH_PURCHASE:
        bought = await Order.filter(
            buyer_id=user_id,
            status__in=PAID,
            variant__product_id__in=community.admitting_product_ids,
        ).exists()
        if not bought:
            raise DomainError(
                ErrorCode.NOT_ELIGIBLE, "Membership comes with buying one of its products."
            )
    if community.entry_min_paid_orders > 0:
        paid = await Order.filter(buyer_id=user_id, status__in=PAID).count()
        if paid < community.entry_min_paid_orders:
            raise DomainError(
                ErrorCode.NOT_ELIGIBLE,
                f"Members need at least {community.entry_min_paid_orders} paid order(s).",
            )
    if community.entry_referral_rank is not None:
        ranked = await PlanMember.filter(
            user_id=user_id, rank__in=_ranks_at_or_above(community.entry_referral_rank)
        ).exists()
        if not ranked:
            raise DomainError(
                ErrorCode.NOT_ELIGIBLE,
                f"Members need the referral rank {community.entry_referral_rank} or above.",
            )

"""Members of a merchant's plan: their rank (tier or reseller level) and promotions.

A shop owner's tier only goes up, and each promotion is recorded with the team
figures and the plan version that earned it; the outbox's team counts drive
promotions (``promotions``). The rank the engine reads for an order is the one
frozen with it when it was made (``checkout``).
"""

from __future__ import annotations

from collections.abc import Iterable

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from pintuan.core.errors import DomainError, ErrorCode
from pintuan.referrals.plan_models import PlanMember, TierPromotion
from pintuan.referrals.terms import (
    OwnerTier,
    PlanKind,
    PlanVersion,
    Rank,
    ResellerLevel,
    TieredTerms,
)
from pintuan.referrals.tiered import promotion


def rank_of(kind: PlanKind, value: str) -> Rank:
    return OwnerTier(value) if kind is PlanKind.TIERED_OWNER else ResellerLevel(value)


async def enroll(user_id: int, merchant_id: int, rank: Rank) -> PlanMember:
    """Make ``user_id`` a member of the merchant's plan of ``rank``'s kind, at ``rank``."""
    kind = PlanKind.TIERED_OWNER if isinstance(rank, OwnerTier) else PlanKind.RESELLER
    taken = DomainError(
        ErrorCode.ALREADY_ENROLLED, "Already a member of this merchant's plan.", "userId"
    )
    if await PlanMember.exists(user_id=user_id, merchant_id=merchant_id, kind=kind):
        raise taken
    try:
        return await PlanMember.create(
            user_id=user_id, merchant_id=merchant_id, kind=kind, rank=rank.value
        )
    except IntegrityError:
        raise taken from None


async def ranks(merchant_id: int, kind: PlanKind, user_ids: Iterable[int]) -> dict[int, Rank]:
    """The rank of each of ``user_ids`` that is a member, in one query."""
    rows = await PlanMember.filter(
        merchant_id=merchant_id, kind=kind, user_id__in=list(user_ids)
    ).values_list("user_id", "rank")
    return {user_id: rank_of(kind, rank) for user_id, rank in rows}


async def promote(
    user_id: int, plan: PlanVersion, team_size: int, team_sales: int
) -> TierPromotion | None:
    """Promote a shop owner whose team (size and sales, within the plan's levels below
    them) meets a higher tier's thresholds; None when nothing changes.

    The rank moves by compare-and-set, so two promotions racing record one.
    """
    if not isinstance(plan.terms, TieredTerms):
        return None
    member = await PlanMember.get_or_none(
        user_id=user_id, merchant_id=plan.merchant_id, kind=PlanKind.TIERED_OWNER
    )
    if member is None:
        return None
    current = OwnerTier(member.rank)
    reached = promotion(plan.terms, current, team_size, team_sales)
    if reached is None:
        return None
    async with in_transaction():
        moved = await PlanMember.filter(id=member.id, rank=current.value).update(rank=reached.value)
        if not moved:
            return None
        return await TierPromotion.create(
            member_id=member.id,
            from_rank=current.value,
            to_rank=reached.value,
            team_size=team_size,
            team_sales=team_sales,
            plan_id=plan.id,
        )


async def promotions_of(user_id: int, merchant_id: int) -> list[TierPromotion]:
    return (
        await TierPromotion.filter(
            member__user_id=user_id,
            member__merchant_id=merchant_id,
            member__kind=PlanKind.TIERED_OWNER,
        )
        .order_by("promoted_at", "id")
        .all()
    )

"""Promotions fed by the team counters: when an outbox event moves a team's size or
sales, the shop owners above it are checked against their merchant's plan.

The counters are platform-wide (one currency), so an owner's team is the same
team in every merchant's plan they belong to; each membership is checked
against the thresholds of its own merchant's version in force. A team counts
the levels below the owner that the plan can pay them on (``max_levels`` - 1,
at least one). Tiers only go up and each promotion is recorded
(``members.promote``); running this again changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from pintuan.core.clock import now_utc
from pintuan.referrals import members, tree
from pintuan.referrals.depth import SELLER_LEVEL
from pintuan.referrals.models import TREE_DEPTH
from pintuan.referrals.plan_models import PlanMember, TierPromotion
from pintuan.referrals.plans import plans_in_force, version_of
from pintuan.referrals.terms import PlanKind, PlanVersion, TieredTerms


def team_depth(plan: PlanVersion) -> int:
    """How many levels below an owner count as their team under ``plan``."""
    return max(1, plan.max_levels - SELLER_LEVEL)


async def promote_due(user_ids: Sequence[int]) -> list[TierPromotion]:
    """Promote each shop owner among ``user_ids`` whose team now meets a higher tier."""
    if not user_ids:
        return []
    owners = await PlanMember.filter(user_id__in=list(user_ids), kind=PlanKind.TIERED_OWNER)
    if not owners:
        return []
    merchant_ids = sorted({owner.merchant_id for owner in owners})
    rows = await plans_in_force(merchant_ids, now_utc())
    in_force = {m: version_of(row) for m, row in zip(merchant_ids, rows, strict=True) if row}
    promoted: list[TierPromotion] = []
    for owner in owners:
        plan = in_force.get(owner.merchant_id)
        if plan is None or not isinstance(plan.terms, TieredTerms):
            continue
        levels = await tree.team_summary(owner.user_id, team_depth(plan))
        size = sum(level.members for level in levels)
        sales = sum(level.sales for level in levels)
        if (found := await members.promote(owner.user_id, plan, size, sales)) is not None:
            promoted.append(found)
    return promoted


async def promote_above(user_id: int) -> list[TierPromotion]:
    """The owners whose teams ``user_id`` is in: what a change to their counts may promote."""
    return await promote_due(await tree.upline_ids(user_id, TREE_DEPTH))

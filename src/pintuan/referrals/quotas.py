"""Reseller invite quotas, held at every bind.

A reseller's level (V1-V5) in a merchant's reseller plan gives them an invite
quota. The tree is one for the whole platform, so a user who resells for
several merchants may have as many direct invitees as the most generous of
their levels (in the versions in force) allows; a user who resells for no one
invites freely. Each bind to an inviter with a quota first takes a per-inviter
lock (a PostgreSQL advisory lock held to the end of the transaction; SQLite
serialises transactions anyway), then counts their invitees, so however many
binds arrive at once, exactly as many as the quota leaves are admitted.
"""

from __future__ import annotations

from tortoise import connections

from pintuan.accounts.models import User
from pintuan.core import sql
from pintuan.core.clock import now_utc
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.referrals.plan_models import PlanMember
from pintuan.referrals.plans import plans_in_force, version_of
from pintuan.referrals.terms import PlanKind, ResellerLevel, ResellerTerms

INVITES_LOCK = 0x696E76  # with the inviter's id: the advisory lock of one inviter's quota


async def quota_of(inviter_id: int) -> int | None:
    """How many direct invitees ``inviter_id`` may have; None: no limit."""
    levels = await PlanMember.filter(user_id=inviter_id, kind=PlanKind.RESELLER).values_list(
        "merchant_id", "rank"
    )
    if not levels:
        return None
    rows = await plans_in_force([merchant_id for merchant_id, _ in levels], now_utc())
    quotas = [
        terms.quota_of(ResellerLevel(rank))
        for (_, rank), row in zip(levels, rows, strict=True)
        if row is not None and isinstance(terms := version_of(row).terms, ResellerTerms)
    ]
    return max(quotas) if quotas else None


class InviteQuotas:
    """The referral domain's ``accounts.invites.InviteGate``, also held by the tree's binds."""

    async def admit(self, inviter_id: int, field: str) -> None:
        quota = await quota_of(inviter_id)
        if quota is None:
            return
        if connections.get("default").capabilities.dialect == "postgres":
            await sql.rows("SELECT pg_advisory_xact_lock($1, $2)", INVITES_LOCK, inviter_id)
        if await User.filter(inviter_id=inviter_id).count() >= quota:
            raise DomainError(
                ErrorCode.INVITE_QUOTA_FULL,
                f"This inviter's level allows {quota} invitees, and all are taken.",
                field,
            )

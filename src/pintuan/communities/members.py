"""Membership: joining under each policy, the approval queue, invites, leaving,
removals, expiring bans, roles and paid terms.

``community.member_count`` counts ACTIVE rows and is changed in the transaction
that changes a row's state. Admission is one conditional UPDATE of the community
row (``member_count < member_cap``), so concurrent joins queue on that row and
never overfill it; every transaction touches member rows first and the
community row last, one fixed order, so they cannot deadlock. An ended paid term
stops access at once (visibility.py reads ``term_ends_at``); the row becomes
EXPIRED, and its seat free, the next time someone is admitted or the scheduler
sweeps (``expire_ended_terms``), whichever comes first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from pintuan.communities import eligibility
from pintuan.communities.models import (
    Community,
    Invite,
    JoinPolicy,
    Member,
    MemberRole,
    MembershipModel,
    MemberState,
)
from pintuan.communities.visibility import is_active_member, is_banned
from pintuan.core import codes, sql
from pintuan.core.errors import DomainError, ErrorCode

MAX_BAN = timedelta(days=36_500)
MAX_INACTIVE_DAYS = 3_650
MAX_INVITE_USES = 10_000
STAFF = (MemberRole.OWNER, MemberRole.MODERATOR)
CODE_ATTEMPTS = 5

ADMIT = (
    'UPDATE "community" SET "member_count" = "member_count" + 1 '
    'WHERE "id" = $1 AND ("member_cap" IS NULL OR "member_count" < "member_cap")'
)
USE_INVITE = (
    'UPDATE "community_invite" SET "uses" = "uses" + 1 '
    'WHERE "id" = $1 AND ("max_uses" IS NULL OR "uses" < "max_uses")'
)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts on a community: their membership row (if any) and whether an admin."""

    user_id: int
    member: Member | None
    is_admin: bool

    def active(self, now: datetime) -> bool:
        return is_active_member(self.member, now)

    def is_owner(self, now: datetime) -> bool:
        return self.is_admin or (
            self.active(now) and self.member is not None and self.member.role == MemberRole.OWNER
        )

    def is_staff(self, now: datetime) -> bool:
        """Owner, moderator or admin: who runs the queue and moderates."""
        return self.is_admin or (
            self.active(now) and self.member is not None and self.member.role in STAFF
        )


async def _count(community_id: int, delta: int) -> None:
    if delta:
        await Community.filter(id=community_id).update(member_count=F("member_count") + delta)


async def _expire_due(community_id: int, now: datetime) -> int:
    """Ended paid terms become EXPIRED and free their seats (inside the caller's
    transaction); returns how many."""
    expired = await Member.filter(
        community_id=community_id, state=MemberState.ACTIVE, term_ends_at__lte=now
    ).update(state=MemberState.EXPIRED, updated_at=now)
    await _count(community_id, -expired)
    return expired


async def expire_ended_terms(now: datetime) -> int:
    """Mark every member whose paid term has ended EXPIRED, so member counts and free
    seats are right without waiting for the next join; returns how many. One
    transaction per community, member rows before the community row as everywhere."""
    due = await (
        Member.filter(state=MemberState.ACTIVE, term_ends_at__lte=now)
        .distinct()
        .values_list("community_id", flat=True)
    )
    expired = 0
    for community_id in sorted({int(c) for c in due}):  # type: ignore[call-overload]
        async with in_transaction():
            expired += await _expire_due(community_id, now)
    return expired


def _term_end(community: Community, now: datetime) -> datetime | None:
    if community.membership == MembershipModel.PAID_TERM and community.term_days is not None:
        return now + timedelta(days=community.term_days)
    return None


def _refuse_present(member: Member | None, now: datetime) -> None:
    if member is None:
        return
    if is_active_member(member, now):
        raise DomainError(ErrorCode.ALREADY_MEMBER, "You are already a member.", "communityId")
    if member.state == MemberState.PENDING:
        raise DomainError(
            ErrorCode.ALREADY_PENDING, "Your request is waiting for approval.", "communityId"
        )
    if is_banned(member, now):
        until = member.banned_until.isoformat() if member.banned_until else "further notice"
        raise DomainError(ErrorCode.BANNED, f"You are banned until {until}.", "communityId")


async def _usable_invite(community: Community, user_id: int, raw: str, now: datetime) -> Invite:
    code = codes.parse(raw)
    invite = await Invite.get_or_none(code=code, community_id=community.id) if code else None
    if (
        invite is None
        or invite.revoked_at is not None
        or (invite.expires_at is not None and invite.expires_at <= now)
        or (invite.max_uses is not None and invite.uses >= invite.max_uses)
        or (invite.invitee_id is not None and invite.invitee_id != user_id)
    ):
        raise DomainError(ErrorCode.INVALID_INVITE_CODE, "That invite is not valid.", "inviteCode")
    return invite


async def join(
    community: Community, user_id: int, invite_code: str | None, now: datetime
) -> Member:
    """Join under the community's policy: OPEN admits, APPROVAL queues (an invite skips
    the queue), INVITE needs an invite. Thresholds apply to everyone but the owner."""
    existing = await Member.get_or_none(community_id=community.id, user_id=user_id)
    _refuse_present(existing, now)
    invite = None
    if invite_code is not None:
        invite = await _usable_invite(community, user_id, invite_code, now)
    if community.join_policy == JoinPolicy.INVITE and invite is None:
        raise DomainError(
            ErrorCode.INVITE_ONLY, "This community admits by invitation.", "inviteCode"
        )
    await eligibility.check(community, user_id)
    if community.join_policy == JoinPolicy.APPROVAL and invite is None:
        return await _queue(community, existing, user_id, now)
    return await _admit(community, existing, user_id, invite, now)


async def _queue(
    community: Community, existing: Member | None, user_id: int, now: datetime
) -> Member:
    values: dict[str, Any] = {
        "state": MemberState.PENDING,
        "role": MemberRole.MEMBER,
        "updated_at": now,
    }
    try:
        async with in_transaction():
            if existing is None:
                return await Member.create(
                    community_id=community.id,
                    user_id=user_id,
                    last_active_at=now,
                    joined_at=now,
                    **values,
                )
            changed = await Member.filter(id=existing.id, state=existing.state).update(**values)
            if not changed:
                raise IntegrityError("the membership changed meanwhile")
    except IntegrityError:
        raise DomainError(
            ErrorCode.ALREADY_PENDING, "Your request is waiting for approval.", "communityId"
        ) from None
    await existing.refresh_from_db()
    return existing


async def _admit(
    community: Community,
    existing: Member | None,
    user_id: int,
    invite: Invite | None,
    now: datetime,
) -> Member:
    """Take a seat and make the row ACTIVE, in one transaction; COMMUNITY_FULL when the
    cap is reached. ``existing`` is the row as read before (None: there was none)."""
    values: dict[str, Any] = {
        "state": MemberState.ACTIVE,
        "role": MemberRole.MEMBER,
        "term_ends_at": _term_end(community, now),
        "banned_until": None,
        "invite_id": invite.id if invite else None,
        "last_active_at": now,
        "joined_at": now,
        "updated_at": now,
    }
    try:
        async with in_transaction():
            if existing is None:
                member = await Member.create(community_id=community.id, user_id=user_id, **values)
            else:
                changed = await Member.filter(id=existing.id, state=existing.state).update(**values)
                if not changed:
                    raise IntegrityError("the membership changed meanwhile")
                member = existing
            if invite is not None and not await sql.execute(USE_INVITE, invite.id):
                raise DomainError(
                    ErrorCode.INVALID_INVITE_CODE, "That invite is used up.", "inviteCode"
                )
            await _expire_due(community.id, now)
            if not await sql.execute(ADMIT, community.id):
                raise DomainError(ErrorCode.COMMUNITY_FULL, "The community is full.", "communityId")
    except IntegrityError:
        raise DomainError(
            ErrorCode.ALREADY_MEMBER, "You are already a member.", "communityId"
        ) from None
    await member.refresh_from_db()
    return member


async def approve(community: Community, member: Member, now: datetime) -> Member:
    if member.state != MemberState.PENDING:
        raise DomainError(ErrorCode.NOT_FOUND, "No such request to join.", "id")
    return await _admit(community, member, member.user_id, None, now)


async def reject(member: Member, now: datetime) -> Member:
    changed = await Member.filter(id=member.id, state=MemberState.PENDING).update(
        state=MemberState.REMOVED, updated_at=now
    )
    if not changed:
        raise DomainError(ErrorCode.NOT_FOUND, "No such request to join.", "id")
    await member.refresh_from_db()
    return member


async def _leave_state(member: Member, state: MemberState, now: datetime, **extra: object) -> bool:
    """Move ``member`` out to ``state``; frees its seat if it held one. False if it
    had already changed."""
    async with in_transaction():
        was = member.state
        changed = await Member.filter(id=member.id, state=was).update(
            state=state, updated_at=now, **extra
        )
        if changed and was == MemberState.ACTIVE:
            await _count(member.community_id, -1)
    await member.refresh_from_db()
    return bool(changed)


async def leave(member: Member, now: datetime) -> Member:
    if member.role == MemberRole.OWNER:
        raise DomainError(
            ErrorCode.OWNER_CANNOT_LEAVE, "The owner cannot leave the community.", "communityId"
        )
    if member.state not in (MemberState.ACTIVE, MemberState.PENDING):
        raise DomainError(ErrorCode.NOT_FOUND, "You are not a member.", "communityId")
    await _leave_state(member, MemberState.LEFT, now)
    return member


def _outranks(actor: Actor, target: Member, now: datetime) -> bool:
    """The owner (or an admin) acts on anyone but the owner; a moderator on members only."""
    if target.role == MemberRole.OWNER:
        return False
    return actor.is_owner(now) or target.role == MemberRole.MEMBER


async def remove(actor: Actor, member: Member, now: datetime) -> Member:
    if member.state not in (MemberState.ACTIVE, MemberState.PENDING):
        raise DomainError(ErrorCode.NOT_FOUND, "No such member.", "id")
    if not _outranks(actor, member, now):
        raise DomainError(ErrorCode.INVALID, "You cannot remove this member.", "id")
    await _leave_state(member, MemberState.REMOVED, now)
    return member


async def ban(
    actor: Actor, community: Community, user_id: int, until: datetime, now: datetime
) -> Member:
    """Ban a member or any user (so they cannot join) until ``until``."""
    if not now < until <= now + MAX_BAN:
        raise DomainError(ErrorCode.INVALID, "A ban ends in the future, within 100 years.", "until")
    member = await Member.get_or_none(community_id=community.id, user_id=user_id)
    if member is None:
        try:
            return await Member.create(
                community_id=community.id,
                user_id=user_id,
                state=MemberState.BANNED,
                banned_until=until,
                last_active_at=now,
                joined_at=now,
                updated_at=now,
            )
        except IntegrityError:
            member = await Member.get(community_id=community.id, user_id=user_id)
    if not _outranks(actor, member, now):
        raise DomainError(ErrorCode.INVALID, "You cannot ban this member.", "userId")
    if not await _leave_state(
        member, MemberState.BANNED, now, banned_until=until, role=MemberRole.MEMBER
    ):
        raise DomainError(
            ErrorCode.INVALID, "The membership changed meanwhile; try again.", "userId"
        )
    return member


async def remove_inactive(community: Community, days: int, now: datetime) -> int:
    """Remove the members (not moderators or the owner) inactive for ``days``; how many."""
    if not 1 <= days <= MAX_INACTIVE_DAYS:
        raise DomainError(ErrorCode.INVALID, f"Must be 1 to {MAX_INACTIVE_DAYS}.", "days")
    async with in_transaction():
        removed = await Member.filter(
            community_id=community.id,
            state=MemberState.ACTIVE,
            role=MemberRole.MEMBER,
            last_active_at__lt=now - timedelta(days=days),
        ).update(state=MemberState.REMOVED, updated_at=now)
        await _count(community.id, -removed)
    return removed


async def set_role(member: Member, role: MemberRole, now: datetime) -> Member:
    if role == MemberRole.OWNER or member.role == MemberRole.OWNER:
        raise DomainError(ErrorCode.INVALID, "The owner's role does not change.", "role")
    changed = await Member.filter(id=member.id, state=MemberState.ACTIVE).update(
        role=role, updated_at=now
    )
    if not changed:
        raise DomainError(ErrorCode.NOT_FOUND, "No such member.", "id")
    await member.refresh_from_db()
    return member


async def set_term(
    community: Community, member: Member, ends_at: datetime, now: datetime
) -> Member:
    """Record a paid term's end (a renewal, or a term cut short); access ends with it."""
    if community.membership != MembershipModel.PAID_TERM:
        raise DomainError(ErrorCode.INVALID, "This community has no paid terms.", "endsAt")
    if ends_at > now + timedelta(days=MAX_INACTIVE_DAYS):
        raise DomainError(ErrorCode.INVALID, "A term ends within ten years.", "endsAt")
    changed = await Member.filter(
        id=member.id, state=MemberState.ACTIVE, role=MemberRole.MEMBER
    ).update(term_ends_at=ends_at, updated_at=now)
    if not changed:
        raise DomainError(ErrorCode.NOT_FOUND, "No such member.", "id")
    await member.refresh_from_db()
    return member


async def create_invite(
    community: Community,
    created_by_id: int,
    invitee_id: int | None,
    max_uses: int | None,
    expires_at: datetime | None,
    now: datetime,
) -> Invite:
    if max_uses is not None and not 1 <= max_uses <= MAX_INVITE_USES:
        raise DomainError(ErrorCode.INVALID, f"Must be 1 to {MAX_INVITE_USES}.", "maxUses")
    if expires_at is not None and not now < expires_at <= now + MAX_BAN:
        raise DomainError(ErrorCode.INVALID, "An invite expires in the future.", "expiresAt")
    for _ in range(CODE_ATTEMPTS):
        try:
            return await Invite.create(
                community_id=community.id,
                code=codes.new_code(),
                created_by_id=created_by_id,
                invitee_id=invitee_id,
                max_uses=max_uses,
                expires_at=expires_at,
                created_at=now,
            )
        except IntegrityError:
            continue  # a code clash
    raise DomainError(ErrorCode.INVALID, "Could not make an invite code; try again.", "inviteCode")

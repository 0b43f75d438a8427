"""Who can see a community: the one rule every path (node, nodes, search, feeds,
comments, reactions, subscriptions, attachment links) asks.

A private or premium community is visible to its active members and to admins
only; to anyone else it does not exist, so callers answer as for a missing row
(null / NOT_FOUND), never FORBIDDEN.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pintuan.communities.models import Community, CommunityKind, Member, MemberState, Visibility


def is_open_to_all(community: Community) -> bool:
    """A public community that is not premium: anyone, signed in or not, may read it."""
    return community.visibility == Visibility.PUBLIC and community.kind != CommunityKind.PREMIUM


def is_active_member(member: Member | None, now: datetime) -> bool:
    """ACTIVE and within its paid term, if it has one: access ends with the term."""
    if member is None or member.state != MemberState.ACTIVE:
        return False
    return member.term_ends_at is None or member.term_ends_at > now


def is_banned(member: Member | None, now: datetime) -> bool:
    """Banned for good, or until a time still to come: a ban lifts by itself."""
    if member is None or member.state != MemberState.BANNED:
        return False
    return member.banned_until is None or member.banned_until > now


def can_see(community: Community, member: Member | None, *, is_admin: bool, now: datetime) -> bool:
    """Whether a viewer with this membership row (or none) may see the community."""
    return is_open_to_all(community) or is_admin or is_active_member(member, now)


async def memberships(user_id: int | None, community_ids: Iterable[int]) -> dict[int, Member]:
    """The user's membership rows in these communities, by community id: one query."""
    ids = list(set(community_ids))
    if user_id is None or not ids:
        return {}
    rows = await Member.filter(user_id=user_id, community_id__in=ids)
    return {row.community_id: row for row in rows}


async def visible_communities(
    communities: Iterable[Community], user_id: int | None, *, is_admin: bool, now: datetime
) -> dict[int, Community]:
    """The communities of these the viewer may see, by id; one query at most."""
    rows = list(communities)
    closed = [c.id for c in rows if not is_open_to_all(c)]
    members = {} if is_admin else await memberships(user_id, closed)
    return {c.id: c for c in rows if can_see(c, members.get(c.id), is_admin=is_admin, now=now)}

"""The GraphQL side of visibility: every path that reaches a community, a post or a
member goes through these, so a hidden one is answered as missing.

Mutations refuse an invisible target as NOT_FOUND and a visible one the viewer may
not change as FORBIDDEN, so FORBIDDEN never tells a non-member that a private
community exists.
"""

from __future__ import annotations

from datetime import datetime

from pintuan.communities.graphql.loaders import community_loaders
from pintuan.communities.members import Actor
from pintuan.communities.models import Community, Member, MemberState, Post
from pintuan.communities.visibility import can_see, is_active_member
from pintuan.core.clock import now_utc
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.graphql.context import Info
from pintuan.graphql.permissions import forbidden, unauthenticated


async def viewer_membership(info: Info, community_id: int) -> Member | None:
    user = info.context.viewer.user
    if user is None:
        return None
    return await community_loaders(info).membership.load((user.id, community_id))


async def visible_community(info: Info, pk: int) -> Community | None:
    community = await community_loaders(info).community.load(pk)
    if community is None:
        return None
    member = await viewer_membership(info, pk)
    seen = can_see(community, member, is_admin=info.context.viewer.is_admin, now=now_utc())
    return community if seen else None


async def visible_post(info: Info, pk: int) -> Post | None:
    post = await community_loaders(info).post.load(pk)
    if post is None or post.deleted_at is not None:
        return None
    return post if await visible_community(info, post.community_id) else None


async def visible_member(info: Info, pk: int) -> Member | None:
    """ACTIVE members are seen by whoever sees the community; other rows (pending,
    removed, banned) only by the user themself and the community's staff."""
    member = await community_loaders(info).member.load(pk)
    if member is None or await visible_community(info, member.community_id) is None:
        return None
    if is_active_member(member, now_utc()):
        return member
    user = info.context.viewer.user
    if user is not None and user.id == member.user_id:
        return member
    actor = await actor_in(info, member.community_id)
    return member if actor.is_staff(now_utc()) else None


async def actor_in(info: Info, community_id: int) -> Actor:
    """The signed-in viewer as an actor on the community; UNAUTHENTICATED otherwise."""
    viewer = info.context.viewer
    if viewer.user is None:
        raise unauthenticated()
    member = await viewer_membership(info, community_id)
    return Actor(viewer.user.id, member, viewer.is_admin)


async def target_community(info: Info, pk: int, field: str) -> tuple[Community, Actor]:
    """A community a mutation names: NOT_FOUND unless the viewer may see it."""
    actor = await actor_in(info, pk)
    community = await visible_community(info, pk)
    if community is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No such community.", field)
    return community, actor


def require_staff(actor: Actor) -> None:
    if not actor.is_staff(now_utc()):
        raise forbidden()


def require_owner(actor: Actor) -> None:
    if not actor.is_owner(now_utc()):
        raise forbidden()


def require_member(actor: Actor) -> Member:
    """An active member (admins too must join to post)."""
    member, now = actor.member, now_utc()
    if member is not None and actor.active(now):
        return member
    if member is not None and _banned(member, now):
        raise DomainError(ErrorCode.BANNED, "You are banned here.", "communityId")
    raise forbidden()


def _banned(member: Member, now: datetime) -> bool:
    if member.state != MemberState.BANNED:
        return False
    return member.banned_until is None or member.banned_until > now


def is_author_or_staff(actor: Actor, post: Post) -> bool:
    return actor.user_id == post.author_id or actor.is_staff(now_utc())

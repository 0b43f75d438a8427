"""Follows in the API: following and unfollowing users, and each user's lists and counts.

Follows are public, like a profile: anyone may list a user's followers and the
users they follow, newest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import strawberry
from strawberry.dataloader import DataLoader

from pintuan.accounts.graphql.loaders import account_loaders
from pintuan.accounts.graphql.users import User
from pintuan.communities import follows
from pintuan.communities.graphql.refusals import signed_in, social_mutation
from pintuan.communities.models import Follow
from pintuan.core import cache_tags
from pintuan.core.clock import now_utc
from pintuan.core.pagination import SortKey, parse_int
from pintuan.graphql import provided
from pintuan.graphql.context import Info
from pintuan.graphql.ids import NodeType, decode_id
from pintuan.graphql.loaders import required
from pintuan.graphql.mutations import MutationPayload
from pintuan.graphql.pagination import Connection, paginate

NEWEST_FIRST = SortKey(("id",), True, (parse_int,))


@dataclass
class FollowLoaders:
    counts: DataLoader[int, tuple[int, int]] = field(
        default_factory=lambda: DataLoader(follows.counts_of)
    )
    # keyed (viewer, user): the loaders are made before anyone asks who the viewer is
    follows: DataLoader[tuple[int, int], bool] = field(
        default_factory=lambda: DataLoader(_viewer_follows)
    )


async def _viewer_follows(keys: Sequence[tuple[int, int]]) -> list[bool]:
    by_viewer: dict[int, set[int]] = {}
    for viewer_id in {v for v, _ in keys}:
        wanted = [u for v, u in keys if v == viewer_id]
        by_viewer[viewer_id] = await follows.followed_among(viewer_id, wanted)
    return [user_id in by_viewer[viewer_id] for viewer_id, user_id in keys]


def follow_loaders(info: Info) -> FollowLoaders:
    return info.context.loaders.of(FollowLoaders)


@provided.provide("User.followerCount")
async def follower_count(info: Info, user_id: int) -> int:
    followers, _ = await follow_loaders(info).counts.load(user_id)
    return followers


@provided.provide("User.followingCount")
async def following_count(info: Info, user_id: int) -> int:
    _, following = await follow_loaders(info).counts.load(user_id)
    return following


@provided.provide("User.viewerFollows")
async def viewer_follows(info: Info, user_id: int) -> bool:
    viewer = info.context.viewer.user
    if viewer is None or viewer.id == user_id:
        return False
    return await follow_loaders(info).follows.load((viewer.id, user_id))


@provided.provide("User.followers")
async def followers(
    info: Info, user_id: int, first: int | None, after: str | None
) -> Connection[User]:
    query = follows.followers(user_id).select_related("follower")

    def convert(row: Follow) -> User:
        return User.of(row.follower)

    return await paginate(info, query, NEWEST_FIRST, "FOLLOWERS", convert, first, after)


@provided.provide("User.following")
async def following(
    info: Info, user_id: int, first: int | None, after: str | None
) -> Connection[User]:
    query = follows.following(user_id).select_related("followee")

    def convert(row: Follow) -> User:
        return User.of(row.followee)

    return await paginate(info, query, NEWEST_FIRST, "FOLLOWING", convert, first, after)


@strawberry.type
class FollowPayload(MutationPayload):
    user: User | None = strawberry.field(default=None, description="The user (un)followed.")
    changed: bool = strawberry.field(
        default=False, description="False when it already was so: nothing changed."
    )


async def _payload(info: Info, user_id: int, changed: bool) -> FollowPayload:
    cache_tags.wrote(cache_tags.entity(NodeType.USER, user_id))
    found = await required(account_loaders(info).user, user_id, "user")
    return FollowPayload(user=User.of(found), changed=changed)


@strawberry.type
class FollowMutation:
    @social_mutation("Follow a user: their posts come to your home feed. Idempotent.")
    async def follow(self, info: Info, user_id: strawberry.ID) -> FollowPayload:
        _, me = signed_in(info)
        followee = decode_id(user_id, NodeType.USER, "userId")
        changed = await follows.follow(me, followee, now_utc())
        cache_tags.wrote(cache_tags.entity(NodeType.USER, me))
        return await _payload(info, followee, changed)

    @social_mutation("Stop following a user. Idempotent.")
    async def unfollow(self, info: Info, user_id: strawberry.ID) -> FollowPayload:
        _, me = signed_in(info)
        followee = decode_id(user_id, NodeType.USER, "userId")
        changed = await follows.unfollow(me, followee)
        cache_tags.wrote(cache_tags.entity(NodeType.USER, me))
        return await _payload(info, followee, changed)

"""Follows between users: idempotent both ways, with counts kept as they change.

A follow changes three rows in one transaction: the follow itself (inserted
``ON CONFLICT DO NOTHING`` or deleted, so the counts move only when it really
changed) and the two users' counters, always the lower user id first. A follows
B while B follows A therefore lock the same two rows in the same order and
cannot deadlock; a popular user's counter row is held only from that UPDATE to
the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from pintuan.accounts.models import User
from pintuan.communities.models import Follow
from pintuan.communities.social_models import FollowCounts
from pintuan.core import sql
from pintuan.core.errors import DomainError, ErrorCode

_INSERT = (
    'INSERT INTO "user_follow" ("follower_id", "followee_id", "created_at") '
    'VALUES ($1, $2, $3) ON CONFLICT ("follower_id", "followee_id") DO NOTHING RETURNING "id"'
)
# Counters upserted one user at a time: $2 followers and $3 following to add.
_COUNT = (
    'INSERT INTO "user_follow_counts" ("user_id", "followers", "following") VALUES ($1, $2, $3) '
    'ON CONFLICT ("user_id") DO UPDATE SET '
    '"followers" = "user_follow_counts"."followers" + EXCLUDED."followers", '
    '"following" = "user_follow_counts"."following" + EXCLUDED."following"'
)


async def _followee(follower_id: int, followee_id: int) -> None:
    if follower_id == followee_id:
        raise DomainError(ErrorCode.SELF_FOLLOW, "You cannot follow yourself.", "userId")
    if not await User.filter(id=followee_id).exists():
        raise DomainError(ErrorCode.NOT_FOUND, "No such user.", "userId")


async def follow(follower_id: int, followee_id: int, now: datetime) -> bool:
    """``follower`` follows ``followee``; True when they did not already."""
    await _followee(follower_id, followee_id)
    async with in_transaction():
        if not await sql.rows(_INSERT, follower_id, followee_id, now):
            return False
        await _count(follower_id, followee_id, +1)
    return True


async def unfollow(follower_id: int, followee_id: int) -> bool:
    """``follower`` no longer follows ``followee``; True when they did."""
    await _followee(follower_id, followee_id)
    async with in_transaction():
        if not await Follow.filter(follower_id=follower_id, followee_id=followee_id).delete():
            return False
        await _count(follower_id, followee_id, -1)
    return True


async def _count(follower_id: int, followee_id: int, delta: int) -> None:
    changes = {follower_id: (0, delta), followee_id: (delta, 0)}
    for user_id in sorted(changes):  # the fixed lock order
        followers, following = changes[user_id]
        await sql.execute(_COUNT, user_id, followers, following)


async def counts_of(user_ids: Sequence[int]) -> list[tuple[int, int]]:
    """(followers, following) of each user, in order: one query."""
    rows = await FollowCounts.filter(user_id__in=list(user_ids)).values_list(
        "user_id", "followers", "following"
    )
    found = {int(u): (int(a), int(b)) for u, a, b in rows}
    return [found.get(u, (0, 0)) for u in user_ids]


async def followed_among(follower_id: int, user_ids: Sequence[int]) -> set[int]:
    """Which of these users ``follower`` follows: one query."""
    rows = await Follow.filter(follower_id=follower_id, followee_id__in=list(user_ids)).values(
        "followee_id"
    )
    return {int(row["followee_id"]) for row in rows}


def followers(user_id: int) -> QuerySet[Follow]:
    return Follow.filter(followee_id=user_id)


def following(user_id: int) -> QuerySet[Follow]:
    return Follow.filter(follower_id=user_id)

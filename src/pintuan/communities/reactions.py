"""Reactions: at most one per user per post, set and removed idempotently.

The row and the post's ``reaction_count`` change in one transaction, and the
count moves only when a row was really inserted or deleted: the insert is
``ON CONFLICT DO NOTHING`` on the (user, post) key and the delete counts the
rows it removed. However many requests of one user race, each either changes a
row (and the count with it) or changes nothing, so the count always equals the
rows. Every writer of a post's counters takes its own row first and the post's
row last (see comments.py), a fixed order that cannot deadlock; the post's row
is held only from that last UPDATE to the commit, so reactions to one post
queue only for that moment and reactions to other posts never wait at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from pintuan.communities.models import Post, Reaction, ReactionKind
from pintuan.communities.standing import Actor, missing, visible_post
from pintuan.core import sql

_INSERT = (
    'INSERT INTO "community_reaction" ("post_id", "user_id", "kind", "created_at") '
    'VALUES ($1, $2, $3, $4) ON CONFLICT ("user_id", "post_id") DO NOTHING RETURNING "id"'
)


async def react(actor: Actor, post_id: int, kind: ReactionKind, now: datetime) -> Post:
    """The viewer's reaction to the post is ``kind``, whatever it was before."""
    post, standing = await visible_post(post_id, actor, now)
    user_id = standing.require_part()
    async with in_transaction():
        if await sql.rows(_INSERT, post.id, user_id, kind.value, now):
            await _count(post.id, +1)
        else:
            # One existed: change its kind. Removed since, the insert wins on a retry.
            changed = await Reaction.filter(post_id=post.id, user_id=user_id).update(kind=kind)
            if not changed and await sql.rows(_INSERT, post.id, user_id, kind.value, now):
                await _count(post.id, +1)
    return await _reloaded(post.id)


async def unreact(actor: Actor, post_id: int, now: datetime) -> Post:
    """The viewer has no reaction to the post; none is no error."""
    post, standing = await visible_post(post_id, actor, now)
    user_id = standing.require_part()
    async with in_transaction():
        if await Reaction.filter(post_id=post.id, user_id=user_id).delete():
            await _count(post.id, -1)
    return await _reloaded(post.id)


async def _count(post_id: int, delta: int) -> None:
    """Moves the count of a live post; a post deleted meanwhile refuses (and rolls back)."""
    if not await Post.filter(id=post_id, deleted_at=None).update(
        reaction_count=F("reaction_count") + delta
    ):
        raise missing("post", "postId")


async def _reloaded(post_id: int) -> Post:
    post = await Post.get_or_none(id=post_id)
    if post is None:
        raise missing("post", "postId")
    return post


async def kinds_of(user_id: int, post_ids: Sequence[int]) -> dict[int, ReactionKind]:
    """The user's reaction to each of these posts that has one: one query."""
    rows = await Reaction.filter(user_id=user_id, post_id__in=list(post_ids)).values_list(
        "post_id", "kind"
    )
    return {int(post_id): ReactionKind(kind) for post_id, kind in rows}

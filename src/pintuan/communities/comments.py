"""Comments on posts, with one level of replies; deletes are soft.

Counters follow the change in the same transaction, always locking in one order:
the comment, then its parent (``reply_count``), then the post (``comment_count``).
Every writer of these counters (comments, replies, deletes, moderators' removals)
keeps that order, so two of them can wait for each other but never deadlock, and
each holds the post's row only for its last statement before commit. The
guarded UPDATEs (``deleted_at IS NULL``) also refuse a reply to a comment or a
comment on a post deleted in the meantime, rolling the whole change back.

``comment_count`` counts live comments and replies; a deleted comment's replies
stay and still count. A deleted top-level comment is listed as a placeholder
(no text) while it has live replies, so its thread keeps its place.
"""

from __future__ import annotations

from datetime import datetime

from tortoise.expressions import F, Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from pintuan.communities.models import Comment, Post
from pintuan.communities.standing import (
    Actor,
    NotAllowed,
    missing,
    visible_comment,
    visible_post,
)
from pintuan.core import validation
from pintuan.core.errors import DomainError, ErrorCode

MAX_COMMENT_LENGTH = 2000


def clean_text(text: str) -> str:
    return validation.text(text, "text", max_length=MAX_COMMENT_LENGTH, multiline=True)


async def create(
    actor: Actor, post_id: int, text: str, parent_id: int | None, now: datetime
) -> Comment:
    """A comment on a post, or a reply to one of its top-level comments."""
    body = clean_text(text)
    post, standing = await visible_post(post_id, actor, now)
    author_id = standing.require_part()
    async with in_transaction():
        if parent_id is not None:
            parent = await Comment.get_or_none(id=parent_id, post_id=post.id, deleted_at=None)
            if parent is None:
                raise missing("comment to reply to", "parentId")
            if parent.parent_id is not None:
                raise DomainError(
                    ErrorCode.REPLY_TO_REPLY,
                    "Replies are one level deep: reply to the top-level comment.",
                    "parentId",
                )
        comment = await Comment.create(
            post_id=post.id, author_id=author_id, parent_id=parent_id, text=body, created_at=now
        )
        if parent_id is not None:
            await _count_reply(parent_id, +1, live=True)
        await _count_comment(post.id, +1)
    return comment


async def edit(actor: Actor, comment_id: int, text: str, now: datetime) -> Comment:
    """The author changes their text, while they may still take part."""
    body = clean_text(text)
    comment, _, standing = await visible_comment(comment_id, actor, now, "id")
    _require_author(comment, actor)
    standing.require_part()
    changed = await Comment.filter(id=comment.id, deleted_at=None).update(text=body, edited_at=now)
    if not changed:
        raise missing("comment", "id")
    comment.text, comment.edited_at = body, now
    return comment


async def delete(actor: Actor, comment_id: int, now: datetime) -> Comment:
    """The author takes back their comment (its replies stay)."""
    comment, _, _ = await visible_comment(comment_id, actor, now, "id")
    _require_author(comment, actor)
    return await soft_delete(comment, now, "id")


async def soft_delete(comment: Comment, now: datetime, field: str) -> Comment:
    """Marks a comment deleted and takes it off the counts; NOT_FOUND when another
    request deleted it first (the counts move once)."""
    async with in_transaction():
        if not await Comment.filter(id=comment.id, deleted_at=None).update(deleted_at=now):
            raise missing("comment", field)
        if comment.parent_id is not None:
            await _count_reply(comment.parent_id, -1, live=False)
        await _count_comment(comment.post_id, -1)
    comment.deleted_at = now
    return comment


def _require_author(comment: Comment, actor: Actor) -> None:
    if comment.author_id != actor.user_id:
        raise NotAllowed("Only its author may change a comment.")


async def _count_reply(parent_id: int, delta: int, *, live: bool) -> None:
    """A new reply needs its parent alive; a reply deleted under a deleted parent
    still leaves its count."""
    query = Comment.filter(id=parent_id)
    if live:
        query = query.filter(deleted_at=None)
    if not await query.update(reply_count=F("reply_count") + delta):
        raise missing("comment to reply to", "parentId")


async def _count_comment(post_id: int, delta: int) -> None:
    changed = await Post.filter(id=post_id, deleted_at=None).update(
        comment_count=F("comment_count") + delta
    )
    # A comment deleted after its post leaves the count alone: it no longer shows.
    if not changed and delta > 0:
        raise missing("post", "postId")


def threads(post_id: int) -> QuerySet[Comment]:
    """A post's top-level comments: live ones, and deleted ones that still hold replies."""
    live = Q(deleted_at=None) | Q(reply_count__gt=0)
    return Comment.filter(live, post_id=post_id, parent_id=None)


def replies(comment_id: int) -> QuerySet[Comment]:
    return Comment.filter(parent_id=comment_id, deleted_at=None)

"""Moderation: reports and their queue, and moderators' removal of comments.

Reports are seen by the community's owner, moderators and admins only; to
anyone else a report does not exist. Upholding a report removes
the content as its author's delete would; dismissing leaves it. Bans, roles and
post deletion by moderators live with the memberships and posts (members.py,
posts.py). Every decision and removal made here is kept in ``ModerationAction``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from pintuan.communities import comments, posts
from pintuan.communities.models import (
    Comment,
    Report,
    ReportReason,
    ReportState,
)
from pintuan.communities.social_models import ModerationAction
from pintuan.communities.standing import (
    Actor,
    NotAllowed,
    Standing,
    missing,
    standing_in,
    visible_comment,
    visible_community,
    visible_post,
)
from pintuan.core import validation
from pintuan.core.errors import DomainError, ErrorCode

MAX_NOTE_LENGTH = 500


class Resolution(StrEnum):
    DISMISS = "DISMISS"
    REMOVE = "REMOVE"


@dataclass(frozen=True, slots=True)
class Target:
    post_id: int | None = None
    comment_id: int | None = None


def _reason_text(reason: str, field: str) -> str:
    return validation.text(reason, field, min_length=0, max_length=MAX_NOTE_LENGTH, multiline=True)


async def _log(
    community_id: int,
    moderator_id: int,
    action: str,
    now: datetime,
    *,
    user_id: int | None = None,
    target: Target = Target(),
    reason: str = "",
) -> None:
    await ModerationAction.create(
        community_id=community_id,
        moderator_id=moderator_id,
        action=action,
        target_user_id=user_id,
        post_id=target.post_id,
        comment_id=target.comment_id,
        reason=reason,
        created_at=now,
    )


async def report(
    actor: Actor, target: Target, reason: ReportReason, note: str, now: datetime
) -> Report:
    """Flags a post or comment the viewer can see; a second report of the same thing
    by the same person while the first is open returns the first."""
    text = _reason_text(note, "note")
    if actor.user_id is None:
        raise NotAllowed("Sign in to report.")
    if target.comment_id is not None:
        comment, post, _ = await visible_comment(target.comment_id, actor, now)
        target = Target(comment_id=comment.id)
        community_id = post.community_id
    elif target.post_id is not None:
        post, _ = await visible_post(target.post_id, actor, now)
        target = Target(post_id=post.id)
        community_id = post.community_id
    else:
        raise DomainError(ErrorCode.INVALID, "Name a post or a comment.", "postId")
    open_ = Report.filter(
        reporter_id=actor.user_id,
        post_id=target.post_id,
        comment_id=target.comment_id,
        state=ReportState.OPEN,
    )
    existing = await open_.first()
    if existing is not None:
        return existing
    return await Report.create(
        community_id=community_id,
        post_id=target.post_id,
        comment_id=target.comment_id,
        reporter_id=actor.user_id,
        reason=reason,
        note=text,
        created_at=now,
    )


def queue(community_id: int, state: ReportState) -> QuerySet[Report]:
    return Report.filter(community_id=community_id, state=state)


async def moderating(community_id: int, actor: Actor, now: datetime) -> Standing:
    """The viewer's standing in a community they moderate; NOT_FOUND if they cannot see
    it, FORBIDDEN if they can but do not moderate it."""
    standing = await visible_community(community_id, actor, now)
    standing.require_moderator()
    return standing


async def resolve(actor: Actor, report_id: int, resolution: Resolution, now: datetime) -> Report:
    """Decides a report and every other open report of the same post or comment:
    dismissed, or upheld with the content removed."""
    found = await Report.get_or_none(id=report_id).select_related("community")
    if found is None:
        raise missing("report", "id")
    standing = await standing_in(found.community, actor, now)
    if not (standing.sees and standing.moderates) or actor.user_id is None:
        raise missing("report", "id")  # reports exist only for those who moderate
    if found.state != ReportState.OPEN:
        raise DomainError(ErrorCode.ALREADY_DECIDED, "This report is already decided.", "id")
    target = Target(post_id=found.post_id, comment_id=found.comment_id)
    state = ReportState.RESOLVED if resolution is Resolution.REMOVE else ReportState.DISMISSED
    async with in_transaction():
        decided = await Report.filter(
            community_id=found.community_id,
            post_id=target.post_id,
            comment_id=target.comment_id,
            state=ReportState.OPEN,
        ).update(state=state, resolved_by_id=actor.user_id, resolved_at=now)
        if not decided:
            raise DomainError(ErrorCode.ALREADY_DECIDED, "This report is already decided.", "id")
        if resolution is Resolution.REMOVE:
            await _remove_target(target, found.community_id, now)
        await _log(
            found.community_id,
            actor.user_id,
            f"REPORT_{state.value}",
            now,
            target=target,
            reason=found.reason.value,
        )
    found.state, found.resolved_by_id, found.resolved_at = state, actor.user_id, now
    return found


async def _remove_target(target: Target, community_id: int, now: datetime) -> None:
    """The reported content goes, as its author's delete would, if its author has not
    deleted it already."""
    if target.comment_id is not None:
        comment = await Comment.get_or_none(id=target.comment_id, deleted_at=None)
        if comment is not None:
            await comments.soft_delete(comment, now, "id")
    elif target.post_id is not None:
        await posts.soft_delete(target.post_id, community_id, now)


async def remove_comment(actor: Actor, comment_id: int, reason: str, now: datetime) -> Comment:
    text = _reason_text(reason, "reason")
    comment, post, standing = await visible_comment(comment_id, actor, now)
    moderator_id = standing.require_moderator()
    async with in_transaction():
        await comments.soft_delete(comment, now, "commentId")
        await _log(
            post.community_id,
            moderator_id,
            "REMOVE_COMMENT",
            now,
            target=Target(comment_id=comment.id),
            reason=text,
        )
    return comment

"""Where the viewer stands in a community, for conversation and moderation.

Everything here is asked through ``visibility.can_see``: a post, comment or
report of a community the viewer may not see is answered as missing
(``NOT_FOUND``), never as forbidden, so that nobody learns it exists. Seeing is
not taking part: only active members comment and react, and only the owner,
its moderators and admins moderate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pintuan.communities import visibility
from pintuan.communities.members import STAFF
from pintuan.communities.models import Comment, Community, Member, Post
from pintuan.core.errors import DomainError, ErrorCode


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a signed-in user (or no one), and whether they are an admin."""

    user_id: int | None
    is_admin: bool = False


@dataclass(frozen=True, slots=True)
class Standing:
    community: Community
    member: Member | None  # the viewer's row in any state, or none
    actor: Actor
    now: datetime

    @property
    def sees(self) -> bool:
        return visibility.can_see(
            self.community, self.member, is_admin=self.actor.is_admin, now=self.now
        )

    @property
    def is_member(self) -> bool:
        return visibility.is_active_member(self.member, self.now)

    @property
    def is_owner(self) -> bool:
        return self.actor.user_id is not None and self.community.owner_id == self.actor.user_id

    @property
    def moderates(self) -> bool:
        """The owner, an active moderator, or an admin."""
        if self.actor.is_admin or self.is_owner:
            return True
        return self.is_member and self.member is not None and self.member.role in STAFF

    @property
    def is_banned(self) -> bool:
        return visibility.is_banned(self.member, self.now)

    @property
    def may_take_part(self) -> bool:
        """Comment and react: an active member (the owner always is one)."""
        return self.sees and not self.is_banned and (self.is_member or self.is_owner)

    def require_part(self) -> int:
        """The id of the viewer taking part; refuses one who sees the community but may
        not take part in it."""
        if self.may_take_part and self.actor.user_id is not None:
            return self.actor.user_id
        if self.is_banned and self.member is not None:
            until = self.member.banned_until
            ends = "for good" if until is None else f"until {until.isoformat()}"
            raise DomainError(ErrorCode.BANNED, f"You are banned from this community {ends}.")
        raise NotAllowed("Join the community to take part.")

    def require_moderator(self) -> int:
        """The id of the moderating viewer; anyone else who sees the community is refused."""
        if self.moderates and self.actor.user_id is not None:
            return self.actor.user_id
        raise NotAllowed("Only the community's owner and moderators may do this.")


class NotAllowed(Exception):
    """The viewer sees the object but may not do this to it (FORBIDDEN at the API)."""


async def standing_in(community: Community, actor: Actor, now: datetime) -> Standing:
    member = None
    if actor.user_id is not None:
        member = await Member.get_or_none(community_id=community.id, user_id=actor.user_id)
    return Standing(community, member, actor, now)


def missing(what: str, field: str) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"No such {what}.", field)


async def visible_community(
    community_id: int, actor: Actor, now: datetime, field: str = "communityId"
) -> Standing:
    community = await Community.get_or_none(id=community_id)
    if community is None:
        raise missing("community", field)
    found = await standing_in(community, actor, now)
    if not found.sees:
        raise missing("community", field)
    return found


async def visible_post(
    post_id: int, actor: Actor, now: datetime, field: str = "postId"
) -> tuple[Post, Standing]:
    """A live post the viewer may see, with their standing in its community."""
    post = await Post.get_or_none(id=post_id, deleted_at=None).select_related("community")
    if post is None:
        raise missing("post", field)
    found = await standing_in(post.community, actor, now)
    if not found.sees:
        raise missing("post", field)
    return post, found


async def visible_comment(
    comment_id: int, actor: Actor, now: datetime, field: str = "commentId"
) -> tuple[Comment, Post, Standing]:
    """A live comment on a live post the viewer may see."""
    comment = await Comment.get_or_none(id=comment_id, deleted_at=None).select_related(
        "post__community"
    )
    if comment is None or comment.post.deleted_at is not None:
        raise missing("comment", field)
    found = await standing_in(comment.post.community, actor, now)
    if not found.sees:
        raise missing("comment", field)
    return comment, comment.post, found

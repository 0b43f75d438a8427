"""Comments in the API: the Comment type, a post's threads, and writing comments."""

from __future__ import annotations

from datetime import datetime

import strawberry

from pintuan.accounts.graphql.loaders import account_loaders
from pintuan.accounts.graphql.users import User
from pintuan.communities import comments, models
from pintuan.communities.graphql.refusals import actor, signed_in, social_mutation
from pintuan.communities.pacing import Action, paced
from pintuan.communities.standing import visible_comment
from pintuan.core.clock import now_utc
from pintuan.core.errors import DomainError
from pintuan.core.pagination import SortKey, parse_datetime, parse_int
from pintuan.graphql.context import Info
from pintuan.graphql.ids import NodeType, decode_id, to_global_id
from pintuan.graphql.loaders import required
from pintuan.graphql.mutations import MutationPayload
from pintuan.graphql.node import Node, register_node
from pintuan.graphql.pagination import Connection, paginate

OLDEST_FIRST = SortKey(("created_at", "id"), False, (parse_datetime, parse_int))


@strawberry.type(
    description="A comment on a post, or a reply to one (replies are one level deep). "
    "A deleted comment keeps its place while it has replies, without its text."
)
class Comment(Node):
    text: str | None = strawberry.field(description="Null once deleted.")
    deleted: bool
    reply_count: int = strawberry.field(description="Live replies.")
    created_at: datetime
    edited_at: datetime | None
    post_id: strawberry.ID
    parent_id: strawberry.ID | None = strawberry.field(description="The comment replied to.")
    row: strawberry.Private[models.Comment]

    @classmethod
    def of(cls, c: models.Comment) -> Comment:
        deleted = c.deleted_at is not None
        return cls(
            id=strawberry.ID(to_global_id(NodeType.COMMENT, c.id)),
            text=None if deleted else c.text,
            deleted=deleted,
            reply_count=c.reply_count,
            created_at=c.created_at,
            edited_at=c.edited_at,
            post_id=strawberry.ID(to_global_id(NodeType.POST, c.post_id)),
            parent_id=(
                strawberry.ID(to_global_id(NodeType.COMMENT, c.parent_id))
                if c.parent_id is not None
                else None
            ),
            row=c,
        )

    @strawberry.field(description="Null once the comment is deleted.")
    async def author(self, info: Info) -> User | None:
        if self.deleted:
            return None
        found = await required(account_loaders(info).user, self.row.author_id, "user")
        return User.of(found)

    @strawberry.field(description="Replies to this comment, oldest first.")
    async def replies(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Comment]:
        query = comments.replies(self.row.id)
        return await paginate(info, query, OLDEST_FIRST, "COMMENTS", Comment.of, first, after)


async def post_comments(
    info: Info, post_id: int, first: int | None, after: str | None
) -> Connection[Comment]:
    """A post's top-level comments, oldest first; the post is one the viewer sees."""
    query = comments.threads(post_id)
    return await paginate(info, query, OLDEST_FIRST, "COMMENTS", Comment.of, first, after)


async def _comment_node(info: Info, pk: int) -> Comment | None:
    try:
        comment, _, _ = await visible_comment(pk, actor(info), now_utc())
    except DomainError:
        return None
    return Comment.of(comment)


register_node(NodeType.COMMENT, _comment_node)


@strawberry.input
class CommentCreateInput:
    post_id: strawberry.ID
    text: str
    parent_id: strawberry.ID | None = strawberry.field(
        default=None, description="A top-level comment of the same post, to reply to."
    )


@strawberry.type
class CommentPayload(MutationPayload):
    comment: Comment | None = None


@strawberry.type
class CommentMutation:
    @social_mutation("Comment on a post of a community you are a member of, or reply to a comment.")
    async def comment_create(self, info: Info, input: CommentCreateInput) -> CommentPayload:
        who, user_id = signed_in(info)
        post_id = decode_id(input.post_id, NodeType.POST, "postId")
        parent_id = (
            decode_id(input.parent_id, NodeType.COMMENT, "parentId")
            if input.parent_id is not None
            else None
        )
        async with paced(info.context.limiter, info.context.settings, Action.COMMENT, user_id):
            comment = await comments.create(who, post_id, input.text, parent_id, now_utc())
        return CommentPayload(comment=Comment.of(comment))

    @social_mutation("Change the text of your comment.")
    async def comment_edit(self, info: Info, id: strawberry.ID, text: str) -> CommentPayload:
        who, _ = signed_in(info)
        comment = await comments.edit(who, decode_id(id, NodeType.COMMENT), text, now_utc())
        return CommentPayload(comment=Comment.of(comment))

    @social_mutation("Delete your comment; its replies stay.")
    async def comment_delete(self, info: Info, id: strawberry.ID) -> CommentPayload:
        who, _ = signed_in(info)
        comment = await comments.delete(who, decode_id(id, NodeType.COMMENT), now_utc())
        return CommentPayload(comment=Comment.of(comment))

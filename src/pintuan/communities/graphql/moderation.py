"""Moderation in the API: reports, the moderators' queue, and removing comments."""

from __future__ import annotations

from datetime import datetime

import strawberry

from pintuan.accounts.graphql.loaders import account_loaders
from pintuan.accounts.graphql.users import User
from pintuan.communities import models, moderation
from pintuan.communities.graphql.comments import Comment
from pintuan.communities.graphql.refusals import actor, signed_in, social_mutation
from pintuan.communities.standing import Standing, standing_in
from pintuan.core.clock import now_utc
from pintuan.core.pagination import SortKey, parse_int
from pintuan.graphql.arguments import exactly_one
from pintuan.graphql.context import Info
from pintuan.graphql.ids import NodeType, decode_id, to_global_id
from pintuan.graphql.loaders import required
from pintuan.graphql.mutations import MutationPayload
from pintuan.graphql.node import Node, register_node
from pintuan.graphql.pagination import Connection, paginate
from pintuan.graphql.permissions import forbidden, unauthenticated

OLDEST_FIRST = SortKey(("id",), False, (parse_int,))

strawberry.enum(models.ReportReason, name="ReportReason", description="Why content is flagged.")
strawberry.enum(
    models.ReportState,
    name="ReportState",
    description="OPEN until a moderator decides: RESOLVED (content removed) or DISMISSED.",
)
strawberry.enum(
    moderation.Resolution,
    name="ReportResolution",
    description="DISMISS leaves the content; REMOVE takes it down.",
)


@strawberry.type(description="A flag on a post or comment; seen by the community's moderators.")
class Report(Node):
    reason: models.ReportReason
    note: str
    state: models.ReportState
    created_at: datetime
    resolved_at: datetime | None
    post_id: strawberry.ID | None = strawberry.field(description="The post flagged, if a post.")
    row: strawberry.Private[models.Report]

    @classmethod
    def of(cls, r: models.Report) -> Report:
        return cls(
            id=strawberry.ID(to_global_id(NodeType.REPORT, r.id)),
            reason=r.reason,
            note=r.note,
            state=r.state,
            created_at=r.created_at,
            resolved_at=r.resolved_at,
            post_id=(
                strawberry.ID(to_global_id(NodeType.POST, r.post_id))
                if r.post_id is not None
                else None
            ),
            row=r,
        )

    @strawberry.field
    async def reporter(self, info: Info) -> User:
        return User.of(await required(account_loaders(info).user, self.row.reporter_id, "user"))

    @strawberry.field(description="The comment flagged, if a comment (deleted ones included).")
    async def comment(self, info: Info) -> Comment | None:
        if self.row.comment_id is None:
            return None
        found = await models.Comment.get_or_none(id=self.row.comment_id)
        return Comment.of(found) if found is not None else None


async def community_reports(
    info: Info,
    community: models.Community,
    state: models.ReportState,
    first: int | None,
    after: str | None,
) -> Connection[Report] | None:
    """The community's queue, oldest first, for those who moderate it; FORBIDDEN to
    anyone else who can see the community."""
    who = actor(info)
    if who.user_id is None:
        raise unauthenticated()
    standing = await standing_in(community, who, now_utc())
    if not standing.moderates:
        raise forbidden()
    query = moderation.queue(community.id, state)
    return await paginate(info, query, OLDEST_FIRST, "REPORTS", Report.of, first, after)


async def _report_node(info: Info, pk: int) -> Report | None:
    found = await models.Report.get_or_none(id=pk).select_related("community")
    if found is None:
        return None
    standing: Standing = await standing_in(found.community, actor(info), now_utc())
    return Report.of(found) if standing.sees and standing.moderates else None


register_node(NodeType.REPORT, _report_node)


@strawberry.input(description="Flag one post or one comment.")
class ReportCreateInput:
    post_id: strawberry.ID | None = None
    comment_id: strawberry.ID | None = None
    reason: models.ReportReason
    note: str = ""


@strawberry.type
class ReportPayload(MutationPayload):
    report: Report | None = None


@strawberry.type
class ModeratedCommentPayload(MutationPayload):
    comment: Comment | None = None


@strawberry.type
class ModerationMutation:
    @social_mutation("Flag a post or comment you can see for the community's moderators.")
    async def report_create(self, info: Info, input: ReportCreateInput) -> ReportPayload:
        who, _ = signed_in(info)
        named = exactly_one(info, {"postId": input.post_id, "commentId": input.comment_id})
        target = (
            moderation.Target(post_id=decode_id(str(input.post_id), NodeType.POST, "postId"))
            if named == "postId"
            else moderation.Target(
                comment_id=decode_id(str(input.comment_id), NodeType.COMMENT, "commentId")
            )
        )
        found = await moderation.report(who, target, input.reason, input.note, now_utc())
        return ReportPayload(report=Report.of(found))

    @social_mutation(
        "Decide a report, and every open report of the same content: dismiss it, "
        "or remove the content."
    )
    async def report_resolve(
        self, info: Info, id: strawberry.ID, resolution: moderation.Resolution
    ) -> ReportPayload:
        who, _ = signed_in(info)
        found = await moderation.resolve(who, decode_id(id, NodeType.REPORT), resolution, now_utc())
        return ReportPayload(report=Report.of(found))

    @social_mutation("Moderators take down a comment; its replies stay.")
    async def comment_remove(
        self, info: Info, comment_id: strawberry.ID, reason: str = ""
    ) -> ModeratedCommentPayload:
        who, _ = signed_in(info)
        pk = decode_id(comment_id, NodeType.COMMENT, "commentId")
        found = await moderation.remove_comment(who, pk, reason, now_utc())
        return ModeratedCommentPayload(comment=Comment.of(found))

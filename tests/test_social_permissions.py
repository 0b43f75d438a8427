"""Every conversation and moderation operation, tried by each standing in a public
community: anonymous, a signed-in outsider, a member, a moderator, the owner, an admin.

Each expected refusal changes nothing; each success changes something. The list
of operations is checked against the schema's own mutation fields of these
domains, so a new one cannot be left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from strawberry.types.base import get_object_definition

from pintuan.communities import follows
from pintuan.communities.graphql.comments import CommentMutation
from pintuan.communities.graphql.follows import FollowMutation
from pintuan.communities.graphql.moderation import ModerationMutation
from pintuan.communities.graphql.reactions import ReactionMutation
from pintuan.communities.models import (
    Comment,
    Community,
    Follow,
    Member,
    MemberState,
    Post,
    Reaction,
    Report,
    ReportReason,
)
from pintuan.communities.social_models import FollowCounts, ModerationAction
from pintuan.core.clock import now_utc
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.schema import build_schema
from pintuan.settings import Settings
from tests import factories, social_world
from tests.conftest import GraphQLClient
from tests.social_world import ROLES, Circle

OK = "ok"


@dataclass
class Scene:
    circle: Circle
    comment_id: str  # the member's comment
    report_id: str
    target_id: str  # a second plain member, to ban or promote
    banned_id: str  # a banned user, to unban


async def scene(settings: Settings) -> Scene:
    circle = await social_world.circle(settings)
    comment = await Comment.create(
        post=circle.post, author=circle.users["member"], text="hi", created_at=now_utc()
    )
    await Post.filter(id=circle.post.id).update(comment_count=1)
    report = await Report.create(
        community=circle.community,
        post=circle.post,
        reporter=circle.users["owner"],
        reason=ReportReason.SPAM,
        created_at=now_utc(),
    )
    target = await factories.user()
    target_reporter = target
    await social_world.join(circle.community, target)
    await Report.filter(id=report.id).update(reporter_id=target_reporter.id)
    for role in ("member", "moderator", "owner"):
        await Reaction.create(post=circle.post, user=circle.users[role], created_at=now_utc())
    await Post.filter(id=circle.post.id).update(reaction_count=3)
    for user in circle.users.values():
        await follows.follow(user.id, target.id, now_utc())
    banned = await factories.user()
    await social_world.join(circle.community, banned, state=MemberState.BANNED)
    return Scene(
        circle,
        to_global_id(NodeType.COMMENT, comment.id),
        to_global_id(NodeType.REPORT, report.id),
        to_global_id(NodeType.USER, target.id),
        to_global_id(NodeType.USER, banned.id),
    )


@dataclass(frozen=True)
class Operation:
    name: str
    document: str
    variables: Callable[[Scene], dict[str, Any]]
    expected: dict[str, str]  # role -> OK or the code of the refusal


def outcomes(
    anonymous: str, outsider: str, member: str, moderator: str, owner: str, admin: str
) -> dict[str, str]:
    return dict(zip(ROLES, (anonymous, outsider, member, moderator, owner, admin), strict=True))


U, F, NF = "UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND"
PARTICIPANTS = outcomes(U, F, OK, OK, OK, F)
SIGNED_IN = outcomes(U, OK, OK, OK, OK, OK)
AUTHOR = outcomes(U, F, OK, F, F, F)
MODERATORS = outcomes(U, F, F, OK, OK, OK)

OPERATIONS = [
    Operation(
        "commentCreate",
        'mutation($p: ID!) { commentCreate(input: {postId: $p, text: "x"}) '
        "{ comment { id } userErrors { code } } }",
        lambda s: {"p": s.circle.post_id},
        PARTICIPANTS,
    ),
    Operation(
        "commentEdit",
        'mutation($id: ID!) { commentEdit(id: $id, text: "y") '
        "{ comment { id } userErrors { code } } }",
        lambda s: {"id": s.comment_id},
        AUTHOR,
    ),
    Operation(
        "commentDelete",
        "mutation($id: ID!) { commentDelete(id: $id) { comment { id } userErrors { code } } }",
        lambda s: {"id": s.comment_id},
        AUTHOR,
    ),
    Operation(
        "reactionSet",
        "mutation($p: ID!) { reactionSet(postId: $p, kind: LOVE) "
        "{ reactionCount userErrors { code } } }",
        lambda s: {"p": s.circle.post_id},
        PARTICIPANTS,
    ),
    Operation(
        "reactionRemove",
        "mutation($p: ID!) { reactionRemove(postId: $p) { reactionCount userErrors { code } } }",
        lambda s: {"p": s.circle.post_id},
        PARTICIPANTS,
    ),
    Operation(
        "follow",
        "mutation($u: ID!) { follow(userId: $u) { changed userErrors { code } } }",
        lambda s: {"u": s.banned_id},
        SIGNED_IN,
    ),
    Operation(
        "unfollow",
        "mutation($u: ID!) { unfollow(userId: $u) { changed userErrors { code } } }",
        lambda s: {"u": s.target_id},
        SIGNED_IN,
    ),
    Operation(
        "reportCreate",
        "mutation($p: ID!) { reportCreate(input: {postId: $p, reason: SCAM}) "
        "{ report { id } userErrors { code } } }",
        lambda s: {"p": s.circle.post_id},
        SIGNED_IN,
    ),
    Operation(
        "reportResolve",
        "mutation($id: ID!) { reportResolve(id: $id, resolution: REMOVE) "
        "{ report { id } userErrors { code } } }",
        lambda s: {"id": s.report_id},
        outcomes(U, NF, NF, OK, OK, OK),  # reports exist only for those who moderate
    ),
    Operation(
        "commentRemove",
        "mutation($c: ID!) { commentRemove(commentId: $c) { comment { id } userErrors { code } } }",
        lambda s: {"c": s.comment_id},
        MODERATORS,
    ),
]
MUTATION_CLASSES = (CommentMutation, ReactionMutation, FollowMutation, ModerationMutation)


def test_every_operation_of_these_domains_has_an_entry(settings: Settings) -> None:
    schema = build_schema(settings)
    names = {
        schema.config.name_converter.get_graphql_name(f)
        for cls in MUTATION_CLASSES
        for f in get_object_definition(cls, strict=True).fields
    }
    assert names == {o.name for o in OPERATIONS}


async def snapshot() -> list[Any]:
    tables = (Comment, Reaction, Follow, FollowCounts, Report, Member, Post, Community)
    found = [sorted(map(str, await m.all().values())) for m in tables]
    found.append(sorted(map(str, await ModerationAction.all().values("action"))))
    return found


CASES = [(o, role) for o in OPERATIONS for role in ROLES]


@pytest.mark.parametrize(("operation", "role"), CASES, ids=lambda c: getattr(c, "name", c))
async def test_each_standing_gets_what_the_table_says(
    gql: GraphQLClient, settings: Settings, operation: Operation, role: str
) -> None:
    world = await scene(settings)
    before = await snapshot()

    body = await gql(operation.document, operation.variables(world), world.circle.headers[role])

    expected = operation.expected[role]
    if expected == OK:
        assert "errors" not in body, body
        assert body["data"][operation.name]["userErrors"] == [], body
        assert await snapshot() != before
        return
    assert await snapshot() == before, body
    if expected in (U, F):
        assert body["errors"][0]["extensions"]["code"] == expected, body
    else:
        assert body["data"][operation.name]["userErrors"] == [{"code": expected}], body

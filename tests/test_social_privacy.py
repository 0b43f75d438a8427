"""Leak probes: comments, reactions and reports of a private community answer a
non-member exactly as for something that does not exist, never FORBIDDEN.

Each probe is sent for a real private object and for an ID that names nothing,
and the two answers must be the same: the first cannot tell the caller more.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from pintuan.communities.models import Comment, Member, MemberState, Report, ReportReason
from pintuan.core.clock import now_utc
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.settings import Settings
from tests import social_world
from tests.conftest import GraphQLClient
from tests.social_world import Circle

MISSING = 10**6


@pytest.fixture
async def private(settings: Settings) -> Circle:
    return await social_world.circle(settings, private=True)


async def private_things(circle: Circle) -> dict[str, int]:
    comment = await Comment.create(
        post=circle.post, author=circle.users["member"], text="secret", created_at=now_utc()
    )
    report = await Report.create(
        community=circle.community,
        post=circle.post,
        reporter=circle.users["member"],
        reason=ReportReason.SPAM,
        created_at=now_utc(),
    )
    return {"post": circle.post.id, "comment": comment.id, "report": report.id}


def probes(ids: dict[str, int], community: int, user: int) -> list[tuple[str, str, dict[str, Any]]]:
    post = to_global_id(NodeType.POST, ids["post"])
    comment = to_global_id(NodeType.COMMENT, ids["comment"])
    report = to_global_id(NodeType.REPORT, ids["report"])
    return [
        ("node(comment)", "query($id: ID!) { node(id: $id) { id } }", {"id": comment}),
        ("node(report)", "query($id: ID!) { node(id: $id) { id } }", {"id": report}),
        (
            "commentCreate",
            'mutation($p: ID!) { commentCreate(input: {postId: $p, text: "x"}) '
            "{ comment { id } userErrors { field code } } }",
            {"p": post},
        ),
        (
            "commentEdit",
            'mutation($id: ID!) { commentEdit(id: $id, text: "x") '
            "{ comment { id } userErrors { field code } } }",
            {"id": comment},
        ),
        (
            "commentDelete",
            "mutation($id: ID!) { commentDelete(id: $id) "
            "{ comment { id } userErrors { field code } } }",
            {"id": comment},
        ),
        (
            "reactionSet",
            "mutation($p: ID!) { reactionSet(postId: $p, kind: LIKE) "
            "{ reactionCount userErrors { field code } } }",
            {"p": post},
        ),
        (
            "reactionRemove",
            "mutation($p: ID!) { reactionRemove(postId: $p) "
            "{ reactionCount userErrors { field code } } }",
            {"p": post},
        ),
        (
            "reportCreate(post)",
            "mutation($p: ID!) { reportCreate(input: {postId: $p, reason: SPAM}) "
            "{ report { id } userErrors { field code } } }",
            {"p": post},
        ),
        (
            "reportCreate(comment)",
            "mutation($c: ID!) { reportCreate(input: {commentId: $c, reason: SPAM}) "
            "{ report { id } userErrors { field code } } }",
            {"c": comment},
        ),
        (
            "reportResolve",
            "mutation($id: ID!) { reportResolve(id: $id, resolution: DISMISS) "
            "{ report { id } userErrors { field code } } }",
            {"id": report},
        ),
        (
            "commentRemove",
            "mutation($c: ID!) { commentRemove(commentId: $c) "
            "{ comment { id } userErrors { field code } } }",
            {"c": comment},
        ),
    ]


async def answers(
    gql: GraphQLClient, headers: dict[str, str], ids: dict[str, int], community: int, user: int
) -> dict[str, Any]:
    found = {}
    for name, document, variables in probes(ids, community, user):
        body = await gql(document, variables, headers)
        found[name] = body
    return found


async def assert_as_if_missing(gql: GraphQLClient, circle: Circle, role: str) -> None:
    ids = await private_things(circle)
    nothing = {key: MISSING for key in ids}
    target = circle.users["member"].id
    real = await answers(gql, circle.headers[role], ids, circle.community.id, target)
    fake = await answers(gql, circle.headers[role], nothing, MISSING, target)
    for name, body in real.items():
        assert body == fake[name], (role, name, body, fake[name])
        assert "FORBIDDEN" not in str(body), (role, name)
        if body.get("data"):
            payload = next(iter(body["data"].values()))
            if isinstance(payload, dict) and payload.get("userErrors"):
                assert payload["userErrors"][0]["code"] in {"NOT_FOUND"}, (role, name)


async def test_a_signed_in_non_member_finds_nothing(gql: GraphQLClient, private: Circle) -> None:
    await assert_as_if_missing(gql, private, "outsider")


async def test_anonymous_callers_find_nothing_or_must_sign_in(
    gql: GraphQLClient, private: Circle
) -> None:
    ids = await private_things(private)
    for name, document, variables in probes(ids, private.community.id, private.users["member"].id):
        body = await gql(document, variables)
        if document.startswith("query"):
            assert body["data"]["node"] is None, name
        else:
            assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", name


async def test_a_removed_member_finds_nothing(gql: GraphQLClient, private: Circle) -> None:
    await Member.filter(
        community_id=private.community.id, user_id=private.users["moderator"].id
    ).update(state=MemberState.REMOVED)

    await assert_as_if_missing(gql, private, "moderator")


async def test_a_member_whose_paid_term_ended_finds_nothing(
    gql: GraphQLClient, private: Circle
) -> None:
    await Member.filter(
        community_id=private.community.id, user_id=private.users["moderator"].id
    ).update(term_ends_at=now_utc() - timedelta(seconds=1))

    await assert_as_if_missing(gql, private, "moderator")

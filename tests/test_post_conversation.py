"""A post's conversation as the Post type shows it: threads, the viewer's own state, and
the community's report queue for those who moderate it."""

from __future__ import annotations

from typing import Any

import pytest

from pintuan.settings import Settings
from tests import social_world
from tests.conftest import GraphQLClient
from tests.social_world import ROLES, Circle
from tests.test_comments import DELETE, comment
from tests.test_reactions import react
from tests.test_social_permissions import scene

THREADS = """
query($id: ID!, $after: String) { node(id: $id) { ... on Post {
  commentCount viewerCanComment
  comments(first: 2, after: $after) {
    edges { node { id text deleted replyCount author { handle }
      replies(first: 10) { edges { node { id text } } } } }
    pageInfo { hasNextPage endCursor } } } } }
"""
VIEW = """
query($id: ID!) { node(id: $id) { ... on Post { reactionCount viewerHasReacted viewerReaction } } }
"""


@pytest.fixture
async def circle(settings: Settings) -> Circle:
    return await social_world.circle(settings)


async def threads(
    gql: GraphQLClient, circle: Circle, role: str, after: str | None = None
) -> dict[str, Any] | None:
    body = await gql(THREADS, {"id": circle.post_id, "after": after}, circle.headers[role])
    assert "errors" not in body, body
    found: dict[str, Any] | None = body["data"]["node"]
    return found


async def test_a_member_comments_and_replies_and_the_post_counts_both(
    gql: GraphQLClient, circle: Circle
) -> None:
    top = (await comment(gql, circle, "member", "First!"))["comment"]
    reply = await comment(gql, circle, "moderator", "Welcome", parent=top["id"])

    assert reply["userErrors"] == []
    assert reply["comment"]["parentId"] == top["id"]
    page = await threads(gql, circle, "outsider")
    assert page is not None
    assert page["commentCount"] == 2
    [edge] = page["comments"]["edges"]
    assert edge["node"]["text"] == "First!"
    assert edge["node"]["replyCount"] == 1
    assert [r["node"]["text"] for r in edge["node"]["replies"]["edges"]] == ["Welcome"]


async def test_who_may_not_comment_is_told_so(gql: GraphQLClient, circle: Circle) -> None:
    for role in ("anonymous", "outsider", "admin"):
        page = await threads(gql, circle, role)
        assert page is not None and page["viewerCanComment"] is False, role


async def test_members_who_may_comment_are_told_so(gql: GraphQLClient, circle: Circle) -> None:
    for role in ("member", "moderator", "owner"):
        page = await threads(gql, circle, role)
        assert page is not None and page["viewerCanComment"] is True, role


async def test_a_deleted_comment_keeps_its_thread_without_its_text(
    gql: GraphQLClient, circle: Circle
) -> None:
    top = (await comment(gql, circle, "member", "Question?"))["comment"]
    await comment(gql, circle, "owner", "Answer.", parent=top["id"])
    lonely = (await comment(gql, circle, "member", "Nobody replies"))["comment"]

    for made in (top, lonely):
        deleted = await gql(DELETE, {"id": made["id"]}, circle.headers["member"])
        assert deleted["data"]["commentDelete"]["comment"]["deleted"] is True

    page = await threads(gql, circle, "member")
    assert page is not None
    assert page["commentCount"] == 1  # the answer
    [edge] = page["comments"]["edges"]
    assert edge["node"] | {"replies": None} == {
        "id": top["id"],
        "text": None,
        "deleted": True,
        "replyCount": 1,
        "author": None,
        "replies": None,
    }


async def test_comments_page_by_keyset_oldest_first(gql: GraphQLClient, circle: Circle) -> None:
    texts = [f"c{i}" for i in range(5)]
    for text in texts:
        await comment(gql, circle, "member", text)

    seen: list[str] = []
    after = None
    while True:
        page = await threads(gql, circle, "member", after)
        assert page is not None
        seen += [e["node"]["text"] for e in page["comments"]["edges"]]
        if not page["comments"]["pageInfo"]["hasNextPage"]:
            break
        after = page["comments"]["pageInfo"]["endCursor"]

    assert seen == texts


async def test_each_viewer_sees_their_own_reaction(gql: GraphQLClient, circle: Circle) -> None:
    await react(gql, circle, circle.headers["member"], "WOW")

    views = {}
    for role in ("member", "owner", "anonymous"):
        body = await gql(VIEW, {"id": circle.post_id}, circle.headers[role])
        views[role] = body["data"]["node"]

    assert views["member"] == {
        "reactionCount": 1,
        "viewerHasReacted": True,
        "viewerReaction": "WOW",
    }
    assert views["owner"] == {"reactionCount": 1, "viewerHasReacted": False, "viewerReaction": None}
    assert views["anonymous"] == views["owner"]


REPORTS = """
query($id: ID!) { node(id: $id) { ... on Community { reports { edges { node { id reason } } } } } }
"""


@pytest.mark.parametrize("role", ROLES)
async def test_the_report_queue_is_for_those_who_moderate(
    gql: GraphQLClient, settings: Settings, role: str
) -> None:
    world = await scene(settings)

    body = await gql(REPORTS, {"id": world.circle.community_id}, world.circle.headers[role])

    if role in ("moderator", "owner", "admin"):
        assert "errors" not in body, body
        [edge] = body["data"]["node"]["reports"]["edges"]
        assert edge["node"] == {"id": world.report_id, "reason": "SPAM"}
    else:
        assert body["data"]["node"]["reports"] is None
        code = "UNAUTHENTICATED" if role == "anonymous" else "FORBIDDEN"
        assert body["errors"][0]["extensions"]["code"] == code

"""Comments with one level of replies, through the API: who may write, read and change them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from pintuan.communities.models import Comment, Member, MemberState, Post
from pintuan.core.clock import now_utc
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.settings import Settings
from tests import social_world
from tests.conftest import GraphQLClient
from tests.social_world import Circle

CREATE = """
mutation($i: CommentCreateInput!) { commentCreate(input: $i) {
  comment { id text parentId replyCount deleted author { handle } }
  userErrors { field code } } }
"""
EDIT = """
mutation($id: ID!, $text: String!) { commentEdit(id: $id, text: $text) {
  comment { id text editedAt } userErrors { field code } } }
"""
DELETE = """
mutation($id: ID!) { commentDelete(id: $id) { comment { id deleted text } userErrors { code } } }
"""
THREADS = """
query($id: ID!, $after: String) { node(id: $id) { ... on Post {
  commentCount viewerCanComment
  comments(first: 2, after: $after) {
    edges { node { id text deleted replyCount author { handle }
      replies(first: 10) { edges { node { id text } } } } }
    pageInfo { hasNextPage endCursor } } } } }
"""


async def send(
    gql: GraphQLClient, circle: Circle, role: str, text: str = "Nice", parent: str | None = None
) -> dict[str, Any]:
    return await gql(
        CREATE,
        {"i": {"postId": circle.post_id, "text": text, "parentId": parent}},
        circle.headers[role],
    )


async def comment(
    gql: GraphQLClient, circle: Circle, role: str, text: str = "Nice", parent: str | None = None
) -> dict[str, Any]:
    body = await send(gql, circle, role, text, parent)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["commentCreate"]
    return result


async def threads(
    gql: GraphQLClient, circle: Circle, role: str, after: str | None = None
) -> dict[str, Any] | None:
    body = await gql(THREADS, {"id": circle.post_id, "after": after}, circle.headers[role])
    assert "errors" not in body, body
    found: dict[str, Any] | None = body["data"]["node"]
    return found


@pytest.fixture
async def circle(settings: Settings) -> Circle:
    return await social_world.circle(settings)


async def test_replies_are_one_level_deep(gql: GraphQLClient, circle: Circle) -> None:
    top = (await comment(gql, circle, "member"))["comment"]
    reply = (await comment(gql, circle, "owner", parent=top["id"]))["comment"]

    refused = await comment(gql, circle, "member", parent=reply["id"])

    assert refused == {
        "comment": None,
        "userErrors": [{"field": "parentId", "code": "REPLY_TO_REPLY"}],
    }
    assert await Comment.all().count() == 2


async def test_a_reply_must_be_to_a_comment_of_the_same_post(
    gql: GraphQLClient, circle: Circle
) -> None:
    other = await social_world.post(circle.community, circle.users["owner"])
    foreign = await Comment.create(
        post=other, author=circle.users["owner"], text="elsewhere", created_at=other.created_at
    )
    refused = await comment(
        gql, circle, "member", parent=to_global_id(NodeType.COMMENT, foreign.id)
    )

    assert refused["userErrors"] == [{"field": "parentId", "code": "NOT_FOUND"}]


async def test_a_banned_member_may_not_comment_until_the_ban_ends(
    gql: GraphQLClient, circle: Circle
) -> None:
    member = await Member.get(community_id=circle.community.id, user_id=circle.users["member"].id)
    member.state, member.banned_until = MemberState.BANNED, now_utc() + timedelta(hours=1)
    await member.save()

    refused = await comment(gql, circle, "member")

    assert refused["userErrors"] == [{"field": None, "code": "BANNED"}]


async def test_text_is_checked_and_a_refusal_writes_nothing(
    gql: GraphQLClient, circle: Circle
) -> None:
    for text in ["", "   ", "x" * 2001, "bidi \u202e trick"]:
        refused = await comment(gql, circle, "member", text)
        assert refused["userErrors"] == [{"field": "text", "code": "INVALID"}], text
    assert await Comment.all().count() == 0
    assert (await Post.get(id=circle.post.id)).comment_count == 0


async def test_the_author_edits_and_no_one_else_may(gql: GraphQLClient, circle: Circle) -> None:
    made = (await comment(gql, circle, "member", "tpyo"))["comment"]

    for role in ("moderator", "owner", "admin", "outsider"):
        body = await gql(EDIT, {"id": made["id"], "text": "mine now"}, circle.headers[role])
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", role
    edited = await gql(EDIT, {"id": made["id"], "text": "typo"}, circle.headers["member"])

    assert edited["data"]["commentEdit"]["comment"]["text"] == "typo"
    assert edited["data"]["commentEdit"]["comment"]["editedAt"] is not None
    assert (await Comment.get(id=(await Comment.first()).id)).text == "typo"  # type: ignore[union-attr]


async def test_deleting_twice_counts_once(gql: GraphQLClient, circle: Circle) -> None:
    made = (await comment(gql, circle, "member"))["comment"]
    await gql(DELETE, {"id": made["id"]}, circle.headers["member"])

    again = await gql(DELETE, {"id": made["id"]}, circle.headers["member"])

    assert again["data"]["commentDelete"]["userErrors"] == [{"code": "NOT_FOUND"}]
    assert (await Post.get(id=circle.post.id)).comment_count == 0


REPLIES = """
query($id: ID!) { node(id: $id) { ... on Comment { text replyCount
  replies(first: 10) { edges { node { text author { handle } } } } } } }
"""


async def test_a_member_comments_and_replies_and_the_post_counts_both(
    gql: GraphQLClient, circle: Circle
) -> None:
    top = (await comment(gql, circle, "member", "First!"))["comment"]
    reply = await comment(gql, circle, "moderator", "Welcome", parent=top["id"])

    assert reply["userErrors"] == []
    assert reply["comment"]["parentId"] == top["id"]
    assert (await Post.get(id=circle.post.id)).comment_count == 2
    body = await gql(REPLIES, {"id": top["id"]}, circle.headers["outsider"])
    assert body["data"]["node"] == {
        "text": "First!",
        "replyCount": 1,
        "replies": {
            "edges": [
                {
                    "node": {
                        "text": "Welcome",
                        "author": {"handle": circle.users["moderator"].handle},
                    }
                }
            ]
        },
    }


@pytest.mark.parametrize("role", ["outsider", "admin"])
async def test_who_sees_a_public_post_but_is_no_member_may_not_comment(
    gql: GraphQLClient, circle: Circle, role: str
) -> None:
    refused = await send(gql, circle, role)

    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await Comment.all().count() == 0


async def test_anonymous_callers_must_sign_in(gql: GraphQLClient, circle: Circle) -> None:
    refused = await send(gql, circle, "anonymous")

    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_deleting_a_reply_under_a_deleted_comment_counts_both_down(
    gql: GraphQLClient, circle: Circle
) -> None:
    top = (await comment(gql, circle, "member", "Q"))["comment"]
    reply = (await comment(gql, circle, "owner", "A", parent=top["id"]))["comment"]

    await gql(DELETE, {"id": top["id"]}, circle.headers["member"])
    await gql(DELETE, {"id": reply["id"]}, circle.headers["owner"])

    assert (await Post.get(id=circle.post.id)).comment_count == 0
    parent = await Comment.get(id=1)
    assert (parent.reply_count, parent.deleted_at is not None) == (0, True)
    body = await gql(REPLIES, {"id": top["id"]}, circle.headers["member"])
    assert body["data"]["node"] is None  # deleted comments are not nodes


async def test_a_ban_that_ended_no_longer_says_banned(gql: GraphQLClient, circle: Circle) -> None:
    await Member.filter(community_id=circle.community.id, user_id=circle.users["member"].id).update(
        state=MemberState.BANNED, banned_until=now_utc() - timedelta(seconds=1)
    )

    refused = await send(gql, circle, "member")

    # lifted: no longer refused as banned; a member again once they rejoin
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

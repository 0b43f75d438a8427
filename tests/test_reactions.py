"""Reactions: one per user per post, idempotent, counted exactly under any concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pintuan.communities.models import Post, Reaction
from pintuan.core.clock import now_utc
from pintuan.settings import Settings
from tests import factories, social_world
from tests.community_ops import call
from tests.conftest import GraphQLClient
from tests.social_world import Circle

SET = """
mutation($p: ID!, $k: ReactionKind!) { reactionSet(postId: $p, kind: $k) {
  reactionCount viewerReaction userErrors { field code } } }
"""
REMOVE = """
mutation($p: ID!) { reactionRemove(postId: $p) {
  reactionCount viewerReaction userErrors { field code } } }
"""


@pytest.fixture
async def circle(settings: Settings) -> Circle:
    return await social_world.circle(settings)


async def react(
    gql: GraphQLClient, circle: Circle, headers: dict[str, str], kind: str = "LIKE"
) -> dict[str, Any]:
    return await call(gql, SET, {"p": circle.post_id, "k": kind}, headers)


async def unreact(gql: GraphQLClient, circle: Circle, headers: dict[str, str]) -> dict[str, Any]:
    return await call(gql, REMOVE, {"p": circle.post_id}, headers)


async def test_reacting_again_changes_the_kind_not_the_count(
    gql: GraphQLClient, circle: Circle
) -> None:
    member = circle.headers["member"]
    first = await react(gql, circle, member, "LIKE")
    second = await react(gql, circle, member, "LOVE")
    again = await react(gql, circle, member, "LOVE")

    assert first == {"reactionCount": 1, "viewerReaction": "LIKE", "userErrors": []}
    assert second == {"reactionCount": 1, "viewerReaction": "LOVE", "userErrors": []}
    assert again == second
    assert await Reaction.all().count() == 1


async def test_removing_is_idempotent(gql: GraphQLClient, circle: Circle) -> None:
    member = circle.headers["member"]
    await react(gql, circle, member)
    await react(gql, circle, circle.headers["owner"])

    removed = await unreact(gql, circle, member)
    again = await unreact(gql, circle, member)

    assert removed == again == {"reactionCount": 1, "viewerReaction": None, "userErrors": []}


@pytest.mark.parametrize("role", ["outsider", "admin"])
async def test_non_members_may_not_react_to_a_public_post(
    gql: GraphQLClient, circle: Circle, role: str
) -> None:
    body = await gql(SET, {"p": circle.post_id, "k": "LIKE"}, circle.headers[role])

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await Post.get(id=circle.post.id)).reaction_count == 0


async def test_anonymous_callers_must_sign_in(gql: GraphQLClient, circle: Circle) -> None:
    body = await gql(SET, {"p": circle.post_id, "k": "LIKE"})

    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_deleted_post_takes_no_reactions(gql: GraphQLClient, circle: Circle) -> None:
    await Post.filter(id=circle.post.id).update(deleted_at=now_utc())

    refused = await react(gql, circle, circle.headers["member"])

    assert refused["userErrors"] == [{"field": "postId", "code": "NOT_FOUND"}]


@pytest.mark.usefixtures("needs_concurrency")
async def test_fifty_reactions_at_once_are_counted_exactly(
    gql: GraphQLClient, circle: Circle, settings: Settings
) -> None:
    crowd = []
    for _ in range(50):
        user = await factories.user()
        await social_world.join(circle.community, user)
        crowd.append(factories.bearer(user, settings))

    results = await asyncio.gather(*(react(gql, circle, headers) for headers in crowd))

    assert all(r["userErrors"] == [] for r in results)
    assert (await Post.get(id=circle.post.id)).reaction_count == 50
    assert await Reaction.filter(post_id=circle.post.id).count() == 50


@pytest.mark.usefixtures("needs_concurrency")
async def test_one_user_setting_and_removing_at_once_stays_consistent(
    gql: GraphQLClient, circle: Circle
) -> None:
    member = circle.headers["member"]
    await react(gql, circle, circle.headers["owner"])  # someone else's reaction stays

    calls = [
        react(gql, circle, member, kind) if i % 2 == 0 else unreact(gql, circle, member)
        for i, kind in enumerate(["LIKE", "LOVE", "WOW", "LAUGH"] * 10)
    ]
    results = await asyncio.gather(*calls)

    assert all(r["userErrors"] == [] for r in results)
    rows = await Reaction.filter(post_id=circle.post.id).count()
    assert rows in (1, 2)
    assert (await Post.get(id=circle.post.id)).reaction_count == rows

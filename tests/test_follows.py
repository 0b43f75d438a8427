"""Follows between users: idempotent, counted as they change, listed by keyset."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pintuan.accounts.models import User
from pintuan.communities.models import Follow
from pintuan.communities.social_models import FollowCounts
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.settings import Settings
from tests import factories
from tests.community_ops import call
from tests.conftest import GraphQLClient

FOLLOW = """
mutation($u: ID!) { follow(userId: $u) {
  changed user { followerCount viewerFollows } userErrors { field code } } }
"""
UNFOLLOW = """
mutation($u: ID!) { unfollow(userId: $u) {
  changed user { followerCount viewerFollows } userErrors { field code } } }
"""
PROFILE = """
query($u: ID!, $after: String) { node(id: $u) { ... on User {
  followerCount followingCount viewerFollows
  followers(first: 2, after: $after) {
    edges { node { handle } } pageInfo { hasNextPage endCursor } }
  following(first: 5) { edges { node { handle } } } } } }
"""


def gid(user: User) -> str:
    return to_global_id(NodeType.USER, user.id)


async def send(
    gql: GraphQLClient, document: str, who: dict[str, str], target: User
) -> dict[str, Any]:
    return await call(gql, document, {"u": gid(target)}, who)


async def profile(
    gql: GraphQLClient, target: User, who: dict[str, str] | None = None, after: str | None = None
) -> dict[str, Any]:
    body = await gql(PROFILE, {"u": gid(target), "after": after}, who)
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]["node"]
    return found


async def test_following_twice_changes_nothing_the_second_time(
    gql: GraphQLClient, settings: Settings
) -> None:
    fan, star = await factories.user(), await factories.user()
    headers = factories.bearer(fan, settings)

    first = await send(gql, FOLLOW, headers, star)
    second = await send(gql, FOLLOW, headers, star)

    assert first == {
        "changed": True,
        "user": {"followerCount": 1, "viewerFollows": True},
        "userErrors": [],
    }
    assert second == first | {"changed": False}
    assert (await profile(gql, fan))["followingCount"] == 1
    assert await Follow.all().count() == 1


async def test_unfollowing_is_idempotent_and_counts_down_once(
    gql: GraphQLClient, settings: Settings
) -> None:
    fan, star = await factories.user(), await factories.user()
    headers = factories.bearer(fan, settings)
    await send(gql, FOLLOW, headers, star)

    first = await send(gql, UNFOLLOW, headers, star)
    second = await send(gql, UNFOLLOW, headers, star)

    assert first["changed"] is True and second["changed"] is False
    assert first["user"] == second["user"] == {"followerCount": 0, "viewerFollows": False}
    assert (await profile(gql, fan))["followingCount"] == 0


async def test_no_one_follows_themself_or_no_one(gql: GraphQLClient, settings: Settings) -> None:
    me = await factories.user()
    headers = factories.bearer(me, settings)
    ghost = User(id=10**6)

    assert (await send(gql, FOLLOW, headers, me))["userErrors"] == [
        {"field": "userId", "code": "SELF_FOLLOW"}
    ]
    assert (await send(gql, FOLLOW, headers, ghost))["userErrors"] == [
        {"field": "userId", "code": "NOT_FOUND"}
    ]
    assert await Follow.all().count() == 0


async def test_anonymous_callers_must_sign_in(gql: GraphQLClient) -> None:
    star = await factories.user()

    body = await gql(FOLLOW, {"u": gid(star)})

    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_followers_are_listed_newest_first_by_keyset(
    gql: GraphQLClient, settings: Settings
) -> None:
    star = await factories.user()
    fans = [await factories.user() for _ in range(5)]
    for fan in fans:
        await send(gql, FOLLOW, factories.bearer(fan, settings), star)

    seen: list[str] = []
    after = None
    while True:
        page = (await profile(gql, star, after=after))["followers"]
        seen += [e["node"]["handle"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert seen == [fan.handle for fan in reversed(fans)]
    found = await profile(gql, fans[0])
    assert [e["node"]["handle"] for e in found["following"]["edges"]] == [star.handle]


async def test_whether_you_follow_someone_is_yours_to_see(
    gql: GraphQLClient, settings: Settings
) -> None:
    fan, star, other = await factories.user(), await factories.user(), await factories.user()
    await send(gql, FOLLOW, factories.bearer(fan, settings), star)

    assert (await profile(gql, star, factories.bearer(fan, settings)))["viewerFollows"] is True
    assert (await profile(gql, star, factories.bearer(other, settings)))["viewerFollows"] is False
    assert (await profile(gql, star))["viewerFollows"] is False


async def test_a_follow_purges_cached_profiles(gql: GraphQLClient, settings: Settings) -> None:
    fan, star = await factories.user(), await factories.user()
    assert (await profile(gql, star))["followerCount"] == 0  # cached for the public

    await send(gql, FOLLOW, factories.bearer(fan, settings), star)

    assert (await profile(gql, star))["followerCount"] == 1


@pytest.mark.usefixtures("needs_concurrency")
async def test_crossed_follows_and_a_crowd_at_once_keep_exact_counts(
    gql: GraphQLClient, settings: Settings
) -> None:
    a, b = await factories.user(), await factories.user()
    crowd = [await factories.user() for _ in range(30)]
    calls = [
        send(gql, FOLLOW, factories.bearer(a, settings), b),
        send(gql, FOLLOW, factories.bearer(b, settings), a),
        *(send(gql, FOLLOW, factories.bearer(fan, settings), a) for fan in crowd),
        *(send(gql, FOLLOW, factories.bearer(fan, settings), b) for fan in crowd),
    ]

    results = await asyncio.gather(*calls)

    assert all(r["userErrors"] == [] for r in results)
    counts = {c.user_id: (c.followers, c.following) for c in await FollowCounts.all()}
    assert counts[a.id] == (31, 1) and counts[b.id] == (31, 1)
    assert all(counts[fan.id] == (0, 2) for fan in crowd)

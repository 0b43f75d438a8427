"""Posting and commenting limits per user, across processes, and per-community slow mode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from pintuan.communities.models import Comment
from pintuan.settings import Settings
from tests import social_world
from tests.conftest import GraphQLClient

COMMENT = """
mutation($p: ID!) { commentCreate(input: {postId: $p, text: "again"}) {
  comment { id } userErrors { field code } } }
"""


@pytest.fixture
async def limited(make_app: Any) -> AsyncIterator[Starlette]:
    async with make_app(comment_rate_limit=2, comment_rate_window_seconds=600) as app:
        yield app


@pytest.fixture
async def client(limited: Starlette) -> AsyncIterator[GraphQLClient]:
    transport = httpx.ASGITransport(app=limited)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield GraphQLClient(http)


async def test_comments_past_the_limit_are_refused_with_when_to_retry(
    client: GraphQLClient, limited: Starlette
) -> None:
    settings: Settings = limited.state.settings
    circle = await social_world.circle(settings)
    member = circle.headers["member"]
    for _ in range(2):
        assert (await client(COMMENT, {"p": circle.post_id}, member))["data"]["commentCreate"][
            "userErrors"
        ] == []

    response = await client.post(COMMENT, {"p": circle.post_id}, member)

    assert response.status_code == 429
    assert 299 <= int(response.headers["retry-after"]) <= 300  # one of two per 600 s
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfterSeconds"] == int(response.headers["retry-after"])
    assert await Comment.all().count() == 2
    other = await client(COMMENT, {"p": circle.post_id}, circle.headers["owner"])
    assert other["data"]["commentCreate"]["userErrors"] == []  # limits are per user


async def test_a_refused_comment_spends_nothing(client: GraphQLClient, limited: Starlette) -> None:
    settings: Settings = limited.state.settings
    circle = await social_world.circle(settings)
    outsider = circle.headers["outsider"]
    for _ in range(3):
        refused = await client(COMMENT, {"p": circle.post_id}, outsider)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    await social_world.join(circle.community, circle.users["outsider"])

    for _ in range(2):
        made = await client(COMMENT, {"p": circle.post_id}, outsider)
        assert made["data"]["commentCreate"]["userErrors"] == []

"""Signing out (tokenRevoke, or a refresh token presented twice) ends the session's
access tokens on the next request, on every server process, not 15 minutes later."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from pintuan.settings import Settings
from tests import factories
from tests.conftest import PG_URL, REDIS_URL, TEST_SECRET_KEY, GraphQLClient
from tests.servers import running_servers
from tests.test_accounts import ME, REFRESH, REVOKE, auth, sign_in


async def me_status(gql: GraphQLClient, access_token: str) -> int:
    response = await gql.post(ME, headers=auth(access_token))
    if response.status_code == 401:
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    return response.status_code


async def test_after_token_revoke_the_sessions_access_token_is_refused(
    gql: GraphQLClient,
) -> None:
    await factories.user("s@example.com")
    session = await sign_in(gql, "s@example.com", factories.DEFAULT_PASSWORD)
    other = await sign_in(gql, "s@example.com", factories.DEFAULT_PASSWORD)
    assert await me_status(gql, session["accessToken"]) == 200

    revoked = (await gql(REVOKE, {"t": session["refreshToken"]}))["data"]["tokenRevoke"]

    assert revoked["revoked"] is True
    assert await me_status(gql, session["accessToken"]) == 401
    assert await me_status(gql, other["accessToken"]) == 200  # another sign-in lives on


async def test_reusing_a_refresh_token_ends_every_access_token_of_the_session(
    gql: GraphQLClient,
) -> None:
    await factories.user("s@example.com")
    session = await sign_in(gql, "s@example.com", factories.DEFAULT_PASSWORD)
    rotated = (await gql(REFRESH, {"t": session["refreshToken"]}))["data"]["tokenRefresh"]
    assert await me_status(gql, rotated["accessToken"]) == 200

    await gql(REFRESH, {"t": session["refreshToken"]})  # a thief replays the old token

    assert await me_status(gql, session["accessToken"]) == 401
    assert await me_status(gql, rotated["accessToken"]) == 401


@pytest.mark.skipif(
    not (PG_URL and REDIS_URL), reason="needs PostgreSQL and Redis shared by processes"
)
async def test_a_revocation_on_one_process_holds_on_another(
    app: Starlette, settings: Settings
) -> None:
    await factories.user("s@example.com")
    env = {
        "PINTUAN_DATABASE_URL": settings.database_url,
        "PINTUAN_REDIS_URL": settings.redis_url or "",
        "PINTUAN_SECRET_KEY": TEST_SECRET_KEY,
        "PINTUAN_LOG_LEVEL": "WARNING",
    }
    with running_servers(2, env) as (server_a, server_b):
        async with (
            httpx.AsyncClient(base_url=server_a) as http_a,
            httpx.AsyncClient(base_url=server_b) as http_b,
        ):
            on_a, on_b = GraphQLClient(http_a), GraphQLClient(http_b)
            session = await sign_in(on_a, "s@example.com", factories.DEFAULT_PASSWORD)
            assert await me_status(on_b, session["accessToken"]) == 200

            await on_a(REVOKE, {"t": session["refreshToken"]})

            assert await me_status(on_b, session["accessToken"]) == 401

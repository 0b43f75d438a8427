"""Sign-in back-off counts per (account, client IP) pair, with a higher ceiling per IP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests import factories
from tests.conftest import GraphQLClient
from tests.test_accounts import sign_in

FREE_FAILURES = 3
IP_FREE_FAILURES = 8


@pytest.fixture
async def throttled_app(make_app: Any) -> AsyncIterator[Starlette]:
    async with make_app(
        signin_free_failures=FREE_FAILURES,
        signin_ip_free_failures=IP_FREE_FAILURES,
        rate_limit_auth_per_minute=1000,
    ) as app:
        yield app


@pytest.fixture
async def from_ip(throttled_app: Starlette) -> AsyncIterator[Any]:
    """Makes GraphQL clients whose requests come from the given address."""
    clients: list[httpx.AsyncClient] = []

    def client(address: str) -> GraphQLClient:
        transport = httpx.ASGITransport(app=throttled_app, client=(address, 40000))
        http = httpx.AsyncClient(transport=transport, base_url="http://t")
        clients.append(http)
        return GraphQLClient(http)

    yield client
    for http in clients:
        await http.aclose()


async def code_of(gql: GraphQLClient, email: str, password: str) -> str | None:
    result = await sign_in(gql, email, password)
    if result["accessToken"]:
        return None
    code: str = result["userErrors"][0]["code"]
    return code


async def test_failures_from_one_ip_lock_the_account_there_but_not_from_elsewhere(
    from_ip: Any,
) -> None:
    await factories.user("owner@example.com")
    attacker, owner = from_ip("203.0.113.7"), from_ip("198.51.100.20")
    for _ in range(FREE_FAILURES + 1):
        await code_of(attacker, "owner@example.com", "guess")

    assert await code_of(attacker, "owner@example.com", factories.DEFAULT_PASSWORD) == (
        "TOO_MANY_ATTEMPTS"
    )
    assert await code_of(owner, "owner@example.com", factories.DEFAULT_PASSWORD) is None


async def test_many_accounts_tried_from_one_ip_hit_the_ip_ceiling(from_ip: Any) -> None:
    await factories.user("real@example.com")
    sprayer, elsewhere = from_ip("203.0.113.7"), from_ip("198.51.100.20")
    for n in range(IP_FREE_FAILURES):
        assert await code_of(sprayer, f"victim{n}@example.com", "guess") == "INVALID_CREDENTIALS"
    assert await code_of(sprayer, "real@example.com", factories.DEFAULT_PASSWORD) is None

    await code_of(sprayer, "one-more@example.com", "guess")

    assert await code_of(sprayer, "real@example.com", factories.DEFAULT_PASSWORD) == (
        "TOO_MANY_ATTEMPTS"
    )
    assert await code_of(elsewhere, "real@example.com", factories.DEFAULT_PASSWORD) is None


async def test_one_persons_failures_do_not_lock_out_others_behind_the_same_ip(
    from_ip: Any,
) -> None:
    await factories.user("clumsy@example.com")
    await factories.user("colleague@example.com")
    office = from_ip("192.0.2.1")
    for _ in range(FREE_FAILURES + 1):
        await code_of(office, "clumsy@example.com", "typo")

    assert await code_of(office, "clumsy@example.com", factories.DEFAULT_PASSWORD) == (
        "TOO_MANY_ATTEMPTS"
    )
    assert await code_of(office, "colleague@example.com", factories.DEFAULT_PASSWORD) is None

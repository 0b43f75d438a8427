"""A signed-in subscription ends (close code 4401) when its access token expires or
its sign-in is revoked, instead of streaming on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette

from pintuan.accounts.models import MerchantStaff
from tests import factories
from tests.conftest import GraphQLClient
from tests.test_accounts import REVOKE, sign_in

TICKS = "subscription { serverTime(intervalSeconds: 0.2, count: 100) }"
CHECK_SECONDS = 1
WAIT_SECONDS = 6.0


@asynccontextmanager
async def ticking(app: Starlette, access_token: str) -> AsyncIterator[AsyncWebSocketSession]:
    """A signed-in graphql-transport-ws connection streaming server ticks."""
    transport = ASGIWebSocketTransport(app=app)
    ws: AsyncWebSocketSession
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
        aconnect_ws("/graphql", client, subprotocols=["graphql-transport-ws"]) as ws,
    ):
        init = {"authorization": f"Bearer {access_token}"}
        await ws.send_json({"type": "connection_init", "payload": init})
        async with asyncio.timeout(WAIT_SECONDS):
            assert (await ws.receive_json())["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": TICKS}})
        async with asyncio.timeout(WAIT_SECONDS):
            assert (await ws.receive_json())["type"] == "next"
        yield ws


async def close_code(ws: AsyncWebSocketSession) -> int | None:
    """The code the server closes with, reading ticks until then (bounded)."""
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                await ws.receive_json()
    except WebSocketDisconnect as closed:
        return closed.code
    except TimeoutError:
        return None


async def test_a_subscription_closes_with_4401_when_its_token_expires(make_app: Any) -> None:
    async with make_app(access_token_seconds=2, session_check_seconds=CHECK_SECONDS) as app:
        token = factories.bearer(await factories.user(), app.state.settings)["authorization"]
        async with ticking(app, token.removeprefix("Bearer ")) as ws:
            assert await close_code(ws) == 4401


async def test_a_subscription_closes_with_4401_after_token_revoke(make_app: Any) -> None:
    async with make_app(session_check_seconds=CHECK_SECONDS) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            gql = GraphQLClient(http)
            await factories.user("w@example.com")
            session = await sign_in(gql, "w@example.com", factories.DEFAULT_PASSWORD)
            other = await sign_in(gql, "w@example.com", factories.DEFAULT_PASSWORD)
            async with (
                ticking(app, session["accessToken"]) as revoked_ws,
                ticking(app, other["accessToken"]) as other_ws,
            ):
                await gql(REVOKE, {"t": session["refreshToken"]})

                assert await close_code(revoked_ws) == 4401
                async with asyncio.timeout(WAIT_SECONDS):
                    assert (await other_ws.receive_json())["type"] == "next"


async def test_a_staff_subscription_closes_with_4403_when_the_user_is_no_longer_staff(
    make_app: Any,
) -> None:
    """No mutation removes staff yet: an operator deletes the membership row."""
    async with make_app(session_check_seconds=CHECK_SECONDS) as app:
        shop = await factories.merchant()
        member = await factories.user(staff_of=shop)
        customer = await factories.user()
        settings = app.state.settings
        as_staff = factories.bearer(member, settings)["authorization"].removeprefix("Bearer ")
        as_customer = factories.bearer(customer, settings)["authorization"].removeprefix("Bearer ")
        async with (
            ticking(app, as_staff) as staff_ws,
            ticking(app, as_customer) as customer_ws,
        ):
            await MerchantStaff.filter(user_id=member.id).delete()

            assert await close_code(staff_ws) == 4403
            async with asyncio.timeout(WAIT_SECONDS):
                assert (await customer_ws.receive_json())["type"] == "next"

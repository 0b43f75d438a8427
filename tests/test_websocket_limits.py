"""Operations over a WebSocket spend from the same rate limit as HTTP requests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from httpx_ws import AsyncWebSocketSession, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette

from tests import factories

QUERY = {"query": "{ serverTime }"}
# The legacy graphql-ws protocol carries subscriptions only.
TICK = {"query": "subscription { serverTime(count: 1) }"}


async def receive(ws: AsyncWebSocketSession) -> dict[str, Any]:
    async with asyncio.timeout(5):
        while True:
            message: dict[str, Any] = await ws.receive_json()
            if message["type"] not in ("ping", "pong", "ka"):
                return message


async def outcomes(
    ws: AsyncWebSocketSession, start: str, ids: list[str], payload: dict[str, str]
) -> dict[str, Any]:
    """Each operation's first answer: its data or its error codes."""
    for op_id in ids:
        await ws.send_json({"id": op_id, "type": start, "payload": payload})
    seen: dict[str, Any] = {}
    while len(seen) < len(ids):
        message = await receive(ws)
        if message["type"] == "error":
            refusal = message["payload"]
            errors = refusal if isinstance(refusal, list) else [refusal]
            seen[message["id"]] = [e["extensions"]["code"] for e in errors]
        elif message["type"] in ("next", "data"):
            seen[message["id"]] = "data" if message["payload"].get("data") else message
    return seen


async def test_websocket_operations_count_against_the_viewers_http_rate_limit(
    make_app: Any,
) -> None:
    ws: AsyncWebSocketSession
    async with make_app(rate_limit_ip_per_minute=3) as app:
        user = await factories.user()
        bearer = factories.bearer(user, app.state.settings)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        async with http:
            first_by_http = await http.post("/graphql", json=QUERY, headers=bearer)
            async with (
                ws_client(app) as client,
                aconnect_ws("/graphql", client, subprotocols=["graphql-transport-ws"]) as ws,
            ):
                await ws.send_json({"type": "connection_init", "payload": bearer})
                assert (await receive(ws))["type"] == "connection_ack"
                over_ws = await outcomes(ws, "subscribe", ["1", "2", "3"], QUERY)
                await ws.send_json({"type": "ping"})
                still_open = await ws.receive_json()
            then_by_http = await http.post("/graphql", json=QUERY, headers=bearer)

    assert first_by_http.status_code == 200
    assert over_ws == {"1": "data", "2": "data", "3": ["RATE_LIMITED"]}
    assert still_open == {"type": "pong"}
    assert then_by_http.status_code == 429


async def test_legacy_websocket_operations_are_limited_too(make_app: Any) -> None:
    ws: AsyncWebSocketSession
    async with (
        make_app(rate_limit_ip_per_minute=2) as app,
        ws_client(app) as client,
        aconnect_ws("/graphql", client, subprotocols=["graphql-ws"]) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": {}})
        assert (await receive(ws))["type"] == "connection_ack"
        over_ws = await outcomes(ws, "start", ["1", "2", "3"], TICK)

    assert over_ws == {"1": "data", "2": "data", "3": ["RATE_LIMITED"]}


def ws_client(app: Starlette) -> httpx.AsyncClient:
    transport = ASGIWebSocketTransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")

"""In debug mode a frontend on localhost works without configuration; in production not."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette

LOCAL_ORIGINS = ["http://localhost:3000", "http://127.0.0.1:5173", "http://localhost"]
NOT_LOCAL = ["https://localhost:3000", "http://localhost.evil.example", "http://10.0.0.1:3000"]
PREFLIGHT = {"access-control-request-method": "POST"}


async def cors_answers(app: Starlette, origin: str) -> tuple[int, str | None, str | None]:
    """The preflight's status and the allowed origin of a preflight and of a query."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        preflight = await client.options("/graphql", headers=PREFLIGHT | {"origin": origin})
        answered = await client.post(
            "/graphql", json={"query": "{ serverTime }"}, headers={"origin": origin}
        )
    assert answered.status_code == 200
    allow = "access-control-allow-origin"
    return preflight.status_code, preflight.headers.get(allow), answered.headers.get(allow)


async def handshake(app: Starlette, origin: str) -> str:
    """The answer to connection_init, or "refused" when the handshake itself is refused."""
    transport = ASGIWebSocketTransport(app=app)
    ws: AsyncWebSocketSession
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        try:
            async with aconnect_ws(
                "/graphql",
                client,
                subprotocols=["graphql-transport-ws"],
                headers={"origin": origin},
            ) as ws:
                await ws.send_json({"type": "connection_init"})
                message: dict[str, Any] = await ws.receive_json()
        except WebSocketDisconnect as refused:
            assert refused.code == 1008
            return "refused"
    kind: str = message["type"]
    return kind


@pytest.mark.parametrize("origin", LOCAL_ORIGINS)
async def test_debug_mode_admits_localhost_pages_over_http_and_websocket(
    app: Starlette, origin: str
) -> None:
    assert await cors_answers(app, origin) == (204, origin, origin)
    assert await handshake(app, origin) == "connection_ack"


@pytest.mark.parametrize("origin", NOT_LOCAL)
async def test_debug_mode_admits_only_plain_http_localhost(app: Starlette, origin: str) -> None:
    assert await cors_answers(app, origin) == (403, None, None)
    assert await handshake(app, origin) == "refused"


async def test_outside_debug_mode_localhost_pages_need_configuration(make_app: Any) -> None:
    async with make_app(debug=False, graphiql=False) as app:
        assert await cors_answers(app, "http://localhost:3000") == (403, None, None)
        assert await handshake(app, "http://localhost:3000") == "refused"

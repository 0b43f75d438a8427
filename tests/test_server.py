"""The server around the schema: probes, GraphiQL, request ids, error masking, WebSockets."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette

from pintuan.app import create_app
from pintuan.catalog import products
from pintuan.settings import Settings
from tests.conftest import GraphQLClient


async def test_healthz_and_readyz(http: httpx.AsyncClient) -> None:
    health = await http.get("/healthz")
    ready = await http.get("/readyz")

    assert health.status_code == 200
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "live": "ok"},
        "outbox": {"pending": 0, "oldestSeconds": 0.0},
    }


async def test_readyz_is_503_when_the_live_layer_is_unreachable(settings: Settings) -> None:
    app = create_app(replace(settings, redis_url="redis://127.0.0.1:1/0"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "live": "unavailable"}


async def test_every_response_carries_a_request_id(http: httpx.AsyncClient) -> None:
    generated = await http.get("/healthz")
    echoed = await http.get("/healthz", headers={"x-request-id": "client-chosen-123"})
    hostile = await http.get("/healthz", headers={"x-request-id": "bad id\twith junk"})

    assert len(generated.headers["x-request-id"]) == 32
    assert echoed.headers["x-request-id"] == "client-chosen-123"
    assert hostile.headers["x-request-id"] != "bad id\twith junk"


async def test_graphiql_is_served_in_debug_mode_only(
    http: httpx.AsyncClient, make_app: Any
) -> None:
    page = await http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()

    async with make_app(debug=False) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            hidden = await client.get("/graphql", headers={"accept": "text/html"})
    assert hidden.status_code != 200 or "graphiql" not in hidden.text.lower()


async def test_unexpected_errors_are_masked_outside_debug_and_only_they_logged_as_errors(
    make_app: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(handle: str) -> None:
        raise RuntimeError("connection string postgres://secret")

    monkeypatch.setattr(products, "merchant_by_handle", broken)
    query = '{ merchant(handle: "x") { id } }'
    async with make_app(debug=False) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            masked = (await client.post("/graphql", json={"query": query})).json()
            client_error = (
                await client.post("/graphql", json={"query": '{ node(id: "!") { id } }'})
            ).json()

    assert masked["errors"][0]["message"] == "Unexpected error."
    assert "secret" not in str(masked)
    assert "Traceback" not in str(masked)
    assert client_error["errors"][0]["extensions"]["code"] == "INVALID_ID"
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert ["connection string" in r.getMessage() for r in logged] == [True]


async def test_malformed_requests_get_graphql_errors(
    gql: GraphQLClient, http: httpx.AsyncClient
) -> None:
    syntax = await gql("{ products(first: ) }")
    assert "Syntax Error" in syntax["errors"][0]["message"]

    not_json = await http.post(
        "/graphql", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400
    assert "Traceback" not in not_json.text


TICKS = "subscription { serverTime(intervalSeconds: 0.01, count: 3) }"


@asynccontextmanager
async def acknowledged(app: Starlette, subprotocol: str) -> AsyncIterator[AsyncWebSocketSession]:
    """A WebSocket on /graphql speaking ``subprotocol``, past connection_init."""
    transport = ASGIWebSocketTransport(app=app)
    ws: AsyncWebSocketSession
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
        aconnect_ws("/graphql", client, subprotocols=[subprotocol]) as ws,
    ):
        assert ws.subprotocol == subprotocol
        await ws.send_json({"type": "connection_init", "payload": {}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        yield ws


async def test_subscription_over_graphql_transport_ws(app: Starlette) -> None:
    async with acknowledged(app, "graphql-transport-ws") as ws:
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": TICKS}})
        messages = [await ws.receive_json() for _ in range(4)]

    assert [m["type"] for m in messages] == ["next", "next", "next", "complete"]
    times = [m["payload"]["data"]["serverTime"] for m in messages[:3]]
    assert times == sorted(times)


MALFORMED_PAYLOADS = [
    ({"query": 5}, "`query` must be a string"),
    ({"query": TICKS, "variables": [1]}, "`variables` must be an object or null"),
    ({"query": TICKS, "operationName": 5}, "`operationName` must be a string or null"),
    ([TICKS], "payload must be an object"),
]


@pytest.mark.parametrize(("payload", "reason"), MALFORMED_PAYLOADS)
async def test_a_subscribe_payload_of_the_wrong_shape_closes_with_4400(
    app: Starlette, payload: object, reason: str
) -> None:
    """As graphql-transport-ws says; HTTP answers the same mistakes with a 400."""
    async with acknowledged(app, "graphql-transport-ws") as ws:
        await ws.send_json({"id": "1", "type": "subscribe", "payload": payload})
        with pytest.raises(WebSocketDisconnect) as closed:
            async with asyncio.timeout(5):
                await ws.receive_json()
    assert closed.value.code == 4400
    assert reason in (closed.value.reason or "")


@pytest.mark.parametrize(("payload", "reason"), MALFORMED_PAYLOADS)
async def test_a_legacy_start_payload_of_the_wrong_shape_gets_an_error_message(
    app: Starlette, payload: object, reason: str
) -> None:
    async with acknowledged(app, "graphql-ws") as ws:
        await ws.send_json({"id": "1", "type": "start", "payload": payload})
        async with asyncio.timeout(5):
            message = await ws.receive_json()
            while message["type"] == "ka":  # keep-alives may come first
                message = await ws.receive_json()
    assert (message["type"], message["id"]) == ("error", "1")
    assert reason in message["payload"]["message"]


async def _handshake(client: httpx.AsyncClient, origin: str) -> str | None:
    ws: AsyncWebSocketSession
    async with aconnect_ws(
        "/graphql", client, subprotocols=["graphql-transport-ws"], headers={"origin": origin}
    ) as ws:
        await ws.send_json({"type": "connection_init"})
        message: dict[str, Any] = await ws.receive_json()
        return message.get("type")


async def test_cross_origin_websocket_is_refused_unless_allowed(make_app: Any) -> None:
    async with make_app(allowed_origins="https://shop.example") as app:
        transport = ASGIWebSocketTransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert await _handshake(client, "https://shop.example") == "connection_ack"
            with pytest.raises(WebSocketDisconnect) as refused:
                await _handshake(client, "https://evil.example")
    assert refused.value.code == 1008


async def test_configured_first_party_origins_get_cors_without_a_key(make_app: Any) -> None:
    preflight = {"origin": "https://shop.example/", "access-control-request-method": "POST"}
    async with make_app(allowed_origins="https://Shop.Example") as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            allowed = await client.options("/graphql", headers=preflight)
            answered = await client.post(
                "/graphql",
                json={"query": "{ serverTime }"},
                headers={"origin": "https://shop.example"},
            )
            other = await client.post(
                "/graphql",
                json={"query": "{ serverTime }"},
                headers={"origin": "https://elsewhere.example"},
            )

    assert allowed.status_code == 204
    assert answered.headers["access-control-allow-origin"] == "https://shop.example"
    assert "access-control-allow-origin" not in other.headers


SERVED_GC = """
import asyncio, gc, sys
from pintuan.app import create_served_app
from pintuan.gc_policy import THRESHOLDS

async def main():
    app = create_served_app()
    before = gc.get_threshold()
    async with app.router.lifespan_context(app):
        print(before != THRESHOLDS, gc.get_threshold() == THRESHOLDS, gc.get_freeze_count() > 0)

asyncio.run(main())
"""


def test_a_served_worker_freezes_its_startup_heap_and_collects_rarely(tmp_path: Path) -> None:
    """Full collections over a large heap pause live fan-out; see pintuan.gc_policy."""
    env = {
        **os.environ,
        "PINTUAN_DATABASE_URL": f"sqlite://{tmp_path / 'gc.sqlite3'}",
        "PINTUAN_RUN_SCHEDULER": "false",
    }
    env.pop("PINTUAN_REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", SERVED_GC], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "True"]

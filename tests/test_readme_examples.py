"""Every GraphQL example in the README returns data on the demo store, as written.

Each ```graphql block runs as a new user would send it: anonymously, and signed in
as the demo's alice when the API answers UNAUTHENTICATED. Variables a block
declares are sent as null (the first page). Subscriptions run over WebSocket and
their first event is checked. Nothing is filled in or skipped.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
from graphql import OperationDefinitionNode, OperationType, parse
from httpx_ws import AsyncWebSocketSession, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette

from pintuan.demo import seed_demo
from tests.conftest import GraphQLClient

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```graphql\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
SIGN_IN = """mutation { tokenCreate(input: { email: "alice@example.com",
  password: "pintuan-demo" }) { accessToken } }"""
WAIT_SECONDS = 10.0


def operation(block: str) -> OperationDefinitionNode:
    [definition] = parse(block).definitions
    assert isinstance(definition, OperationDefinitionNode)
    return definition


def null_variables(block: str) -> dict[str, None]:
    """Every variable the block declares, as null: the README's examples start at page one."""
    declared = operation(block).variable_definitions or ()
    return {v.variable.name.value: None for v in declared}


def problems(body: dict[str, Any]) -> list[Any]:
    """Errors, null roots and userErrors: whatever shows the example did not work."""
    if "errors" in body:
        return list(body["errors"])
    found: list[Any] = []
    for root, value in body["data"].items():
        if value is None:
            found.append(f"{root} is null")
        elif isinstance(value, dict) and value.get("userErrors"):
            found.append(value["userErrors"])
    return found


async def first_event(app: Starlette, block: str, init: dict[str, str]) -> dict[str, Any]:
    transport = ASGIWebSocketTransport(app=app)
    ws: AsyncWebSocketSession
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
        aconnect_ws("/graphql", client, subprotocols=["graphql-transport-ws"]) as ws,
        asyncio.timeout(WAIT_SECONDS),
    ):
        await ws.send_json({"type": "connection_init", "payload": init})
        assert (await ws.receive_json())["type"] == "connection_ack"
        payload = {"query": block, "variables": null_variables(block)}
        await ws.send_json({"id": "1", "type": "subscribe", "payload": payload})
        while (message := await ws.receive_json())["type"] in ("ping", "pong"):
            pass
    assert message["type"] == "next", (block, message)
    event: dict[str, Any] = message["payload"]
    return event


def test_the_readme_has_examples() -> None:
    kinds = {operation(block).operation for block in BLOCKS}
    assert kinds == {OperationType.QUERY, OperationType.MUTATION, OperationType.SUBSCRIPTION}


async def test_every_readme_example_returns_data_on_the_demo_store(
    app: Starlette, gql: GraphQLClient
) -> None:
    await seed_demo(app.state.runtime)
    signed_in = await gql(SIGN_IN)
    alice = {"authorization": f"Bearer {signed_in['data']['tokenCreate']['accessToken']}"}
    failures = {}

    for block in BLOCKS:
        if operation(block).operation == OperationType.SUBSCRIPTION:
            body = await first_event(app, block, {})
        else:
            body = await gql(block, null_variables(block))
            codes = {e.get("extensions", {}).get("code") for e in body.get("errors", [])}
            if codes == {"UNAUTHENTICATED"}:
                body = await gql(block, null_variables(block), alice)
        if found := problems(body):
            failures[block] = found

    assert failures == {}

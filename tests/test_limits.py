"""Request limits: each refused with a clear error before any work is done."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette

from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.groupbuys.order_models import Order
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient


def nested_query(depth: int) -> str:
    """A query whose deepest field is at ``depth``, root fields being at depth 0.

    It nests pages of one product, so that it is deep but cheap.
    """
    hops = ["merchant", "products(first: 1)", "edges", "node"]
    leaves = {"merchant": "id", "products(first: 1)": "totalCount", "edges": "cursor", "node": "id"}
    chain = [hops[i % len(hops)] for i in range(depth - 3)]
    inner = leaves[chain[-1]]
    for field in reversed(chain):
        inner = f"{field} {{ {inner} }}"
    return f"{{ products(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}"


def costly_query(aliases: int = 15) -> str:
    """Under 2 KB asking for millions of objects: pages of 100 products, each with
    100 products of its merchant."""
    inner = "merchant { products(first: 100) { edges { node { id title } } } }"
    page = f"products(first: 100) {{ edges {{ node {{ id {inner} }} }} }}"
    return "{ " + " ".join(f"a{i}: {page}" for i in range(aliases)) + " }"


async def test_page_size_is_capped_at_100(gql: GraphQLClient) -> None:
    ok = await gql("{ products(first: 100) { edges { cursor } } }")
    too_big = await gql("{ products(first: 101) { edges { cursor } } }")
    negative = await gql("{ products(first: -1) { edges { cursor } } }")

    assert "errors" not in ok
    assert too_big["errors"][0]["extensions"]["code"] == "PAGE_SIZE_EXCEEDED"
    assert "100" in too_big["errors"][0]["message"]
    assert negative["errors"][0]["extensions"]["code"] == "INVALID_PAGE_SIZE"


async def test_nested_page_size_is_capped_too(gql: GraphQLClient) -> None:
    await factories.product(await factories.merchant(handle="shop"))
    body = await gql('{ merchant(handle: "shop") { products(first: 101) { totalCount } } }')
    assert body["errors"][0]["extensions"]["code"] == "PAGE_SIZE_EXCEEDED"
    assert body["errors"][0]["path"] == ["merchant", "products"]


async def test_query_depth_is_limited(gql: GraphQLClient) -> None:
    allowed = await gql(nested_query(12))
    refused = await gql(nested_query(13))

    assert "errors" not in allowed, allowed
    assert refused["data"] is None
    assert "exceeds maximum operation depth of 12" in refused["errors"][0]["message"]


async def test_introspection_is_not_depth_limited(gql: GraphQLClient) -> None:
    body = await gql(
        "{ __schema { types { fields { type { ofType { ofType { ofType { ofType "
        "{ ofType { ofType { name } } } } } } } } } } }"
    )
    assert "errors" not in body


async def test_aliases_are_limited(gql: GraphQLClient) -> None:
    aliases = " ".join(f"a{i}: serverTime" for i in range(16))
    body = await gql(f"{{ {aliases} }}")
    assert "aliases" in body["errors"][0]["message"]


async def test_token_count_is_limited(gql: GraphQLClient) -> None:
    fields = " ".join(["serverTime"] * 2100)
    body = await gql(f"{{ {fields} }}")
    assert "token" in body["errors"][0]["message"].lower()


async def test_request_body_is_limited_to_one_mebibyte(http: httpx.AsyncClient) -> None:
    padding = " " * (1024 * 1024)
    response = await http.post(
        "/graphql",
        content=f'{{"query": "{{ serverTime }}{padding}"}}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


async def test_chunked_body_without_length_is_limited(http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 65536

    response = await http.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def nested(depth: int) -> str:
    """JSON ``depth`` objects deep: the shape of a variable sent to exhaust decoders."""
    return '{"a":' * depth + "1" + "}" * depth


async def test_json_nested_thousands_deep_is_refused_before_decoding(
    app: Starlette, http: httpx.AsyncClient, settings: Settings
) -> None:
    query = "query($f: ProductFilter) { products(filter: $f) { totalCount } }"
    variables = nested(5000)
    bodies = {
        "variables": f'{{"query": "{query}", "variables": {{"f": {variables}}}}}',
        "a bare array": "[" * 5000 + "]" * 5000,
        "extensions": f'{{"query": "{{ __typename }}", "extensions": {variables}}}',
    }
    answers = {
        how: await http.post("/graphql", content=body, headers={"content-type": "application/json"})
        for how, body in bodies.items()
    }
    in_url = "[" * 3000 + "]" * 3000  # deep enough, and short enough for a URL
    for name in ("variables", "extensions"):
        params = {"query": "{ __typename }", name: in_url}
        answers[f"GET {name}"] = await http.get("/graphql", params=params)
    answers["webhook"] = await http.post("/webhooks/payments", content=variables)

    for how, response in answers.items():
        assert response.status_code == 400, how
        codes = [e["extensions"]["code"] for e in response.json()["errors"]]
        assert codes == ["REQUEST_TOO_DEEP"], how
    within = {"query": "{ __typename }", "extensions": nested(60)}
    assert (await http.get("/graphql", params=within)).status_code == 200
    brackets_in_text = await http.post(
        "/graphql",
        json={"query": query, "variables": {"f": {"search": "[" * 100}}},
    )
    assert brackets_in_text.json()["data"] == {"products": {"totalCount": 0}}


async def ws_close(app: Starlette, message: str) -> WebSocketDisconnect:
    """How the server closes a socket after this one message (sent as written)."""
    transport = ASGIWebSocketTransport(app=app)
    ws: AsyncWebSocketSession
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
        aconnect_ws("/graphql", client, subprotocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": {}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        await ws.send_text(message)
        with pytest.raises(WebSocketDisconnect) as closed:
            await ws.receive_json()
    return closed.value


async def test_a_websocket_message_nested_thousands_deep_closes_with_4400(app: Starlette) -> None:
    query = "query($f: ProductFilter) { products(filter: $f) { totalCount } }"
    closed = await ws_close(
        app,
        f'{{"id": "1", "type": "subscribe", "payload": {{"query": "{query}", '
        f'"variables": {{"f": {nested(5000)}}}}}}}',
    )

    assert closed.code == 4400
    assert closed.reason.startswith("REQUEST_TOO_DEEP")


async def test_text_with_a_nul_character_is_refused_before_anything_runs(
    gql: GraphQLClient, settings: Settings
) -> None:
    """PostgreSQL cannot store NUL: refused alike on every backend, nothing written."""
    shopper = factories.bearer(await factories.user(), settings)
    join = """mutation($i: GroupJoinInput!) { groupJoin(input: $i) { userErrors { code } } }"""
    sent = {
        "as a variable": await gql(
            join,
            {"i": {"shareCode": "AB\x00CD", "idempotencyKey": "k", "paymentToken": "t"}},
            shopper,
        ),
        "inside an input object": await gql(
            "query($f: ProductFilter) { products(filter: $f) { totalCount } }",
            {"f": {"search": "tea\x00"}},
        ),
        "as a literal": await gql('{ group(shareCode: "AB\\u0000CD") { id } }'),
    }
    for how, body in sent.items():
        assert body.get("data") is None, how
        assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_TEXT"], how
    assert await Order.all().count() == 0

    fine = await gql('{ group(shareCode: "AB\\u0001CD") { id } }')
    assert "errors" not in fine
    assert fine["data"] == {"group": None}


async def post_raw(http: httpx.AsyncClient, payload: dict[str, Any]) -> dict[str, Any]:
    """Posts JSON with non-ASCII escaped, as a client may send a lone surrogate."""
    response = await http.post(
        "/graphql", content=json.dumps(payload), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def ws_result(app: Starlette, payload: dict[str, Any]) -> dict[str, Any]:
    """The first message answering one operation sent over graphql-transport-ws."""
    transport = ASGIWebSocketTransport(app=app)
    ws: AsyncWebSocketSession
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
        aconnect_ws("/graphql", client, subprotocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": {}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        await ws.send_text(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        message: dict[str, Any] = await ws.receive_json()
        return message


async def test_text_with_a_lone_surrogate_is_refused_before_anything_runs(
    app: Starlette, http: httpx.AsyncClient, settings: Settings
) -> None:
    """No backend can encode a lone surrogate: refused like NUL, over HTTP and WebSocket."""
    shopper = factories.bearer(await factories.user(), settings)
    join = """mutation($i: GroupJoinInput!) { groupJoin(input: $i) { userErrors { code } } }"""
    search = "query($f: ProductFilter) { products(filter: $f) { totalCount } }"
    payloads: dict[str, dict[str, Any]] = {
        "in a mutation's input": {
            "query": join,
            "variables": {
                "i": {"shareCode": "AB\ud800", "idempotencyKey": "k", "paymentToken": "t"}
            },
        },
        "inside an input object": {"query": search, "variables": {"f": {"search": "tea\udfff"}}},
        "as a literal": {"query": '{ group(shareCode: "AB\ud800CD") { id } }'},
    }
    answers = {how: await post_raw(http, payload) for how, payload in payloads.items()}
    joined = await http.post(
        "/graphql",
        content=json.dumps(payloads["in a mutation's input"]),
        headers={"content-type": "application/json", **shopper},
    )
    answers["as a signed-in shopper"] = joined.json()
    for how, payload in payloads.items():
        message = await ws_result(app, payload)
        assert message["type"] == "error", (how, message)
        answers[f"over WebSocket, {how}"] = {"errors": message["payload"]}

    for how, body in answers.items():
        assert body.get("data") is None, how
        assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_TEXT"], how
    assert await Order.all().count() == 0


async def test_errors_echoing_a_lone_surrogate_are_still_answered(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    """Strawberry repeats an unknown operation name in its answer, which no
    UTF-8 encoder can write when the name holds a lone surrogate."""
    payload = {"query": "query Q { serverTime }", "operationName": "Q\ud800"}

    response = await http.post(
        "/graphql", content=json.dumps(payload), headers={"content-type": "application/json"}
    )
    closed = await ws_close(app, json.dumps({"id": "1", "type": "subscribe", "payload": payload}))

    assert response.status_code == 400
    assert "Unknown operation" in response.text
    assert closed.code == 4400
    assert "Unknown operation" in closed.reason


async def test_lookups_by_text_longer_than_any_stored_find_nothing(
    gql: GraphQLClient, settings: Settings
) -> None:
    """The ORM refuses even to look up a value longer than its column: such
    lookups answer as for any unknown value, instead of failing."""
    long = "x" * 300
    admin = factories.bearer(await factories.user(admin=True), settings)
    shop = await factories.merchant()
    shopper = factories.bearer(await factories.user(), settings)

    reads = await gql(
        """query($h: String!) { merchant(handle: $h) { id } product(handle: $h) { id }
        group(shareCode: $h) { id } }""",
        {"h": long},
    )
    signin = await gql(
        """mutation($i: TokenCreateInput!) { tokenCreate(input: $i) { userErrors { code } } }""",
        {"i": {"email": f"{long}@example.com", "password": "password123"}},
    )
    staff = await gql(
        """mutation($i: MerchantStaffAddInput!) { merchantStaffAdd(input: $i) {
        userErrors { code } } }""",
        {"i": {"merchantId": to_global_id(NodeType.MERCHANT, shop.id), "email": long}},
        admin,
    )
    join = await gql(
        """mutation($i: GroupJoinInput!) { groupJoin(input: $i) { userErrors { code } } }""",
        {"i": {"shareCode": long, "idempotencyKey": "k", "paymentToken": "t"}},
        shopper,
    )

    assert "errors" not in reads
    assert reads["data"] == {"merchant": None, "product": None, "group": None}
    assert signin["data"]["tokenCreate"]["userErrors"] == [{"code": "INVALID_CREDENTIALS"}]
    assert staff["data"]["merchantStaffAdd"]["userErrors"] == [{"code": "NOT_FOUND"}]
    assert join["data"]["groupJoin"]["userErrors"] == [{"code": "NOT_FOUND"}]


async def test_a_query_costing_more_than_the_limit_is_refused_before_anything_runs(
    gql: GraphQLClient, sql_statements: list[str]
) -> None:
    shop = await factories.merchant()
    for _ in range(3):
        await factories.product(shop)
    sql_statements.clear()

    body = await gql(costly_query())

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    cost = body["extensions"]["cost"]
    assert cost["requested"] > cost["limit"] == Settings().max_query_cost
    assert str(cost["requested"]) in error["message"]
    assert str(cost["limit"]) in error["message"]
    assert sql_statements == []


async def test_cost_counts_fragments_and_pages_set_by_variables(gql: GraphQLClient) -> None:
    query = """query($n: Int) { products(first: $n) { ...Page } }
    fragment Page on ProductConnection { edges { node { ... on Product {
        merchant { products(first: $n) { edges { node { id } } } } } } } }"""
    small = await gql(query, {"n": 5})
    large = await gql(query, {"n": 100})
    default = await gql(query)

    assert "errors" not in small
    # 1 + 5 pages' edges and nodes and merchants, each merchant with 1 + 5 * 2.
    assert small["extensions"]["cost"]["requested"] == 1 + 5 * (1 + 1 + 1 + (1 + 5 * 2))
    assert large["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    large_by_default = await gql(query.replace("$n: Int", "$n: Int = 100"))
    assert large_by_default["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    default_size = Settings().default_page_size
    assert default["extensions"]["cost"]["requested"] == 1 + default_size * (
        3 + 1 + default_size * 2
    )


async def test_every_readme_query_is_within_the_cost_limit(
    gql: GraphQLClient, repo_root: Path
) -> None:
    blocks = re.findall(r"```graphql\n(.*?)```", (repo_root / "README.md").read_text(), re.S)
    queries = [b for b in blocks if not re.search(r"\b(mutation|subscription)\b", b)]
    assert queries

    for query in queries:
        body = await gql(query)
        codes = [e["extensions"]["code"] for e in body.get("errors", [])]
        assert "QUERY_TOO_COSTLY" not in codes, query
        assert 0 < body["extensions"]["cost"]["requested"] <= body["extensions"]["cost"]["limit"]


async def test_the_cost_is_reported_in_every_response(gql: GraphQLClient) -> None:
    ok = await gql("{ serverTime products(first: 3) { edges { node { id } } } }")
    refused = await gql("{ nope }")

    assert ok["extensions"]["cost"] == {"requested": 1 + 3 * 2, "limit": 10_000}
    assert refused["extensions"]["cost"] == {"requested": 0, "limit": 10_000}


async def test_the_cost_limit_is_a_setting(make_app: Any) -> None:
    async with make_app(max_query_cost=6) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            page = "{ products(first: %d) { edges { node { id } } } }"
            fits = (await client.post("/graphql", json={"query": page % 2})).json()
            refused = (await client.post("/graphql", json={"query": page % 3})).json()

    assert fits["extensions"]["cost"] == {"requested": 5, "limit": 6}
    assert refused["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert "7" in refused["errors"][0]["message"]

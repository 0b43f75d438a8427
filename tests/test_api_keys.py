"""Storefront API keys: shown once, stored hashed, bound to origins, revocable, rate limited."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette

from pintuan.accounts.models import ApiKey
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.settings import Settings
from tests import factories
from tests.conftest import PG_URL, REDIS_URL, TEST_SECRET_KEY, GraphQLClient
from tests.servers import running_servers

CREATE = """mutation($i: ApiKeyCreateInput!) { apiKeyCreate(input: $i) {
  key apiKey { id prefix kind allowedOrigins revokedAt } userErrors { field code } } }"""
REVOKE = "mutation($id: ID!) { apiKeyRevoke(id: $id) { apiKey { revokedAt } userErrors { code } } }"
SHOP = "https://shop.example"
EVIL = "https://evil.example"


async def create_key(
    gql: GraphQLClient, staff: dict[str, str], merchant_id: int, kind: str, origins: list[str]
) -> dict[str, Any]:
    variables = {
        "i": {
            "merchantId": to_global_id(NodeType.MERCHANT, merchant_id),
            "kind": kind,
            "name": f"{kind.lower()} key",
            "allowedOrigins": origins,
        }
    }
    result: dict[str, Any] = (await gql(CREATE, variables, staff))["data"]["apiKeyCreate"]
    return result


@pytest.fixture
async def shop_and_staff(settings: Settings) -> tuple[int, dict[str, str]]:
    shop = await factories.merchant(handle="shop")
    staff = await factories.user(staff_of=shop)
    return shop.id, factories.bearer(staff, settings)


async def test_the_full_key_is_shown_once_and_stored_hashed(
    gql: GraphQLClient, shop_and_staff: tuple[int, dict[str, str]]
) -> None:
    shop_id, staff = shop_and_staff
    created = await create_key(gql, staff, shop_id, "PUBLISHABLE", ["https://Shop.Example/"])
    listed = await gql(
        "query($m: ID!) { apiKeys(merchantId: $m) { prefix allowedOrigins } }",
        {"m": to_global_id(NodeType.MERCHANT, shop_id)},
        staff,
    )

    key = created["key"]
    assert key.startswith("pk_")
    assert created["apiKey"]["prefix"] == key[:12]
    assert created["apiKey"]["allowedOrigins"] == [SHOP]
    assert listed["data"]["apiKeys"] == [{"prefix": key[:12], "allowedOrigins": [SHOP]}]
    assert key not in str(listed)
    stored = await ApiKey.get()
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()


async def test_key_inputs_are_validated(
    gql: GraphQLClient, shop_and_staff: tuple[int, dict[str, str]]
) -> None:
    shop_id, staff = shop_and_staff
    cases = [
        ("PUBLISHABLE", [], "allowedOrigins"),
        ("PUBLISHABLE", ["not a url"], "allowedOrigins"),
        ("PUBLISHABLE", ["https://shop.example/path"], "allowedOrigins"),
        *(
            ("PUBLISHABLE", [malformed], "allowedOrigins")
            for malformed in (
                "http://[",
                "https://[::1",
                "https://shop.example\x01",
                "https://shop\u202e.example",
                "https://sh op.example",
                "https://user@shop.example",
                "https://shop.example?q",
                "https://shop.example#f",
                "https://shop.example:0",
                "https://shop.example:65536",
                "https://shop.example:",
                "https://-shop.example",
                "https://shop..example",
                "https://999.1.1.1",
                "ftp://shop.example",
                "https://",
            )
        ),
        ("SECRET", [SHOP], "allowedOrigins"),
    ]
    for kind, origins, field in cases:
        result = await create_key(gql, staff, shop_id, kind, origins)
        assert result["key"] is None
        assert result["userErrors"] == [{"field": field, "code": "INVALID"}], origins
    assert await ApiKey.all().count() == 0


async def test_origins_are_stored_normalised(
    gql: GraphQLClient, shop_and_staff: tuple[int, dict[str, str]]
) -> None:
    shop_id, staff = shop_and_staff
    given = [
        "HTTPS://Shop.Example:443",
        "http://shop.example:80",
        "http://10.0.0.1:8080",
        "http://[0:0::1]:3000",
    ]

    created = await create_key(gql, staff, shop_id, "PUBLISHABLE", given)

    assert created["userErrors"] == []
    assert created["apiKey"]["allowedOrigins"] == [
        SHOP,
        "http://shop.example",
        "http://10.0.0.1:8080",
        "http://[::1]:3000",
    ]


async def test_publishable_key_reads_and_acts_for_a_customer_from_its_origin(
    gql: GraphQLClient, settings: Settings, shop_and_staff: tuple[int, dict[str, str]]
) -> None:
    shop_id, staff = shop_and_staff
    key = (await create_key(gql, staff, shop_id, "PUBLISHABLE", [SHOP]))["key"]
    customer = await factories.user("shopper@example.com")
    headers = {"x-pintuan-key": key, "origin": SHOP}

    anonymous = await gql.post(
        "{ products(first: 1) { totalCount } me { email } }", headers=headers
    )
    signed_in = await gql.post(
        "{ me { email } }", headers=headers | factories.bearer(customer, settings)
    )
    merchant_write = await gql.post(
        'mutation { productArchive(id: "UHJvZHVjdDox") { userErrors { code } } }', headers=headers
    )

    assert anonymous.status_code == 200
    assert anonymous.json()["data"]["me"] is None
    assert anonymous.headers["access-control-allow-origin"] == SHOP
    assert signed_in.json()["data"]["me"] == {"email": "shopper@example.com"}
    assert merchant_write.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_disallowed_origins_are_refused_over_http(
    gql: GraphQLClient, http: httpx.AsyncClient, shop_and_staff: tuple[int, dict[str, str]]
) -> None:
    shop_id, staff = shop_and_staff
    key = (await create_key(gql, staff, shop_id, "PUBLISHABLE", [SHOP]))["key"]
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "x-pintuan-key",
    }

    allowed = await http.options(f"/graphql?key={key}", headers=preflight | {"origin": SHOP})
    refused = await http.options(f"/graphql?key={key}", headers=preflight | {"origin": EVIL})
    unknown = await http.options("/graphql", headers=preflight | {"origin": EVIL})
    actual = await gql.post("{ serverTime }", headers={"x-pintuan-key": key, "origin": EVIL})

    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == SHOP
    assert "x-pintuan-key" in allowed.headers["access-control-allow-headers"]
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "access-control-allow-origin" not in refused.headers
    assert unknown.status_code == 403
    assert unknown.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert actual.status_code == 403
    assert actual.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def ws_connect(app: Starlette, origin: str, payload: dict[str, Any]) -> str:
    transport = ASGIWebSocketTransport(app=app)
    ws: AsyncWebSocketSession
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        try:
            async with aconnect_ws(
                "/graphql",
                client,
                subprotocols=["graphql-transport-ws"],
                headers={"origin": origin},
            ) as ws:
                await ws.send_json({"type": "connection_init", "payload": payload})
                message: dict[str, Any] = await ws.receive_json()
                return str(message["type"])
        except WebSocketDisconnect as exc:
            return f"closed {exc.code}"


async def test_disallowed_origins_are_refused_over_websocket(
    app: Starlette, gql: GraphQLClient, shop_and_staff: tuple[int, dict[str, str]]
) -> None:
    shop_id, staff = shop_and_staff
    key = (await create_key(gql, staff, shop_id, "PUBLISHABLE", [SHOP]))["key"]

    assert await ws_connect(app, SHOP, {"apiKey": key}) == "connection_ack"
    assert await ws_connect(app, EVIL, {"apiKey": key}) == "closed 1008"


MALFORMED_ORIGINS = ["http://[", "https://[::1", "https://shop.example:99999"]


@pytest.mark.parametrize("origin", MALFORMED_ORIGINS)
async def test_a_malformed_origin_header_is_a_refused_origin_not_a_fault(
    app: Starlette,
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    shop_and_staff: tuple[int, dict[str, str]],
    origin: str,
) -> None:
    shop_id, staff = shop_and_staff
    key = (await create_key(gql, staff, shop_id, "PUBLISHABLE", [SHOP]))["key"]

    preflight = await http.options(
        "/graphql", headers={"origin": origin, "access-control-request-method": "POST"}
    )
    keyed = await gql.post("{ serverTime }", headers={"x-pintuan-key": key, "origin": origin})
    anonymous = await gql.post("{ __typename }", headers={"origin": origin})

    assert preflight.status_code == 403
    assert preflight.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert keyed.status_code == 403
    assert keyed.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert anonymous.status_code == 200
    assert "access-control-allow-origin" not in anonymous.headers
    assert await ws_connect(app, origin, {"apiKey": key}) == "closed 1008"
    assert await ws_connect(app, origin, {}) == "closed 1008"


async def test_secret_key_acts_as_its_merchant_but_never_from_a_browser(
    gql: GraphQLClient, shop_and_staff: tuple[int, dict[str, str]]
) -> None:
    shop_id, staff = shop_and_staff
    other = await factories.merchant(handle="other")
    secret = (await create_key(gql, staff, shop_id, "SECRET", []))["key"]
    create = """mutation($i: ProductCreateInput!) { productCreate(input: $i) {
        product { handle } userErrors { code } } }"""

    def product(merchant_id: int, handle: str) -> dict[str, Any]:
        return {
            "i": {
                "merchantId": to_global_id(NodeType.MERCHANT, merchant_id),
                "handle": handle,
                "title": "T",
            }
        }

    own = await gql.post(create, product(shop_id, "from-server"), {"x-pintuan-key": secret})
    foreign = await gql.post(create, product(other.id, "elsewhere"), {"x-pintuan-key": secret})
    browser = await gql.post(
        create, product(shop_id, "from-browser"), {"x-pintuan-key": secret, "origin": SHOP}
    )

    assert own.json()["data"]["productCreate"]["product"] == {"handle": "from-server"}
    assert foreign.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert browser.status_code == 403
    assert "Secret keys" in browser.json()["errors"][0]["message"]


async def test_a_revoked_key_is_refused_on_the_next_request(
    gql: GraphQLClient, shop_and_staff: tuple[int, dict[str, str]]
) -> None:
    shop_id, staff = shop_and_staff
    created = await create_key(gql, staff, shop_id, "SECRET", [])
    headers = {"x-pintuan-key": created["key"]}
    assert (await gql.post("{ serverTime }", headers=headers)).status_code == 200

    revoked = await gql(REVOKE, {"id": created["apiKey"]["id"]}, staff)
    refused = await gql.post("{ serverTime }", headers=headers)
    again = await gql(REVOKE, {"id": created["apiKey"]["id"]}, staff)

    assert revoked["data"]["apiKeyRevoke"]["apiKey"]["revokedAt"] is not None
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert again["data"]["apiKeyRevoke"]["userErrors"] == [{"code": "ALREADY_REVOKED"}]


async def test_rate_limit_answers_429_then_recovers(make_app: Any, settings: Settings) -> None:
    async with make_app(rate_limit_ip_per_minute=60) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            started = time.monotonic()
            allowed = 0
            while (
                limited := await client.post("/graphql", json={"query": "{ serverTime }"})
            ).status_code == 200 and allowed < 200:
                allowed += 1
            elapsed = time.monotonic() - started
            await asyncio.sleep(int(limited.headers["retry-after"]) + 0.1)
            recovered = await client.post("/graphql", json={"query": "{ serverTime }"})

    # A bucket of 60 that refills one a second: 60, plus one per second the burst took.
    assert 60 <= allowed <= 60 + elapsed + 1
    assert limited.status_code == 429
    assert limited.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert recovered.status_code == 200


async def test_a_rate_limited_browser_page_may_read_the_refusal_and_a_bad_key_gets_no_cors(
    make_app: Any,
) -> None:
    async with make_app(rate_limit_ip_per_minute=1, allowed_origins=SHOP) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            page = {"origin": SHOP}
            first = await client.post("/graphql", json={"query": "{ serverTime }"}, headers=page)
            limited = await client.post("/graphql", json={"query": "{ serverTime }"}, headers=page)
            bad_key = await client.post(
                "/graphql",
                json={"query": "{ serverTime }"},
                headers=page | {"x-pintuan-key": "pk_not_a_key"},
            )

    assert first.status_code == 200
    assert limited.status_code == 429
    assert limited.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert limited.headers["access-control-allow-origin"] == SHOP
    assert "retry-after" in limited.headers["access-control-expose-headers"]
    assert bad_key.status_code == 401
    assert bad_key.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "access-control-allow-origin" not in bad_key.headers


async def test_sign_in_has_its_own_stricter_limit(make_app: Any) -> None:
    sign_in = 'mutation { tokenCreate(input: {email: "a@b.co", password: "x"}) { accessToken } }'
    async with make_app(rate_limit_auth_per_minute=3) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            responses = [await client.post("/graphql", json={"query": sign_in}) for _ in range(4)]
            other = await client.post("/graphql", json={"query": "{ serverTime }"})

    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[3].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert "retry-after" in responses[3].headers
    assert other.status_code == 200


@pytest.mark.skipif(
    not (PG_URL and REDIS_URL), reason="needs PostgreSQL and Redis shared by processes"
)
async def test_the_limit_holds_across_two_server_processes(
    app: Starlette, settings: Settings
) -> None:
    env = {
        "PINTUAN_DATABASE_URL": settings.database_url,
        "PINTUAN_REDIS_URL": settings.redis_url or "",
        "PINTUAN_SECRET_KEY": TEST_SECRET_KEY,
        "PINTUAN_RATE_LIMIT_IP_PER_MINUTE": "10",
        "PINTUAN_LOG_LEVEL": "WARNING",
    }
    with running_servers(2, env) as urls:
        async with httpx.AsyncClient() as client:
            statuses: dict[str, list[int]] = {url: [] for url in urls}
            for _ in range(8):
                for url in urls:
                    response = await client.post(f"{url}/graphql", json={"query": "{ serverTime }"})
                    statuses[url].append(response.status_code)

    allowed = sum(code == 200 for codes in statuses.values() for code in codes)
    assert 10 <= allowed <= 11  # one shared bucket of 10 (plus at most one refilled token)
    assert all(429 in codes for codes in statuses.values())

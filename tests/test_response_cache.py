"""The response cache, persisted queries and HTTP caching, seen from outside."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette

from pintuan.accounts.models import Merchant
from pintuan.catalog.models import Product, ProductStatus
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.settings import Settings
from tests import factories
from tests.conftest import PG_URL, REDIS_URL, TEST_SECRET_KEY
from tests.servers import running_servers

DETAIL = "query Detail($id: ID!) { product(id: $id) { id title } }"
STOCKED = "query Stocked($id: ID!) { product(id: $id) { title variants { available } } }"
PAGE = "{ products { edges { node { title merchant { name } } } } }"
ME = "{ me { id email } }"
OFFER = "query Offer($id: ID!) { groupBuy(id: $id) { status stockRemaining } }"
UPDATE = """mutation($i: ProductUpdateInput!) {
  productUpdate(input: $i) { product { title } userErrors { code } } }"""


@pytest.fixture
async def shop(app: Starlette) -> Merchant:
    return await factories.merchant(handle="shop", name="Shop")


@pytest.fixture
async def staff(shop: Merchant, settings: Settings) -> dict[str, str]:
    return factories.bearer(await factories.user(staff_of=shop), settings)


@pytest.fixture
async def visitors(app: Starlette) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two anonymous clients with nothing in common but the server."""
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as first,
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as second,
    ):
        yield first, second


async def post(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body = {"query": query, "variables": variables or {}}
    response = await client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response


def detail_of(product: Product) -> dict[str, str]:
    return {"id": to_global_id(NodeType.PRODUCT, product.id)}


async def retitle(
    client: httpx.AsyncClient, staff: dict[str, str], product: Product, title: str
) -> None:
    variables = {"i": {"id": to_global_id(NodeType.PRODUCT, product.id), "title": title}}
    written = (await post(client, UPDATE, variables, staff)).json()
    assert written["data"]["productUpdate"]["userErrors"] == []


async def test_a_public_answer_is_served_to_a_second_anonymous_client(
    shop: Merchant, visitors: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    product = await factories.product(shop, title="Tea")
    first, second = visitors

    computed = await post(first, DETAIL, detail_of(product))
    served = await post(second, DETAIL, detail_of(product))

    assert computed.headers["x-cache"] == "MISS"
    assert served.headers["x-cache"] == "HIT"
    assert (
        served.json()["data"]
        == computed.json()["data"]
        == {"product": {"id": detail_of(product)["id"], "title": "Tea"}}
    )
    assert served.headers["cache-control"] == "public, max-age=60"
    assert int(served.headers["age"]) >= 0
    assert served.headers["etag"] == computed.headers["etag"]
    assert {"Authorization", "X-Pintuan-Key", "Origin"} <= {
        v.strip() for v in served.headers["vary"].split(",")
    }
    assert served.json()["extensions"]["responseCache"]["status"] == "HIT"


async def test_the_smallest_age_of_any_field_is_the_answers_age(
    shop: Merchant, visitors: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    product = await factories.product(shop)
    first, _ = visitors

    stocked = await post(first, STOCKED, detail_of(product))
    merchant = await post(first, '{ merchant(handle: "shop") { name } }')

    assert stocked.headers["cache-control"] == "public, max-age=60"  # writes purge stock
    assert merchant.headers["cache-control"] == "public, max-age=300"


async def test_an_answer_that_changes_by_the_clock_is_kept_no_longer_than_that(
    visitors: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    ending = await factories.offer(ends_at=datetime.now(UTC) + timedelta(seconds=20))
    first, second = visitors
    variables = {"id": to_global_id(NodeType.GROUP_BUY, ending.id)}

    computed = await post(first, OFFER, variables)
    served = await post(second, OFFER, variables)

    assert computed.json()["data"]["groupBuy"]["status"] == "ACTIVE"
    age = int(computed.headers["cache-control"].removeprefix("public, max-age="))
    assert 15 <= age < 20  # until it ends, not the 60 s of its type
    assert served.headers["x-cache"] == "HIT"
    assert served.headers["cache-control"] == computed.headers["cache-control"]


async def test_a_field_with_no_hint_makes_the_answer_uncacheable(
    visitors: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    first, _ = visitors
    answers = [await post(first, "{ serverTime }") for _ in range(2)]

    assert [a.headers["x-cache"] for a in answers] == ["BYPASS", "BYPASS"]
    assert answers[1].headers["cache-control"] == "no-store"


async def test_a_private_answer_is_never_served_to_another_viewer(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    alice = await factories.user("alice@example.com")
    bob = await factories.user("bob@example.com")

    alice_first = await post(http, ME, headers=factories.bearer(alice, settings))
    alice_again = await post(http, ME, headers=factories.bearer(alice, settings))
    bob_first = await post(http, ME, headers=factories.bearer(bob, settings))
    nobody = await post(http, ME)

    assert alice_first.headers["x-cache"] == "MISS"
    assert alice_again.headers["x-cache"] == "HIT"  # another session of hers
    assert alice_again.json()["data"]["me"]["email"] == "alice@example.com"
    assert alice_again.headers["cache-control"] == "private, max-age=30"
    assert bob_first.headers["x-cache"] == "MISS"
    assert bob_first.json()["data"]["me"]["email"] == "bob@example.com"
    assert nobody.headers["x-cache"] == "BYPASS"  # no one to keep it for
    assert nobody.json()["data"]["me"] is None


async def test_a_private_field_on_a_public_object_is_kept_per_viewer(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    alice = await factories.user("alice@example.com")
    query = "query($id: ID!) { node(id: $id) { ... on User { handle email } } }"
    variables = {"id": to_global_id(NodeType.USER, alice.id)}

    hers = await post(http, query, variables, factories.bearer(alice, settings))
    stranger = await post(http, query, variables)

    assert hers.json()["data"]["node"]["email"] == "alice@example.com"
    assert stranger.json()["data"]["node"] == {"handle": alice.handle, "email": None}
    assert "public" not in hers.headers["cache-control"]


async def test_staff_answers_are_never_shared_with_the_public(
    shop: Merchant, staff: dict[str, str], http: httpx.AsyncClient
) -> None:
    draft = await factories.product(shop, title="Unreleased", status=ProductStatus.DRAFT)

    seen_by_staff = await post(http, DETAIL, detail_of(draft), staff)
    seen_by_staff_again = await post(http, DETAIL, detail_of(draft), staff)
    seen_by_public = await post(http, DETAIL, detail_of(draft))

    assert seen_by_staff.json()["data"]["product"]["title"] == "Unreleased"
    assert seen_by_staff_again.headers["x-cache"] == "HIT"
    assert seen_by_staff_again.headers["cache-control"].startswith("private")
    assert seen_by_public.headers["x-cache"] == "MISS"
    assert seen_by_public.json()["data"]["product"] is None


async def test_a_write_through_the_api_is_seen_on_the_next_read(
    shop: Merchant, staff: dict[str, str], http: httpx.AsyncClient
) -> None:
    product = await factories.product(shop, title="Tea")
    await post(http, DETAIL, detail_of(product))
    await post(http, PAGE)

    await retitle(http, staff, product, "Green tea")
    detail = await post(http, DETAIL, detail_of(product))
    page = await post(http, PAGE)

    assert detail.headers["x-cache"] == "MISS"
    assert detail.json()["data"]["product"]["title"] == "Green tea"
    assert page.json()["data"]["products"]["edges"][0]["node"]["title"] == "Green tea"


async def test_a_write_purges_only_the_answers_that_read_what_it_wrote(
    shop: Merchant, staff: dict[str, str], http: httpx.AsyncClient
) -> None:
    written, untouched = await factories.product(shop), await factories.product(shop)
    for product in (written, untouched):
        await post(http, DETAIL, detail_of(product))

    await retitle(http, staff, written, "Renamed")

    assert (await post(http, DETAIL, detail_of(untouched))).headers["x-cache"] == "HIT"
    assert (await post(http, DETAIL, detail_of(written))).headers["x-cache"] == "MISS"


async def test_mutations_are_never_cached_and_never_sent_over_get(
    shop: Merchant, staff: dict[str, str], http: httpx.AsyncClient
) -> None:
    product = await factories.product(shop)
    variables = {"i": {"id": to_global_id(NodeType.PRODUCT, product.id), "title": "Again"}}

    answers = [await post(http, UPDATE, variables, staff) for _ in range(2)]
    over_get = await http.get(
        "/graphql", params={"query": UPDATE, "variables": json.dumps(variables)}, headers=staff
    )

    assert [a.headers["x-cache"] for a in answers] == ["BYPASS", "BYPASS"]
    assert answers[0].headers["cache-control"] == "no-store"
    assert over_get.status_code == 400
    assert over_get.json()["errors"][0]["extensions"]["code"] == "OPERATION_NOT_ALLOWED"


async def test_a_get_with_a_matching_etag_is_not_modified(
    shop: Merchant, http: httpx.AsyncClient
) -> None:
    product = await factories.product(shop)
    params = {"query": DETAIL, "variables": json.dumps(detail_of(product))}

    first = await http.get("/graphql", params=params)
    again = await http.get(
        "/graphql", params=params, headers={"if-none-match": first.headers["etag"]}
    )
    stale = await http.get("/graphql", params=params, headers={"if-none-match": 'W/"other"'})

    assert first.status_code == 200
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert stale.status_code == 200
    assert stale.json()["data"] == first.json()["data"]


def persisted(query: str | None, sha256: str) -> dict[str, str]:
    params = {"extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": sha256}})}
    if query is not None:
        params["query"] = query
    return params


def code_of(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


async def test_a_persisted_query_is_registered_once_then_sent_by_hash(
    shop: Merchant, http: httpx.AsyncClient
) -> None:
    await factories.product(shop, title="Tea")
    sha256 = hashlib.sha256(PAGE.encode()).hexdigest()

    unknown = await http.get("/graphql", params=persisted(None, sha256), headers={"accept": "*/*"})
    registered = await http.get("/graphql", params=persisted(PAGE, sha256))
    by_hash = await http.get("/graphql", params=persisted(None, sha256), headers={"accept": "*/*"})

    assert unknown.status_code == 200
    assert code_of(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    assert unknown.headers["cache-control"] == "no-store"
    assert registered.json()["extensions"]["persistedQuery"] == "REGISTERED"
    assert by_hash.json()["extensions"]["persistedQuery"] == "HIT"
    assert by_hash.json()["data"] == registered.json()["data"]
    assert by_hash.json()["data"]["products"]["edges"][0]["node"]["title"] == "Tea"
    assert by_hash.headers["x-cache"] == "HIT"


async def test_a_persisted_query_can_be_posted_by_hash(
    shop: Merchant, http: httpx.AsyncClient
) -> None:
    sha256 = hashlib.sha256(PAGE.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256}}

    unknown = await http.post("/graphql", json={"extensions": extensions})
    await http.post("/graphql", json={"query": PAGE, "extensions": extensions})
    by_hash = await http.post("/graphql", json={"extensions": extensions})

    assert code_of(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    assert by_hash.json()["data"] == {"products": {"edges": []}}


async def test_a_persisted_query_whose_hash_does_not_match_is_refused(
    http: httpx.AsyncClient,
) -> None:
    wrong = hashlib.sha256(b"{ serverTime }").hexdigest()
    mismatched = await http.get("/graphql", params=persisted(PAGE, wrong))
    malformed = await http.get("/graphql", params=persisted(PAGE, "ABC"))
    by_hash = await http.get("/graphql", params=persisted(None, wrong))

    assert code_of(mismatched) == "PERSISTED_QUERY_HASH_MISMATCH"
    assert code_of(malformed) == "PERSISTED_QUERY_INVALID"
    assert code_of(by_hash) == "PERSISTED_QUERY_NOT_FOUND"  # the mismatch registered nothing


async def test_the_cache_can_be_turned_off(shop: Merchant, make_app: Any) -> None:
    product = await factories.product(shop)
    async with make_app(response_cache=False) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            answers = [await post(client, DETAIL, detail_of(product)) for _ in range(2)]

    assert [a.headers["x-cache"] for a in answers] == ["BYPASS", "BYPASS"]
    assert answers[1].headers["cache-control"] == "no-store"


async def test_production_responses_carry_no_cache_report(shop: Merchant, make_app: Any) -> None:
    product = await factories.product(shop)
    async with make_app(debug=False, secret_key=TEST_SECRET_KEY, graphiql=False) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            answers = [await post(client, DETAIL, detail_of(product)) for _ in range(2)]

    assert answers[1].headers["x-cache"] == "HIT"
    assert "extensions" not in answers[1].json()


needs_shared_redis = pytest.mark.skipif(
    not (PG_URL and REDIS_URL), reason="needs PostgreSQL and Redis shared by processes"
)


@needs_shared_redis
async def test_a_purge_that_fails_does_not_fail_the_write(
    shop: Merchant, staff: dict[str, str], http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    product = await factories.product(shop, title="Tea")
    await post(http, DETAIL, detail_of(product))
    # A key of the wrong type makes Redis refuse the purge of this product's entries.
    async with Redis.from_url(REDIS_URL or "") as redis:
        await redis.set(f"respcache:tag:Product:{product.id}", "not a set")

    await retitle(http, staff, product, "Green tea")

    assert (await Product.get(id=product.id)).title == "Green tea"
    assert any("purge" in r.message and "failed" in r.message for r in caplog.records)


@needs_shared_redis
async def test_every_process_sees_a_write_on_its_next_read(
    app: Starlette, shop: Merchant, settings: Settings
) -> None:
    product = await factories.product(shop, title="Tea")
    staff = factories.bearer(await factories.user(staff_of=shop), settings)
    env = {
        "PINTUAN_DATABASE_URL": settings.database_url,
        "PINTUAN_REDIS_URL": settings.redis_url or "",
        "PINTUAN_SECRET_KEY": TEST_SECRET_KEY,
        "PINTUAN_LOG_LEVEL": "WARNING",
    }
    with running_servers(2, env) as (one, other):
        async with httpx.AsyncClient() as client:
            reads = []
            for base in (one, other):
                client.base_url = httpx.URL(base)
                reads.append(await post(client, DETAIL, detail_of(product)))
            client.base_url = httpx.URL(one)
            await retitle(client, staff, product, "Green tea")
            client.base_url = httpx.URL(other)
            after = await post(client, DETAIL, detail_of(product))

    assert [r.headers["x-cache"] for r in reads] == ["MISS", "HIT"]  # one store for both
    assert after.json()["data"]["product"]["title"] == "Green tea"

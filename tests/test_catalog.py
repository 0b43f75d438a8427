"""The public catalog through GraphQL, as a storefront queries it."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

from pintuan.catalog.models import Product, ProductStatus
from pintuan.graphql.ids import NodeType, to_global_id
from tests import factories
from tests.conftest import GraphQLClient

PAGE = """
query Page($first: Int, $after: String, $filter: ProductFilter, $sort: ProductSort! = NEWEST) {
  products(first: $first, after: $after, filter: $filter, sort: $sort) {
    edges { cursor node { id handle title tags status
      priceRange { min { amount currency formatted } max { amount } } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def all_pages(gql: GraphQLClient, first: int, **variables: Any) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        body = await gql(PAGE, {"first": first, "after": after, **variables})
        assert "errors" not in body, body
        page = body["data"]["products"]
        nodes.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


async def test_only_active_products_are_listed_newest_first(gql: GraphQLClient) -> None:
    shop = await factories.merchant()
    older = await factories.product(shop, title="Older")
    newer = await factories.product(shop, title="Newer")
    await factories.product(shop, title="Draft", status=ProductStatus.DRAFT)
    await factories.product(shop, title="Gone", status=ProductStatus.ARCHIVED)

    nodes = await all_pages(gql, 10)

    assert [n["title"] for n in nodes] == ["Newer", "Older"]
    assert nodes[0]["id"] == to_global_id(NodeType.PRODUCT, newer.id)
    assert nodes[1]["id"] == to_global_id(NodeType.PRODUCT, older.id)


async def test_cursor_pages_cover_every_product_once_in_each_order(gql: GraphQLClient) -> None:
    shop = await factories.merchant()
    same_time = factories.BASE_TIME
    # Ties on every sort key make the id tie-break do real work.
    for i in range(13):
        await factories.product(
            shop,
            title=f"Item {i % 4}",
            prices=(500 + 100 * (i % 3),),
            created_at=same_time + timedelta(seconds=i % 5),
        )

    expected = {
        "NEWEST": lambda n: (-n["created"], -n["pk"]),
        "PRICE_ASC": lambda n: (n["price"], n["pk"]),
        "PRICE_DESC": lambda n: (-n["price"], -n["pk"]),
        "TITLE": lambda n: (n["title"], n["pk"]),
    }
    rows: list[dict[str, Any]] = [
        {
            "pk": p.id,
            "title": p.title,
            "price": p.price_min,
            "created": p.created_at.timestamp(),
        }
        for p in await Product.all()
    ]
    for sort, key in expected.items():
        nodes = await all_pages(gql, 4, sort=sort)
        want = [to_global_id(NodeType.PRODUCT, r["pk"]) for r in sorted(rows, key=key)]
        assert [n["id"] for n in nodes] == want, sort


async def test_page_info_and_total_count(gql: GraphQLClient) -> None:
    shop = await factories.merchant()
    for _ in range(5):
        await factories.product(shop)
    query = """query($after: String) { products(first: 2, after: $after) {
        totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor } } }"""

    first = (await gql(query))["data"]["products"]
    assert first["totalCount"] == 5
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert first["pageInfo"]["startCursor"] == first["edges"][0]["cursor"]
    assert first["pageInfo"]["endCursor"] == first["edges"][-1]["cursor"]

    last = await gql(query, {"after": "x" * 10})
    assert last["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"

    cursor = first["pageInfo"]["endCursor"]
    second = (await gql(query, {"after": cursor}))["data"]["products"]
    third = (await gql(query, {"after": second["pageInfo"]["endCursor"]}))["data"]["products"]
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert len(third["edges"]) == 1
    assert third["pageInfo"]["hasNextPage"] is False


async def test_filters(gql: GraphQLClient) -> None:
    tea = await factories.merchant(handle="tea")
    fruit = await factories.merchant(handle="fruit")
    await factories.product(tea, title="普洱茶饼 Pu'er Cake", prices=(12800,), tags=("tea",))
    await factories.product(
        tea, title="Tea Set", prices=(3000, 25900), tags=("teaware",), description="Porcelain"
    )
    await factories.product(fruit, title="赣南脐橙 Oranges", prices=(3990,), tags=("fruit",))
    await factories.product(fruit, title="Hidden tea", tags=("tea",), status=ProductStatus.DRAFT)

    async def titles(**flt: Any) -> list[str]:
        return sorted(n["title"] for n in await all_pages(gql, 10, filter=flt))

    merchant_id = to_global_id(NodeType.MERCHANT, tea.id)
    assert await titles(merchantId=merchant_id) == ["Tea Set", "普洱茶饼 Pu'er Cake"]
    assert await titles(tag="tea") == ["普洱茶饼 Pu'er Cake"]
    assert await titles(search="porcelain") == ["Tea Set"]
    assert await titles(search="脐橙") == ["赣南脐橙 Oranges"]
    assert await titles(search="100%") == []
    assert await titles(priceMin=3500, priceMax=13000) == [
        "普洱茶饼 Pu'er Cake",
        "赣南脐橙 Oranges",
    ]
    assert await titles(priceMax=3000) == ["Tea Set"]
    assert await titles(tag="tea", merchantId=to_global_id(NodeType.MERCHANT, fruit.id)) == []


async def test_bad_filters_are_refused_with_a_code(gql: GraphQLClient) -> None:
    cases = [
        ({"priceMin": -1}, "INVALID_FILTER"),
        ({"priceMin": 500, "priceMax": 100}, "INVALID_FILTER"),
        ({"search": "x" * 201}, "INVALID_FILTER"),
        ({"tag": ""}, "INVALID_FILTER"),
        ({"merchantId": "not-an-id"}, "INVALID_ID"),
        ({"merchantId": to_global_id(NodeType.PRODUCT, 1)}, "WRONG_ID_TYPE"),
    ]
    for flt, code in cases:
        body = await gql(PAGE, {"filter": flt})
        assert body["data"] is None, flt
        assert body["errors"][0]["extensions"]["code"] == code, flt


async def test_cursor_from_another_ordering_is_refused(gql: GraphQLClient) -> None:
    shop = await factories.merchant()
    for _ in range(3):
        await factories.product(shop)
    body = await gql(PAGE, {"first": 1, "sort": "PRICE_ASC"})
    cursor = body["data"]["products"]["pageInfo"]["endCursor"]

    refused = await gql(PAGE, {"first": 1, "after": cursor, "sort": "TITLE"})

    assert refused["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


async def test_forged_cursors_are_refused_not_run(gql: GraphQLClient) -> None:
    """Cursors are opaque but not secret: a client may send any JSON inside one."""
    await factories.product(await factories.merchant())
    forged: dict[str, list[list[Any]]] = {
        "PRICE_ASC": [[2**63, 1], [-(2**31) - 1, 1], [100, 2**40]],
        "TITLE": [["tea\x00", 1], ["tea\ud800", 1], ["tea", 2**31]],
        "NEWEST": [["9999-12-31T23:59:59-14:00", 1], ["0001-01-01T00:00:00+14:00", 1]],
    }
    for sort, keys in forged.items():
        for key in keys:
            raw = json.dumps([sort, key]).encode()
            cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
            body = await gql(PAGE, {"first": 1, "after": cursor, "sort": sort})
            assert body["data"] is None, key
            assert body["errors"][0]["extensions"]["code"] == "INVALID_CURSOR", (key, body)


async def test_product_by_id_or_handle_with_relations(gql: GraphQLClient) -> None:
    shop = await factories.merchant(handle="yunnan-tea", name="云南茶园")
    item = await factories.product(shop, prices=(6800, 12800, 9900), stock=30, reserved=4)
    query = """query($id: ID, $handle: String) { product(id: $id, handle: $handle) {
        id handle createdAt merchant { id handle name }
        variants { id sku options { name value } price { amount currency formatted } available
                   product { handle } }
        priceRange { min { formatted } max { formatted } } } }"""

    by_id = (await gql(query, {"id": to_global_id(NodeType.PRODUCT, item.id)}))["data"]["product"]
    by_handle = (await gql(query, {"handle": item.handle}))["data"]["product"]

    assert by_id == by_handle
    assert by_id["merchant"] == {
        "id": to_global_id(NodeType.MERCHANT, shop.id),
        "handle": "yunnan-tea",
        "name": "云南茶园",
    }
    assert [v["price"]["amount"] for v in by_id["variants"]] == [6800, 12800, 9900]
    assert by_id["variants"][0]["price"] == {
        "amount": 6800,
        "currency": "CNY",
        "formatted": "¥68.00",
    }
    assert {v["available"] for v in by_id["variants"]} == {26}
    assert by_id["variants"][0]["product"]["handle"] == item.handle
    assert by_id["priceRange"] == {"min": {"formatted": "¥68.00"}, "max": {"formatted": "¥128.00"}}


async def test_product_lookup_needs_exactly_one_key(gql: GraphQLClient) -> None:
    neither = await gql("{ product { id } }")
    both = await gql('{ product(id: "UHJvZHVjdDox", handle: "x") { id } }')
    for body in (neither, both):
        assert body["errors"][0]["extensions"]["code"] == "INVALID_ARGUMENTS"


async def test_hidden_and_missing_products_are_null(gql: GraphQLClient) -> None:
    shop = await factories.merchant()
    draft = await factories.product(shop, status=ProductStatus.DRAFT)
    query = "query($id: ID, $handle: String) { product(id: $id, handle: $handle) { id } }"

    assert (await gql(query, {"handle": draft.handle}))["data"]["product"] is None
    draft_id = to_global_id(NodeType.PRODUCT, draft.id)
    assert (await gql(query, {"id": draft_id}))["data"]["product"] is None
    missing = to_global_id(NodeType.PRODUCT, 999_999)
    assert (await gql(query, {"id": missing}))["data"]["product"] is None
    assert (await gql(query, {"handle": "nope"}))["data"]["product"] is None


async def test_merchant_and_its_products(gql: GraphQLClient) -> None:
    shop = await factories.merchant(handle="orchard", name="Orchard")
    other = await factories.merchant()
    await factories.product(shop, title="A")
    await factories.product(shop, title="B")
    await factories.product(shop, title="Hidden", status=ProductStatus.DRAFT)
    await factories.product(other, title="Elsewhere")
    query = """{ merchant(handle: "orchard") { handle name logoUrl
        products(first: 1) { totalCount edges { node { title } } pageInfo { hasNextPage } } }
        nobody: merchant(handle: "nobody") { id } }"""

    body = (await gql(query))["data"]

    assert body["nobody"] is None
    products = body["merchant"]["products"]
    assert products["totalCount"] == 2
    assert [e["node"]["title"] for e in products["edges"]] == ["B"]
    assert products["pageInfo"]["hasNextPage"] is True


async def test_product_without_variants_has_no_price_range(gql: GraphQLClient) -> None:
    shop = await factories.merchant()
    item = await factories.product(shop, prices=())
    body = await gql(
        "query($h: String) { product(handle: $h) "
        "{ variants { id } priceRange { min { amount } } } }",
        {"h": item.handle},
    )
    assert body["data"]["product"] == {"variants": [], "priceRange": None}

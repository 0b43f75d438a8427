"""A merchant's product list sorts and filters like the catalog's; tags match in any case."""

from __future__ import annotations

from typing import Any

from pintuan.catalog.models import ProductStatus
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient

SHOP_PAGE = """query($handle: String!, $after: String, $filter: ProductFilter,
                  $sort: ProductSort!) {
  merchant(handle: $handle) {
    products(first: 2, after: $after, filter: $filter, sort: $sort) {
      edges { node { title } } pageInfo { hasNextPage endCursor } } } }"""
CATALOG_PAGE = """query($filter: ProductFilter) {
  products(first: 20, filter: $filter) { edges { node { title } } } }"""


async def shop_titles(gql: GraphQLClient, sort: str = "NEWEST", **flt: Any) -> list[str]:
    """Every page of the shop's list, in order."""
    titles: list[str] = []
    after = None
    while True:
        variables = {"handle": "tea", "after": after, "filter": flt, "sort": sort}
        body = await gql(SHOP_PAGE, variables)
        assert "errors" not in body, body
        page = body["data"]["merchant"]["products"]
        titles += [edge["node"]["title"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return titles
        after = page["pageInfo"]["endCursor"]


async def test_a_merchants_products_take_the_catalogs_sort_and_filter(gql: GraphQLClient) -> None:
    tea = await factories.merchant(handle="tea")
    fruit = await factories.merchant(handle="fruit")
    await factories.product(tea, title="Pu'er", prices=(12800,), tags=("tea",))
    await factories.product(tea, title="Tea Set", prices=(3000, 25900), tags=("teaware",))
    await factories.product(tea, title="Oolong", prices=(6800,), tags=("tea",))
    await factories.product(tea, title="White", prices=(15800,), tags=("tea",))
    await factories.product(
        tea, title="Draft", prices=(100,), tags=("tea",), status=ProductStatus.DRAFT
    )
    await factories.product(fruit, title="Tea-scented Oranges", prices=(3990,), tags=("tea",))

    assert await shop_titles(gql) == ["White", "Oolong", "Tea Set", "Pu'er"]
    assert await shop_titles(gql, "PRICE_ASC") == ["Tea Set", "Oolong", "Pu'er", "White"]
    assert await shop_titles(gql, "PRICE_DESC", tag="tea") == ["White", "Pu'er", "Oolong"]
    assert await shop_titles(gql, "TITLE", priceMin=5000, priceMax=13000) == ["Oolong", "Pu'er"]
    assert await shop_titles(gql, search="set") == ["Tea Set"]
    # The list is the merchant's own, whichever merchant the filter names.
    assert await shop_titles(gql, merchantId=to_global_id(NodeType.MERCHANT, fruit.id)) == []


async def test_tag_filters_match_in_any_case(gql: GraphQLClient, settings: Settings) -> None:
    shop = await factories.merchant(handle="tea")
    staff = factories.bearer(await factories.user(staff_of=shop), settings)
    created = await gql(
        """mutation($i: ProductCreateInput!) { productCreate(input: $i) {
          product { id tags } userErrors { code } } }""",
        {
            "i": {
                "merchantId": to_global_id(NodeType.MERCHANT, shop.id),
                "handle": "gyokuro",
                "title": "Gyokuro",
                "tags": ["Green-Tea", "Ärmel"],
            }
        },
        staff,
    )
    product = created["data"]["productCreate"]["product"]
    published = await gql(
        """mutation($i: ProductUpdateInput!) { productUpdate(input: $i) {
          product { status } userErrors { code } } }""",
        {"i": {"id": product["id"], "status": "ACTIVE"}},
        staff,
    )
    assert published["data"]["productUpdate"]["product"] == {"status": "ACTIVE"}

    spellings = ("green-tea", "GREEN-TEA", "Green-Tea", "ärmel", "ÄRMEL")
    for tag in spellings:
        catalog = await gql(CATALOG_PAGE, {"filter": {"tag": tag}})
        assert catalog["data"]["products"]["edges"] == [{"node": {"title": "Gyokuro"}}], tag
    for tag in spellings:
        assert await shop_titles(gql, tag=tag) == ["Gyokuro"], tag
    assert await shop_titles(gql, tag="green") == []

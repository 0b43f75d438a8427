"""Relations load through DataLoaders: a page costs the same few queries at any size."""

from __future__ import annotations

from tests import factories
from tests.conftest import GraphQLClient

PAGE = """query($first: Int!) { products(first: $first) { edges { node {
  title merchant { name } variants { sku price { amount currency formatted } }
  priceRange { min { amount } } } } } }"""


async def test_product_page_with_merchants_and_variants_is_three_queries(
    gql: GraphQLClient, sql_statements: list[str]
) -> None:
    shops = [await factories.merchant() for _ in range(4)]
    for i in range(60):
        await factories.product(shops[i % 4], prices=(100, 200, 300))

    counts = {}
    for first in (5, 50):
        sql_statements.clear()
        body = await gql(PAGE, {"first": first})
        assert len(body["data"]["products"]["edges"]) == first
        assert all(len(e["node"]["variants"]) == 3 for e in body["data"]["products"]["edges"])
        counts[first] = len(sql_statements)

    assert counts[50] <= 3, sql_statements
    assert counts[5] == counts[50]


async def test_total_count_costs_one_query_only_when_asked(
    gql: GraphQLClient, sql_statements: list[str]
) -> None:
    await factories.product(await factories.merchant())
    sql_statements.clear()

    await gql("{ products(first: 5) { edges { cursor } } }")
    without = len(sql_statements)
    sql_statements.clear()
    await gql("{ products(first: 5) { totalCount edges { cursor } } }")

    assert without == 1
    assert len(sql_statements) == 2


async def test_a_page_of_offers_with_their_groups_costs_the_same_at_any_size(
    gql: GraphQLClient, sql_statements: list[str]
) -> None:
    query = """query($first: Int!) { groupBuys(first: $first) { edges { node {
        groupPrice { amount } product { title } variant { sku } merchant { name }
        filledGroupsCount } } } }"""
    for _ in range(12):
        await factories.offer()

    counts = {}
    for first in (3, 12):
        sql_statements.clear()
        body = await gql(query, {"first": first})
        assert len(body["data"]["groupBuys"]["edges"]) == first
        counts[first] = len(sql_statements)

    assert counts[3] == counts[12] <= 5, sql_statements

"""Relay global IDs: node lookups and clear errors for bad IDs."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from graphql import GraphQLObjectType, build_schema

from pintuan.catalog.models import ProductStatus, Variant
from pintuan.graphql.ids import NodeType, from_global_id, to_global_id
from tests import factories
from tests.conftest import GraphQLClient

NODE = """query($id: ID!) { node(id: $id) { __typename id
  ... on Product { title } ... on Merchant { handle } ... on Variant { sku } } }"""


def test_global_ids_round_trip_and_are_opaque() -> None:
    gid = to_global_id(NodeType.PRODUCT, 42)
    assert "Product" not in gid
    assert from_global_id(gid) == ("Product", 42)


def test_node_types_are_the_schema_types_that_implement_node() -> None:
    sdl = build_schema((Path(__file__).parent.parent / "schema.graphql").read_text())
    nodes = {
        name
        for name, kind in sdl.type_map.items()
        if isinstance(kind, GraphQLObjectType) and any(i.name == "Node" for i in kind.interfaces)
    }
    assert nodes == {member.value for member in NodeType}


def test_global_ids_keep_the_encoding_clients_store() -> None:
    assert to_global_id(NodeType.GROUP_BUY, 7) == "R3JvdXBCdXk6Nw"  # b"GroupBuy:7", unpadded


async def test_node_resolves_each_type(gql: GraphQLClient) -> None:
    shop = await factories.merchant(handle="shop")
    item = await factories.product(shop, title="Tea")
    variant = await Variant.get(product_id=item.id)

    for gid, expected in [
        (to_global_id(NodeType.MERCHANT, shop.id), {"__typename": "Merchant", "handle": "shop"}),
        (to_global_id(NodeType.PRODUCT, item.id), {"__typename": "Product", "title": "Tea"}),
        (to_global_id(NodeType.VARIANT, variant.id), {"__typename": "Variant", "sku": variant.sku}),
    ]:
        node = (await gql(NODE, {"id": gid}))["data"]["node"]
        assert node == {"id": gid, **expected}


async def test_nodes_keeps_order_and_nulls_the_missing(gql: GraphQLClient) -> None:
    shop = await factories.merchant()
    a = await factories.product(shop, title="A")
    b = await factories.product(shop, title="B")
    hidden = await factories.product(shop, status=ProductStatus.DRAFT)
    ids = [
        to_global_id(NodeType.PRODUCT, b.id),
        to_global_id(NodeType.PRODUCT, 12345),
        to_global_id(NodeType.PRODUCT, hidden.id),
        to_global_id(NodeType.PRODUCT, a.id),
    ]

    body = await gql("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})

    assert body["data"]["nodes"] == [{"id": ids[0]}, None, None, {"id": ids[3]}]


async def test_variant_of_a_hidden_product_is_not_a_public_node(gql: GraphQLClient) -> None:
    shop = await factories.merchant()
    draft = await factories.product(shop, status=ProductStatus.DRAFT)
    variant = await Variant.get(product_id=draft.id)

    body = await gql(NODE, {"id": to_global_id(NodeType.VARIANT, variant.id)})

    assert body["data"]["node"] is None


async def test_malformed_and_foreign_ids_are_clear_errors(gql: GraphQLClient) -> None:
    shop = await factories.merchant()
    unknown_type = base64.urlsafe_b64encode(b"Secret:1").decode().rstrip("=")
    cases: list[tuple[str, dict[str, Any], str]] = [
        (NODE, {"id": "%%%"}, "INVALID_ID"),
        (NODE, {"id": ""}, "INVALID_ID"),
        (NODE, {"id": base64.b64encode(b"Product:abc").decode()}, "INVALID_ID"),
        (NODE, {"id": base64.b64encode(b"no-colon").decode()}, "INVALID_ID"),
        (NODE, {"id": "A" * 500}, "INVALID_ID"),
        (NODE, {"id": unknown_type}, "INVALID_ID"),
        (NODE, {"id": to_global_id(NodeType.PRODUCT, 2**31)}, "INVALID_ID"),  # past any 32-bit key
        (NODE, {"id": base64.b64encode("Product:²".encode()).decode()}, "INVALID_ID"),
        (
            "query($id: ID) { product(id: $id) { id } }",
            {"id": to_global_id(NodeType.MERCHANT, shop.id)},
            "WRONG_ID_TYPE",
        ),
        ("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ["bad"]}, "INVALID_ID"),
        (
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            {"ids": [to_global_id(NodeType.PRODUCT, 1)] * 101},
            "TOO_MANY_IDS",
        ),
    ]
    for query, variables, code in cases:
        body = await gql(query, variables)
        assert body["errors"][0]["extensions"]["code"] == code, variables
        assert "Traceback" not in str(body)

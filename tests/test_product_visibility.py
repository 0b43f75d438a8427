"""Products not on sale: their merchant's staff and admins read them, nobody else does."""

from __future__ import annotations

import pytest

from pintuan.catalog.models import ProductStatus, Variant
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient

READS = """query($id: ID!, $handle: String!, $variant: ID!) {
  byId: product(id: $id) { title status }
  byHandle: product(handle: $handle) { title status }
  node(id: $id) { ... on Product { title status } }
  variant: node(id: $variant) { ... on Variant { sku } }
}"""


@pytest.mark.parametrize("status", [ProductStatus.DRAFT, ProductStatus.ARCHIVED])
async def test_products_off_sale_are_read_only_by_their_merchants_staff_and_admins(
    gql: GraphQLClient, settings: Settings, status: ProductStatus
) -> None:
    shop, rival = await factories.merchant(), await factories.merchant()
    item = await factories.product(shop, title="Spring harvest", status=status)
    variant = await Variant.get(product_id=item.id)
    variables = {
        "id": to_global_id(NodeType.PRODUCT, item.id),
        "handle": item.handle,
        "variant": to_global_id(NodeType.VARIANT, variant.id),
    }
    seen = {"title": "Spring harvest", "status": status.value}
    readers = {
        "anonymous": {},
        "customer": factories.bearer(await factories.user(), settings),
        "other merchant's staff": factories.bearer(await factories.user(staff_of=rival), settings),
        "own staff": factories.bearer(await factories.user(staff_of=shop), settings),
        "admin": factories.bearer(await factories.user(admin=True), settings),
    }

    answers = {who: await gql(READS, variables, headers) for who, headers in readers.items()}

    assert all("errors" not in body for body in answers.values()), answers
    for who in ("anonymous", "customer", "other merchant's staff"):
        hidden = {"byId": None, "byHandle": None, "node": None, "variant": None}
        assert answers[who]["data"] == hidden, who
    for who in ("own staff", "admin"):
        shown = {"byId": seen, "byHandle": seen, "node": seen, "variant": {"sku": variant.sku}}
        assert answers[who]["data"] == shown, who

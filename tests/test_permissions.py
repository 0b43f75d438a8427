"""Every guarded operation, tried by each kind of caller: only the right role changes anything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pintuan.accounts.models import ApiKey, ApiKeyKind, Merchant, MerchantStaff, User
from pintuan.catalog.models import Product, ProductTag, Variant
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.groupbuys.models import GroupBuy
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient


@dataclass
class World:
    shop: Merchant
    product: Product
    variant: Variant
    key: ApiKey
    offer: GroupBuy
    callers: dict[str, dict[str, str]]


@dataclass(frozen=True)
class Operation:
    name: str
    document: str
    variables: Callable[[World], dict[str, Any]]
    allowed: str  # the caller role that may do it


SOON = datetime.now(UTC) + timedelta(days=1)
LATER = SOON + timedelta(days=7)


def gid(kind: str, pk: int) -> str:
    return to_global_id(NodeType(kind), pk)


def with_input(name: str, input_type: str, result: str) -> str:
    return (
        f"mutation($i: {input_type}!) {{ {name}(input: $i) {{ {result} userErrors {{ code }} }} }}"
    )


OPERATIONS = [
    Operation(
        "merchantCreate",
        with_input("merchantCreate", "MerchantCreateInput", "merchant { id }"),
        lambda w: {"i": {"handle": "new-shop", "name": "New Shop"}},
        "admin",
    ),
    Operation(
        "merchantStaffAdd",
        with_input("merchantStaffAdd", "MerchantStaffAddInput", "user { id }"),
        lambda w: {"i": {"merchantId": gid("Merchant", w.shop.id), "email": "newbie@example.com"}},
        "staff",
    ),
    Operation(
        "productCreate",
        with_input("productCreate", "ProductCreateInput", "product { id }"),
        lambda w: {
            "i": {"merchantId": gid("Merchant", w.shop.id), "handle": "fresh", "title": "Fresh"}
        },
        "staff",
    ),
    Operation(
        "productUpdate",
        with_input("productUpdate", "ProductUpdateInput", "product { id }"),
        lambda w: {"i": {"id": gid("Product", w.product.id), "title": "Renamed", "tags": ["x"]}},
        "staff",
    ),
    Operation(
        "productArchive",
        "mutation($id: ID!) { productArchive(id: $id) { product { id } userErrors { code } } }",
        lambda w: {"id": gid("Product", w.product.id)},
        "staff",
    ),
    Operation(
        "variantCreate",
        with_input("variantCreate", "VariantCreateInput", "variant { id }"),
        lambda w: {
            "i": {
                "productId": gid("Product", w.product.id),
                "sku": "new-sku",
                "title": "New",
                "price": {"amount": 999, "currency": "CNY"},
            }
        },
        "staff",
    ),
    Operation(
        "variantUpdate",
        with_input("variantUpdate", "VariantUpdateInput", "variant { id }"),
        lambda w: {
            "i": {"id": gid("Variant", w.variant.id), "price": {"amount": 1, "currency": "CNY"}}
        },
        "staff",
    ),
    Operation(
        "stockAdjust",
        with_input("stockAdjust", "StockAdjustInput", "variant { id }"),
        lambda w: {"i": {"variantId": gid("Variant", w.variant.id), "delta": 5}},
        "staff",
    ),
    Operation(
        "apiKeyCreate",
        with_input("apiKeyCreate", "ApiKeyCreateInput", "key"),
        lambda w: {
            "i": {"merchantId": gid("Merchant", w.shop.id), "kind": "SECRET", "name": "srv"}
        },
        "staff",
    ),
    Operation(
        "apiKeyRevoke",
        "mutation($id: ID!) { apiKeyRevoke(id: $id) { apiKey { id } userErrors { code } } }",
        lambda w: {"id": gid("ApiKey", w.key.id)},
        "staff",
    ),
    Operation(
        "groupBuyCreate",
        with_input("groupBuyCreate", "GroupBuyCreateInput", "groupBuy { id }"),
        lambda w: {
            "i": {
                "variantId": gid("Variant", w.variant.id),
                "groupPrice": 1,
                "groupSize": 2,
                "startsAt": SOON.isoformat(),
                "endsAt": LATER.isoformat(),
                "stockLimit": 5,
            }
        },
        "staff",
    ),
    Operation(
        "groupBuyUpdate",
        with_input("groupBuyUpdate", "GroupBuyUpdateInput", "groupBuy { id }"),
        lambda w: {"i": {"id": gid("GroupBuy", w.offer.id), "stockLimit": 9}},
        "staff",
    ),
    Operation(
        "groupBuyCancel",
        "mutation($id: ID!) { groupBuyCancel(id: $id) { groupBuy { id } userErrors { code } } }",
        lambda w: {"id": gid("GroupBuy", w.offer.id)},
        "staff",
    ),
    Operation(
        "apiKeys",
        "query($m: ID!) { apiKeys(merchantId: $m) { prefix } }",
        lambda w: {"m": gid("Merchant", w.shop.id)},
        "staff",
    ),
]


async def build_world(settings: Settings) -> World:
    shop = await factories.merchant(handle="shop")
    other_shop = await factories.merchant(handle="other-shop")
    product = await factories.product(shop)
    variant = await Variant.get(product_id=product.id)
    key = await ApiKey.create(
        merchant=shop, kind=ApiKeyKind.SECRET, name="k", prefix="sk_x", key_hash="0" * 64
    )
    offer = await GroupBuy.create(
        merchant=shop,
        product=product,
        variant=variant,
        solo_price=1000,
        group_price=800,
        currency="CNY",
        group_size=3,
        duration_seconds=3600,
        starts_at=SOON,
        ends_at=LATER,
        per_user_limit=1,
        stock_limit=5,
    )
    await factories.user("newbie@example.com")
    accounts = {
        "customer": await factories.user(),
        "other_staff": await factories.user(staff_of=other_shop),
        "staff": await factories.user(staff_of=shop),
        "admin": await factories.user(admin=True),
    }
    callers: dict[str, dict[str, str]] = {"anonymous": {}} | {
        role: factories.bearer(account, settings) for role, account in accounts.items()
    }
    return World(shop, product, variant, key, offer, callers)


async def snapshot() -> list[Any]:
    tables = (Merchant, MerchantStaff, Product, ProductTag, Variant, ApiKey, User, GroupBuy)
    return [sorted(map(str, await model.all().values())) for model in tables]


EXPECTED_REFUSAL = {
    "anonymous": "UNAUTHENTICATED",
    "customer": "FORBIDDEN",
    "other_staff": "FORBIDDEN",
    "staff": "FORBIDDEN",  # only for admin-only operations
}


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: o.name)
async def test_wrong_callers_are_refused_and_nothing_changes(
    gql: GraphQLClient, settings: Settings, operation: Operation
) -> None:
    world = await build_world(settings)
    wrong = ["anonymous", "customer", "other_staff"] + (
        ["staff"] if operation.allowed == "admin" else []
    )
    before = await snapshot()

    for caller in wrong:
        body = await gql(operation.document, operation.variables(world), world.callers[caller])
        assert body["data"] is None or body["data"][operation.name] is None, caller
        assert body["errors"][0]["extensions"]["code"] == EXPECTED_REFUSAL[caller], caller

    assert await snapshot() == before


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: o.name)
async def test_the_right_role_succeeds(
    gql: GraphQLClient, settings: Settings, operation: Operation
) -> None:
    for caller in dict.fromkeys([operation.allowed, "admin"]):
        world = await _fresh(settings)
        body = await gql(operation.document, operation.variables(world), world.callers[caller])
        assert "errors" not in body, (caller, body)
        result = body["data"][operation.name]
        if isinstance(result, dict):
            assert result["userErrors"] == [], (caller, result)


async def _fresh(settings: Settings) -> World:
    """A new world per caller, so one caller's change cannot collide with the next."""
    for model in (GroupBuy, ApiKey, MerchantStaff, Variant, ProductTag, Product, Merchant, User):
        await model.all().delete()
    return await build_world(settings)

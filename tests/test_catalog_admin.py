"""Merchant staff manage their catalog; the public view follows every change."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pintuan.accounts.models import Merchant
from pintuan.catalog.admin import MAX_STOCK
from pintuan.catalog.models import Product, ProductTag, Variant
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.groupbuys.order_models import Order, OrderKind
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient

PRODUCT_FIELDS = (
    "product { id handle title status tags priceRange { min { amount } max { amount } } }"
)
CREATE_PRODUCT = f"""mutation($i: ProductCreateInput!) {{ productCreate(input: $i) {{
  {PRODUCT_FIELDS} userErrors {{ field code message }} }} }}"""
UPDATE_PRODUCT = f"""mutation($i: ProductUpdateInput!) {{ productUpdate(input: $i) {{
  {PRODUCT_FIELDS} userErrors {{ field code }} }} }}"""
CREATE_VARIANT = """mutation($i: VariantCreateInput!) { variantCreate(input: $i) {
  variant { id sku price { amount currency formatted } available options { name value } }
  userErrors { field code } } }"""
UPDATE_VARIANT = """mutation($i: VariantUpdateInput!) { variantUpdate(input: $i) {
  variant { sku price { amount currency } } userErrors { field code } } }"""
ADJUST = """mutation($i: StockAdjustInput!) { stockAdjust(input: $i) {
  variant { available } userErrors { field code } } }"""


@pytest.fixture
async def staff(settings: Settings) -> tuple[str, dict[str, str]]:
    shop = await factories.merchant(handle="shop")
    member = await factories.user(staff_of=shop)
    return to_global_id(NodeType.MERCHANT, shop.id), factories.bearer(member, settings)


async def test_a_product_goes_from_draft_to_public_with_variants(
    gql: GraphQLClient, staff: tuple[str, dict[str, str]]
) -> None:
    merchant_id, headers = staff
    created = await gql(
        CREATE_PRODUCT,
        {
            "i": {
                "merchantId": merchant_id,
                "handle": "pu-er",
                "title": "普洱 Pu'er",
                "tags": ["Tea", "tea"],
            }
        },
        headers,
    )
    product = created["data"]["productCreate"]["product"]
    assert product["status"] == "DRAFT"
    assert product["tags"] == ["tea"]
    assert (await gql('{ product(handle: "pu-er") { id } }'))["data"]["product"] is None

    for sku, amount in (("pu-er-100", 6800), ("pu-er-357", 12800)):
        variant = await gql(
            CREATE_VARIANT,
            {
                "i": {
                    "productId": product["id"],
                    "sku": sku,
                    "title": sku,
                    "price": {"amount": amount, "currency": "cny"},
                    "options": [{"name": "Size", "value": sku[-3:]}],
                    "stockOnHand": 20,
                }
            },
            headers,
        )
        assert variant["data"]["variantCreate"]["userErrors"] == []
    published = await gql(UPDATE_PRODUCT, {"i": {"id": product["id"], "status": "ACTIVE"}}, headers)

    public = await gql(
        '{ products(first: 5, filter: {tag: "tea", priceMin: 10000}) { edges { node { handle '
        "priceRange { min { formatted } max { formatted } } } } } }"
    )
    assert published["data"]["productUpdate"]["product"]["status"] == "ACTIVE"
    assert public["data"]["products"]["edges"] == [
        {
            "node": {
                "handle": "pu-er",
                "priceRange": {"min": {"formatted": "¥68.00"}, "max": {"formatted": "¥128.00"}},
            }
        }
    ]


async def test_catalog_writes_refuse_bad_input_and_change_nothing(
    gql: GraphQLClient, staff: tuple[str, dict[str, str]]
) -> None:
    merchant_id, headers = staff
    shop = await Product.all().count()
    existing = await factories.product(await factories.merchant(), prices=(500,))
    variant = await Variant.get(product_id=existing.id)
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        (
            CREATE_PRODUCT,
            {"merchantId": merchant_id, "handle": "Bad Handle", "title": "x"},
            "INVALID",
            "handle",
        ),
        (
            CREATE_PRODUCT,
            {"merchantId": merchant_id, "handle": existing.handle, "title": "x"},
            "HANDLE_TAKEN",
            "handle",
        ),
        (
            CREATE_PRODUCT,
            {"merchantId": merchant_id, "handle": "ok", "title": ""},
            "INVALID",
            "title",
        ),
        (
            CREATE_PRODUCT,
            {"merchantId": merchant_id, "handle": "ok", "title": "x", "images": ["ftp://x"]},
            "INVALID",
            "images",
        ),
    ]
    for document, fields, code, field in cases:
        body = await gql(document, {"i": fields}, headers)
        assert body["data"]["productCreate"]["userErrors"][0]["code"] == code, fields
        assert body["data"]["productCreate"]["userErrors"][0]["field"] == field
    assert await Product.all().count() == shop + 1

    own = (
        await gql(
            CREATE_PRODUCT,
            {"i": {"merchantId": merchant_id, "handle": "own", "title": "Own"}},
            headers,
        )
    )["data"]["productCreate"]["product"]
    bad_variants: list[tuple[dict[str, Any], str, str]] = [
        ({"sku": variant.sku, "price": {"amount": 1, "currency": "CNY"}}, "SKU_TAKEN", "sku"),
        ({"sku": "n1", "price": {"amount": -1, "currency": "CNY"}}, "INVALID", "price.amount"),
        (
            {"sku": "n2", "price": {"amount": 100, "currency": "XXX"}},
            "UNSUPPORTED_CURRENCY",
            "price.currency",
        ),
        (
            {"sku": "n3", "price": {"amount": 100, "currency": "CNY"}, "stockOnHand": -5},
            "INVALID",
            "stockOnHand",
        ),
    ]
    for fields, code, field in bad_variants:
        body = await gql(
            CREATE_VARIANT, {"i": {"productId": own["id"], "title": "v"} | fields}, headers
        )
        assert body["data"]["variantCreate"]["userErrors"] == [{"field": field, "code": code}]
    assert await Variant.filter(product__handle="own").count() == 0


async def test_updates_keep_price_range_and_tag_index_in_step(
    gql: GraphQLClient, staff: tuple[str, dict[str, str]]
) -> None:
    merchant_id, headers = staff
    product = (
        await gql(
            CREATE_PRODUCT,
            {
                "i": {
                    "merchantId": merchant_id,
                    "handle": "p",
                    "title": "P",
                    "tags": ["old"],
                    "status": "ACTIVE",
                }
            },
            headers,
        )
    )["data"]["productCreate"]["product"]
    variant = (
        await gql(
            CREATE_VARIANT,
            {
                "i": {
                    "productId": product["id"],
                    "sku": "p-1",
                    "title": "1",
                    "price": {"amount": 1000, "currency": "CNY"},
                }
            },
            headers,
        )
    )["data"]["variantCreate"]["variant"]

    repriced = await gql(
        UPDATE_VARIANT,
        {"i": {"id": variant["id"], "price": {"amount": 700, "currency": "CNY"}}},
        headers,
    )
    retagged = await gql(UPDATE_PRODUCT, {"i": {"id": product["id"], "tags": ["new"]}}, headers)

    assert repriced["data"]["variantUpdate"]["variant"]["price"] == {
        "amount": 700,
        "currency": "CNY",
    }
    assert retagged["data"]["productUpdate"]["product"]["priceRange"]["min"]["amount"] == 700
    assert await ProductTag.filter(tag="old").count() == 0
    assert await ProductTag.filter(tag="new").count() == 1
    by_price = await gql(
        "{ products(first: 5, filter: {priceMax: 800}) { edges { node { handle } } } }"
    )
    assert by_price["data"]["products"]["edges"] == [{"node": {"handle": "p"}}]


async def test_archiving_hides_the_product(
    gql: GraphQLClient, staff: tuple[str, dict[str, str]]
) -> None:
    merchant_id, headers = staff
    product = (
        await gql(
            CREATE_PRODUCT,
            {"i": {"merchantId": merchant_id, "handle": "a", "title": "A", "status": "ACTIVE"}},
            headers,
        )
    )["data"]["productCreate"]["product"]
    archive = (
        "mutation($id: ID!) { productArchive(id: $id) { product { status } userErrors { code } } }"
    )

    first = await gql(archive, {"id": product["id"]}, headers)
    second = await gql(archive, {"id": product["id"]}, headers)

    assert first["data"]["productArchive"]["product"]["status"] == "ARCHIVED"
    assert second["data"]["productArchive"]["userErrors"] == [{"code": "ARCHIVED"}]
    assert (await gql('{ product(handle: "a") { id } }'))["data"]["product"] is None


async def staffed_variant(stock: int, reserved: int = 0) -> Variant:
    """A variant of the ``staff`` fixture's own shop; ``reserved`` units are held by a
    shopper's order awaiting payment, as a purchase would hold them."""
    shop = await Merchant.get(handle="shop")
    product = await factories.product(shop, prices=(100,), stock=stock, reserved=reserved)
    variant = await Variant.get(product_id=product.id)
    if reserved:
        await Order.create(
            buyer=await factories.user(),
            merchant=shop,
            kind=OrderKind.SOLO,
            variant=variant,
            quantity=reserved,
            unit_price=variant.price_amount,
            currency=variant.currency,
            idempotency_key="reserving",
            request_hash="x",
        )
    return variant


@pytest.mark.usefixtures("needs_concurrency")
async def test_stock_never_falls_below_reserved_under_concurrent_adjustments(
    gql: GraphQLClient, staff: tuple[str, dict[str, str]]
) -> None:
    _, headers = staff
    variant = await staffed_variant(stock=30, reserved=10)
    variables = {"i": {"variantId": to_global_id(NodeType.VARIANT, variant.id), "delta": -3}}

    results = await asyncio.gather(*(gql(ADJUST, variables, headers) for _ in range(12)))

    succeeded = [r for r in results if not r["data"]["stockAdjust"]["userErrors"]]
    refused = [r for r in results if r["data"]["stockAdjust"]["userErrors"]]
    await variant.refresh_from_db()
    assert len(succeeded) == 6  # 30 on hand, 10 reserved: 20 free, six removals of 3
    assert {r["data"]["stockAdjust"]["userErrors"][0]["code"] for r in refused} == {
        "INSUFFICIENT_STOCK"
    }
    assert (variant.stock_on_hand, variant.stock_reserved) == (12, 10)


async def test_stock_adjustments_stay_within_what_a_variant_may_hold(
    gql: GraphQLClient, staff: tuple[str, dict[str, str]]
) -> None:
    _, headers = staff
    variant = await staffed_variant(stock=10)
    variant_id = to_global_id(NodeType.VARIANT, variant.id)

    results = {
        delta: (await gql(ADJUST, {"i": {"variantId": variant_id, "delta": delta}}, headers))[
            "data"
        ]["stockAdjust"]
        for delta in (0, MAX_STOCK + 1, -(MAX_STOCK + 1), MAX_STOCK - 9, MAX_STOCK - 10)
    }

    for delta in (0, MAX_STOCK + 1, -(MAX_STOCK + 1), MAX_STOCK - 9):
        [error] = results[delta]["userErrors"]
        assert (error["code"], error["field"]) == ("INVALID", "delta"), delta
    assert results[MAX_STOCK - 10]["userErrors"] == []
    await variant.refresh_from_db()
    assert variant.stock_on_hand == MAX_STOCK


async def test_an_admin_creating_for_a_missing_merchant_gets_not_found(
    gql: GraphQLClient, settings: Settings
) -> None:
    admin = factories.bearer(await factories.user(admin=True), settings)
    missing = {"merchantId": to_global_id(NodeType.MERCHANT, 999_999), "handle": "h", "title": "T"}

    body = await gql(CREATE_PRODUCT, {"i": missing}, admin)

    assert "errors" not in body
    assert body["data"]["productCreate"] == {
        "product": None,
        "userErrors": [
            {"field": "merchantId", "code": "NOT_FOUND", "message": "No such merchant."}
        ],
    }
    assert await Product.all().count() == 0


SPOOFING = {
    "a right-to-left override": "tea\u202egpj.exe",
    "a bidi isolate": "tea\u2066x\u2069",
    "a control character": "tea\x1b[31m",
    "a C1 control": "te\x85a",
    "a newline": "tea\nset",
}


@pytest.mark.parametrize("how", SPOOFING)
async def test_catalog_text_with_spoofing_characters_is_refused(
    gql: GraphQLClient, staff: tuple[str, dict[str, str]], how: str
) -> None:
    merchant_id, headers = staff
    bad = SPOOFING[how]
    product = {"merchantId": merchant_id, "handle": "ok", "title": "Tea"}
    own = (await gql(CREATE_PRODUCT, {"i": product | {"handle": "own"}}, headers))["data"]
    own_id = own["productCreate"]["product"]["id"]
    variant = {"productId": own_id, "sku": "s1", "title": "v"}
    variant |= {"price": {"amount": 100, "currency": "CNY"}}
    refusals = [
        (CREATE_PRODUCT, product | {"title": bad}, "productCreate", "title"),
        (CREATE_PRODUCT, product | {"tags": [bad]}, "productCreate", "tags"),
        (CREATE_PRODUCT, product | {"handle": bad}, "productCreate", "handle"),
        (UPDATE_PRODUCT, {"id": own_id, "title": bad}, "productUpdate", "title"),
        (CREATE_VARIANT, variant | {"sku": bad}, "variantCreate", "sku"),
        (CREATE_VARIANT, variant | {"title": bad}, "variantCreate", "title"),
    ]

    for document, fields, name, field in refusals:
        body = await gql(document, {"i": fields}, headers)
        errors = [(e["field"], e["code"]) for e in body["data"][name]["userErrors"]]
        assert errors == [(field, "INVALID")], fields
    assert await Product.filter(handle="ok").count() == 0
    assert await Variant.filter(product__handle="own").count() == 0
    assert (await Product.get(handle="own")).title == "Tea"


async def test_text_is_stored_nfc_normalised_and_descriptions_keep_lines(
    gql: GraphQLClient, staff: tuple[str, dict[str, str]]
) -> None:
    merchant_id, headers = staff
    decomposed = "Cafe\u0301 au lait"  # "e" and a combining acute accent
    created = await gql(
        CREATE_PRODUCT,
        {
            "i": {
                "merchantId": merchant_id,
                "handle": "cafe",
                "title": decomposed,
                "tags": [decomposed],
                "description": "Line one\r\n\tLine two",
            }
        },
        headers,
    )

    product = created["data"]["productCreate"]["product"]
    assert product["title"] == "Caf\u00e9 au lait"
    assert product["tags"] == ["caf\u00e9 au lait"]
    assert (await Product.get(handle="cafe")).description == "Line one\n\tLine two"

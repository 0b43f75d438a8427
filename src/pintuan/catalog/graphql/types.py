"""Catalog types and queries: merchants, products, variants."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry

from pintuan.accounts import models as accounts_models
from pintuan.accounts.graphql.loaders import account_loaders
from pintuan.accounts.merchants import MerchantView, merchant_view
from pintuan.catalog import models, products
from pintuan.catalog.graphql.loaders import catalog_loaders
from pintuan.catalog.models import ProductStatus
from pintuan.catalog.products import PRODUCT_VIEW, ProductSort, ProductView, VariantView
from pintuan.core import cache_tags
from pintuan.core.errors import DomainError
from pintuan.graphql import provided
from pintuan.graphql.arguments import exactly_one
from pintuan.graphql.cache_hints import Hint, cache_hint
from pintuan.graphql.context import Info
from pintuan.graphql.errors import from_domain
from pintuan.graphql.ids import NodeType, decode_id, to_global_id
from pintuan.graphql.loaders import loaded, present, required
from pintuan.graphql.lookahead import selected_below
from pintuan.graphql.money import Money
from pintuan.graphql.node import Node, register_node
from pintuan.graphql.pagination import Connection, paginate_values

if TYPE_CHECKING:
    from pintuan.groupbuys.graphql.types import GroupBuy
    from pintuan.referrals.graphql.plans import CommissionPlan

_offers_of_product = provided.declare("Product.groupBuys")
_plan_of_merchant = provided.declare("Merchant.commissionPlan")

strawberry.enum(ProductStatus, description="Only ACTIVE products are visible to the public.")
strawberry.enum(ProductSort, description="Orderings for product lists; ties break by ID.")


@cache_hint(max_age=300)
@strawberry.type(description="A brand or supplier selling through Pintuan.")
class Merchant(Node):
    handle: str
    name: str
    logo_url: str | None
    pk: strawberry.Private[int]

    @classmethod
    def of(cls, m: accounts_models.Merchant) -> Merchant:
        return cls.of_view(merchant_view(m))

    @classmethod
    def of_view(cls, m: MerchantView) -> Merchant:
        cache_tags.read(cache_tags.entity(NodeType.MERCHANT, m["id"]))
        return cls(
            id=strawberry.ID(to_global_id(NodeType.MERCHANT, m["id"])),
            handle=m["handle"],
            name=m["name"],
            logo_url=m["logo_url"],
            pk=m["id"],
        )

    @strawberry.field(
        description="This merchant's active products, sorted and filtered like `products`."
    )
    async def products(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ProductFilterInput | None = None,
        sort: ProductSort = ProductSort.NEWEST,
    ) -> Connection[Product]:
        flt = filter.to_domain() if filter else products.ProductFilter()
        return await _product_connection(info, flt, sort, first, after, merchant_id=self.pk)

    @strawberry.field(description="The version of this merchant's commission plan in force now.")
    async def commission_plan(
        self, info: Info
    ) -> Annotated[CommissionPlan, strawberry.lazy("pintuan.referrals.graphql.plans")] | None:
        plan: CommissionPlan | None = await _plan_of_merchant(info, self.pk)
        return plan


@cache_hint(inherit=True)
@strawberry.type(description="One option a variant is defined by, such as Colour: Red.")
class VariantOption:
    name: str
    value: str


@cache_hint(max_age=60)
@strawberry.type(description="A purchasable version of a product with its own price and stock.")
class Variant(Node):
    sku: str
    title: str
    options: list[VariantOption]
    price: Money
    available: int = strawberry.field(description="Stock on hand less stock reserved.")
    pk: strawberry.Private[int]
    product_pk: strawberry.Private[int]

    @classmethod
    def of(cls, v: models.Variant) -> Variant:
        return cls.of_view(products.variant_view(v))

    @classmethod
    def of_view(cls, v: VariantView) -> Variant:
        cache_tags.read(cache_tags.entity(NodeType.VARIANT, v["id"]))
        return cls(
            id=strawberry.ID(to_global_id(NodeType.VARIANT, v["id"])),
            sku=v["sku"],
            title=v["title"],
            options=[VariantOption(name=o["name"], value=o["value"]) for o in v["options"]],
            price=Money.of(v["price_amount"], v["currency"]),
            available=v["stock_on_hand"] - v["stock_reserved"],
            pk=v["id"],
            product_pk=v["product_id"],
        )

    @strawberry.field
    async def product(self, info: Info) -> Product:
        product = await required(catalog_loaders(info).product, self.product_pk, "product")
        return Product.of(product)


@cache_hint(inherit=True)
@strawberry.type(description="The lowest and highest variant prices of a product.")
class PriceRange:
    min: Money
    max: Money


@cache_hint(max_age=60)
@strawberry.type(description="An item in the catalog.")
class Product(Node):
    handle: str
    title: str
    description: str
    images: list[str]
    tags: list[str]
    status: ProductStatus
    created_at: datetime
    pk: strawberry.Private[int]
    merchant_pk: strawberry.Private[int]

    @classmethod
    def of(cls, p: models.Product) -> Product:
        return cls.of_view(products.product_view(p))

    @classmethod
    def of_view(cls, p: ProductView) -> Product:
        cache_tags.read(cache_tags.entity(NodeType.PRODUCT, p["id"]))
        return cls(
            id=strawberry.ID(to_global_id(NodeType.PRODUCT, p["id"])),
            handle=p["handle"],
            title=p["title"],
            description=p["description"],
            images=p["images"],
            tags=p["tags"],
            status=p["status"],
            created_at=p["created_at"],
            pk=p["id"],
            merchant_pk=p["merchant_id"],
        )

    @strawberry.field(graphql_type=Merchant)
    def merchant(self, info: Info) -> Merchant | Awaitable[Merchant]:
        return loaded(account_loaders(info).merchant, self.merchant_pk, _merchant_of)

    @strawberry.field(graphql_type=list[Variant])
    def variants(self, info: Info) -> list[Variant] | Awaitable[list[Variant]]:
        return loaded(catalog_loaders(info).variants_by_product, self.pk, _variants_of)

    @strawberry.field(description="Group-buy offers on this product, newest first.")
    async def group_buys(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[GroupBuy, strawberry.lazy("pintuan.groupbuys.graphql.types")]]:
        offers: Connection[GroupBuy] = await _offers_of_product(info, self.pk, None, first, after)
        return offers

    @strawberry.field(
        description="Null while the product has no variants.", graphql_type=PriceRange | None
    )
    def price_range(self, info: Info) -> PriceRange | Awaitable[PriceRange | None] | None:
        return loaded(catalog_loaders(info).variants_by_product, self.pk, _price_range)


def _product_of_values(values: dict[str, Any]) -> Product:
    return Product.of_view(cast(ProductView, values))


def _merchant_of(merchant: MerchantView | None) -> Merchant:
    return Merchant.of_view(present(merchant, "merchant"))


def _variants_of(variants: list[VariantView]) -> list[Variant]:
    return [Variant.of_view(v) for v in variants]


def _price_range(variants: list[VariantView]) -> PriceRange | None:
    if not variants:
        return None
    cheapest = min(variants, key=lambda v: v["price_amount"])
    dearest = max(variants, key=lambda v: v["price_amount"])
    return PriceRange(
        min=Money.of(cheapest["price_amount"], cheapest["currency"]),
        max=Money.of(dearest["price_amount"], dearest["currency"]),
    )


async def load_relations(info: Info, products: Sequence[Product], selected: frozenset[str]) -> None:
    """Loads the relations of ``products`` that ``selected`` names, one batch each, so
    that their fields answer at once (see ``pintuan.graphql.lookahead``)."""
    loads: list[Awaitable[object]] = []
    if "merchant" in selected:
        merchants = account_loaders(info).merchant
        loads.append(merchants.load_many([p.merchant_pk for p in products]))
    if "variants" in selected or "priceRange" in selected:
        variants = catalog_loaders(info).variants_by_product
        loads.append(variants.load_many([p.pk for p in products]))
    await asyncio.gather(*loads)


@strawberry.input(name="ProductFilter", description="All given conditions must hold.")
class ProductFilterInput:
    merchant_id: strawberry.ID | None = None
    tag: str | None = strawberry.field(
        default=None, description="Has this tag, matched case-insensitively."
    )
    search: str | None = strawberry.field(
        default=None, description="Matches title or description, case-insensitively."
    )
    price_min: int | None = strawberry.field(
        default=None, description="Some variant costs at least this, in minor units."
    )
    price_max: int | None = strawberry.field(
        default=None, description="Some variant costs at most this, in minor units."
    )

    def to_domain(self) -> products.ProductFilter:
        merchant = None
        if self.merchant_id is not None:
            merchant = decode_id(self.merchant_id, NodeType.MERCHANT, "filter.merchantId")
        return products.ProductFilter(
            merchant_id=merchant,
            tag=self.tag,
            search=self.search,
            price_min=self.price_min,
            price_max=self.price_max,
        )


async def _product_connection(
    info: Info,
    flt: products.ProductFilter,
    sort: ProductSort,
    first: int | None,
    after: str | None,
    *,
    merchant_id: int | None = None,
) -> Connection[Product]:
    """``merchant_id`` narrows the list to one merchant's, on top of the filter's own."""
    try:
        query = products.public_products(flt)
    except DomainError as exc:
        raise from_domain(exc) from None
    if merchant_id is not None:
        query = query.filter(merchant_id=merchant_id)
    cache_tags.read(cache_tags.listing(NodeType.PRODUCT))
    if flt.search:
        cache_tags.read(cache_tags.listing(NodeType.PRODUCT, "search"))
    sort_key = products.SORT_KEYS[sort]
    connection = await paginate_values(
        info, query, sort_key, sort.value, PRODUCT_VIEW, _product_of_values, first, after
    )
    nodes = [edge.node for edge in connection.edges]
    await load_relations(info, nodes, selected_below(info, "edges", "node"))
    return connection


@cache_hint(fields={"products": Hint(max_age=60)})
@strawberry.type
class CatalogQuery:
    @strawberry.field(
        description=(
            "A product by ID or handle (give exactly one): active ones for everyone, drafts "
            "and archived ones only for their merchant's staff and admins."
        )
    )
    async def product(
        self, info: Info, id: strawberry.ID | None = None, handle: str | None = None
    ) -> Product | None:
        exactly_one(info, {"id": id, "handle": handle})
        if id is not None:
            found = await catalog_loaders(info).product.load(decode_id(id, NodeType.PRODUCT))
        else:
            found = await products.product_by_handle(handle or "")
        return Product.of(found) if found and _visible(info, found) else None

    @strawberry.field(description="Active products, paginated by cursor.")
    async def products(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ProductFilterInput | None = None,
        sort: ProductSort = ProductSort.NEWEST,
    ) -> Connection[Product]:
        flt = filter.to_domain() if filter else products.ProductFilter()
        return await _product_connection(info, flt, sort, first, after)

    @strawberry.field
    async def merchant(self, info: Info, handle: str) -> Merchant | None:
        found = await products.merchant_by_handle(handle)
        return Merchant.of(found) if found else None


async def _merchant_node(info: Info, pk: int) -> Merchant | None:
    found = await account_loaders(info).merchant.load(pk)
    return Merchant.of_view(found) if found else None


def _visible(info: Info, product: models.Product) -> bool:
    """Products not on sale are seen only by those who manage them (to edit and preview)."""
    return product.status == ProductStatus.ACTIVE or info.context.viewer.can_manage(
        product.merchant_id
    )


async def _product_node(info: Info, pk: int) -> Product | None:
    found = await catalog_loaders(info).product.load(pk)
    return Product.of(found) if found and _visible(info, found) else None


async def _variant_node(info: Info, pk: int) -> Variant | None:
    variant = await catalog_loaders(info).variant.load(pk)
    if variant is None:
        return None
    product = await catalog_loaders(info).product.load(variant.product_id)
    return Variant.of(variant) if product and _visible(info, product) else None


register_node(NodeType.MERCHANT, _merchant_node)
register_node(NodeType.PRODUCT, _product_node)
register_node(NodeType.VARIANT, _variant_node)

"""Catalog writes for a merchant's staff (or its secret key): products, variants, stock."""

from __future__ import annotations

import strawberry

from pintuan.catalog import admin, models
from pintuan.catalog.admin import ProductChanges, VariantChanges
from pintuan.catalog.graphql.loaders import catalog_loaders
from pintuan.catalog.graphql.merchants import managed_merchant
from pintuan.catalog.graphql.types import Product, Variant
from pintuan.catalog.models import ProductStatus
from pintuan.graphql.context import Info
from pintuan.graphql.ids import NodeType, decode_id
from pintuan.graphql.mutations import MutationPayload, found, mutation
from pintuan.graphql.permissions import MerchantActor, require_merchant


@strawberry.input
class MoneyInput:
    amount: int = strawberry.field(description="Minor units: fen, cents.")
    currency: str


@strawberry.input
class VariantOptionInput:
    name: str
    value: str


@strawberry.input
class ProductCreateInput:
    merchant_id: strawberry.ID
    handle: str
    title: str
    description: str = ""
    images: list[str] = strawberry.field(default_factory=list)
    tags: list[str] = strawberry.field(default_factory=list)
    status: ProductStatus = ProductStatus.DRAFT


@strawberry.input(description="Only the fields given change.")
class ProductUpdateInput:
    id: strawberry.ID
    handle: str | None = None
    title: str | None = None
    description: str | None = None
    images: list[str] | None = None
    tags: list[str] | None = None
    status: ProductStatus | None = None


@strawberry.input
class VariantCreateInput:
    product_id: strawberry.ID
    sku: str
    title: str
    price: MoneyInput
    options: list[VariantOptionInput] = strawberry.field(default_factory=list)
    stock_on_hand: int = 0


@strawberry.input(description="Only the fields given change.")
class VariantUpdateInput:
    id: strawberry.ID
    sku: str | None = None
    title: str | None = None
    price: MoneyInput | None = None
    options: list[VariantOptionInput] | None = None


@strawberry.input(description="Receive (positive) or write off (negative) stock on hand.")
class StockAdjustInput:
    variant_id: strawberry.ID
    delta: int


@strawberry.type
class ProductPayload(MutationPayload):
    product: Product | None = None


@strawberry.type
class VariantPayload(MutationPayload):
    variant: Variant | None = None


async def _product(info: Info, product_id: strawberry.ID, field: str) -> models.Product:
    loaded = await catalog_loaders(info).product.load(
        decode_id(product_id, NodeType.PRODUCT, field)
    )
    product = found(loaded, "product", field)
    require_merchant(info, product.merchant_id)
    return product


async def owned_variant(
    info: Info, variant_id: strawberry.ID, field: str
) -> tuple[models.Variant, models.Product]:
    """A variant and its product, once the viewer is known to manage their merchant."""
    loaders = catalog_loaders(info)
    variant = found(
        await loaders.variant.load(decode_id(variant_id, NodeType.VARIANT, field)), "variant", field
    )
    product = found(await loaders.product.load(variant.product_id), "product", field)
    require_merchant(info, product.merchant_id)
    return variant, product


def _options(options: list[VariantOptionInput] | None) -> list[tuple[str, str]] | None:
    return None if options is None else [(o.name, o.value) for o in options]


@strawberry.type
class CatalogAdminMutation:
    @mutation(MerchantActor())
    async def product_create(self, info: Info, input: ProductCreateInput) -> ProductPayload:
        merchant = await managed_merchant(info, input.merchant_id)
        product = await admin.create_product(
            merchant.id,
            input.handle,
            input.title,
            input.description,
            input.images,
            input.tags,
            input.status,
        )
        return ProductPayload(product=Product.of(product))

    @mutation(MerchantActor())
    async def product_update(self, info: Info, input: ProductUpdateInput) -> ProductPayload:
        product = await _product(info, input.id, "id")
        changes = ProductChanges(
            handle=input.handle,
            title=input.title,
            description=input.description,
            images=input.images,
            tags=input.tags,
            status=input.status,
        )
        updated = await admin.update_product(product, changes)
        return ProductPayload(product=Product.of(updated))

    @mutation(MerchantActor(), description="Hide a product for good.")
    async def product_archive(self, info: Info, id: strawberry.ID) -> ProductPayload:
        product = await _product(info, id, "id")
        archived = await admin.archive_product(product)
        return ProductPayload(product=Product.of(archived))

    @mutation(MerchantActor())
    async def variant_create(self, info: Info, input: VariantCreateInput) -> VariantPayload:
        product = await _product(info, input.product_id, "productId")
        variant = await admin.create_variant(
            product,
            input.sku,
            input.title,
            input.price.amount,
            input.price.currency,
            _options(input.options),
            input.stock_on_hand,
        )
        return VariantPayload(variant=Variant.of(variant))

    @mutation(MerchantActor())
    async def variant_update(self, info: Info, input: VariantUpdateInput) -> VariantPayload:
        variant, _ = await owned_variant(info, input.id, "id")
        changes = VariantChanges(
            sku=input.sku,
            title=input.title,
            options=_options(input.options),
            price_amount=input.price.amount if input.price else None,
            currency=input.price.currency if input.price else None,
        )
        updated = await admin.update_variant(variant, changes)
        return VariantPayload(variant=Variant.of(updated))

    @mutation(MerchantActor())
    async def stock_adjust(self, info: Info, input: StockAdjustInput) -> VariantPayload:
        variant, _ = await owned_variant(info, input.variant_id, "variantId")
        adjusted = await admin.adjust_stock(variant.id, input.delta)
        return VariantPayload(variant=Variant.of(adjusted))

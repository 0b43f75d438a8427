"""Catalog writes by merchants: products, variants and stock.

Product rows mirror their variants' price range and their tags' index rows;
both are kept in step inside the same transaction as the change.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from pintuan.catalog import products
from pintuan.catalog.models import Product, ProductStatus, ProductTag, Variant
from pintuan.core import cache_tags, validation
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.core.ids import NodeType
from pintuan.core.money import is_supported_currency

MAX_TAGS = 20
MAX_IMAGES = 20
MAX_OPTIONS = 5
MAX_PRICE = 100_000_000_00
MAX_STOCK = 10_000_000


@dataclass(frozen=True, slots=True)
class ProductChanges:
    handle: str | None = None
    title: str | None = None
    description: str | None = None
    images: list[str] | None = None
    tags: list[str] | None = None
    status: ProductStatus | None = None


@dataclass(frozen=True, slots=True)
class VariantChanges:
    sku: str | None = None
    title: str | None = None
    options: list[tuple[str, str]] | None = None
    price_amount: int | None = None
    currency: str | None = None


# What each product field changes besides the product itself: every list's membership
# or order, or only what a search matches.
_LISTED = {"handle", "title", "tags", "status"}
_SEARCHED = {"title", "description"}


def _product_written(product_id: int, fields: set[str]) -> None:
    tags = [cache_tags.entity(NodeType.PRODUCT, product_id)]
    if fields & _LISTED:
        tags.append(cache_tags.listing(NodeType.PRODUCT))
    if fields & _SEARCHED:
        tags.append(cache_tags.listing(NodeType.PRODUCT, "search"))
    cache_tags.wrote(*tags)


def _variant_written(variant: Variant, *, priced: bool) -> None:
    """A variant shows in its product (variants, price range); its price orders lists."""
    cache_tags.wrote(
        cache_tags.entity(NodeType.VARIANT, variant.id),
        cache_tags.entity(NodeType.PRODUCT, variant.product_id),
    )
    if priced:
        cache_tags.wrote(cache_tags.listing(NodeType.PRODUCT))


def _tags(tags: list[str]) -> list[str]:
    if len(tags) > MAX_TAGS:
        raise DomainError(ErrorCode.INVALID, f"At most {MAX_TAGS} tags.", "tags")
    cleaned = [products.tag_key(validation.text(t, "tags", max_length=64)) for t in tags]
    return list(dict.fromkeys(cleaned))


def _images(images: list[str]) -> list[str]:
    if len(images) > MAX_IMAGES:
        raise DomainError(ErrorCode.INVALID, f"At most {MAX_IMAGES} images.", "images")
    return [validation.url(u, "images") for u in images]


def _options(options: list[tuple[str, str]]) -> list[dict[str, str]]:
    if len(options) > MAX_OPTIONS:
        raise DomainError(ErrorCode.INVALID, f"At most {MAX_OPTIONS} options.", "options")
    return [
        {
            "name": validation.text(name, "options", max_length=50),
            "value": validation.text(value, "options", max_length=100),
        }
        for name, value in options
    ]


def _price(amount: int, currency: str) -> tuple[int, str]:
    if not 0 <= amount <= MAX_PRICE:
        raise DomainError(
            ErrorCode.INVALID, "Prices are 0 or more, in minor units.", "price.amount"
        )
    code = currency.strip().upper()
    if not is_supported_currency(code):
        raise DomainError(
            ErrorCode.UNSUPPORTED_CURRENCY,
            f"{currency[:8]!r} is not a supported currency.",
            "price.currency",
        )
    return amount, code


async def _refresh_price_range(product_id: int) -> None:
    prices = await Variant.filter(product_id=product_id).values_list("price_amount", flat=True)
    amounts = [int(p) for p in prices]  # type: ignore[call-overload]
    await Product.filter(id=product_id).update(
        price_min=min(amounts, default=0), price_max=max(amounts, default=0)
    )


async def _replace_tags(product_id: int, tags: list[str]) -> None:
    await ProductTag.filter(product_id=product_id).delete()
    await ProductTag.bulk_create([ProductTag(product_id=product_id, tag=t) for t in tags])


async def create_product(
    merchant_id: int,
    handle: str,
    title: str,
    description: str = "",
    images: list[str] | None = None,
    tags: list[str] | None = None,
    status: ProductStatus = ProductStatus.DRAFT,
) -> Product:
    clean_handle = validation.handle(handle)
    clean_title = validation.text(title, "title", max_length=300)
    clean_description = validation.text(
        description, "description", min_length=0, max_length=20_000, multiline=True
    )
    clean_images = _images(images or [])
    clean_tags = _tags(tags or [])
    if await Product.exists(handle=clean_handle):
        raise DomainError(ErrorCode.HANDLE_TAKEN, "That handle is taken.", "handle")
    try:
        async with in_transaction():
            product = await Product.create(
                merchant_id=merchant_id,
                handle=clean_handle,
                title=clean_title,
                description=clean_description,
                images=clean_images,
                tags=clean_tags,
                status=status,
            )
            await _replace_tags(product.id, clean_tags)
    except IntegrityError:
        raise DomainError(ErrorCode.HANDLE_TAKEN, "That handle is taken.", "handle") from None
    _product_written(product.id, _LISTED | _SEARCHED)
    return product


async def update_product(product: Product, changes: ProductChanges) -> Product:
    if product.status == ProductStatus.ARCHIVED and changes.status != ProductStatus.ACTIVE:
        raise DomainError(ErrorCode.ARCHIVED, "Archived products change only by reactivation.")
    values: dict[str, object] = {}
    if changes.handle is not None:
        values["handle"] = validation.handle(changes.handle)
        if await Product.exists(handle=values["handle"], id__not=product.id):
            raise DomainError(ErrorCode.HANDLE_TAKEN, "That handle is taken.", "handle")
    if changes.title is not None:
        values["title"] = validation.text(changes.title, "title", max_length=300)
    if changes.description is not None:
        values["description"] = validation.text(
            changes.description, "description", min_length=0, max_length=20_000, multiline=True
        )
    if changes.images is not None:
        values["images"] = _images(changes.images)
    if changes.tags is not None:
        values["tags"] = _tags(changes.tags)
    if changes.status is not None:
        values["status"] = changes.status
    try:
        async with in_transaction():
            product.update_from_dict(values)
            await product.save()
            if changes.tags is not None:
                await _replace_tags(product.id, product.tags)
    except IntegrityError:
        raise DomainError(ErrorCode.HANDLE_TAKEN, "That handle is taken.", "handle") from None
    _product_written(product.id, set(values))
    return product


async def archive_product(product: Product) -> Product:
    if product.status == ProductStatus.ARCHIVED:
        raise DomainError(ErrorCode.ARCHIVED, "The product is already archived.", "id")
    product.status = ProductStatus.ARCHIVED
    await product.save(update_fields=["status", "updated_at"])
    _product_written(product.id, {"status"})
    return product


async def create_variant(
    product: Product,
    sku: str,
    title: str,
    price_amount: int,
    currency: str,
    options: list[tuple[str, str]] | None = None,
    stock_on_hand: int = 0,
) -> Variant:
    clean_sku = validation.text(sku, "sku", max_length=64)
    clean_title = validation.text(title, "title", max_length=200)
    amount, code = _price(price_amount, currency)
    clean_options = _options(options or [])
    if not 0 <= stock_on_hand <= MAX_STOCK:
        raise DomainError(ErrorCode.INVALID, "Stock is 0 or more.", "stockOnHand")
    if await Variant.exists(sku=clean_sku):
        raise DomainError(ErrorCode.SKU_TAKEN, "That SKU is taken.", "sku")
    position = await Variant.filter(product_id=product.id).count()
    try:
        async with in_transaction():
            variant = await Variant.create(
                product=product,
                sku=clean_sku,
                title=clean_title,
                options=clean_options,
                price_amount=amount,
                currency=code,
                stock_on_hand=stock_on_hand,
                position=position,
            )
            await _refresh_price_range(product.id)
    except IntegrityError:
        raise DomainError(ErrorCode.SKU_TAKEN, "That SKU is taken.", "sku") from None
    _variant_written(variant, priced=True)
    return variant


async def update_variant(variant: Variant, changes: VariantChanges) -> Variant:
    values: dict[str, object] = {}
    if changes.sku is not None:
        values["sku"] = validation.text(changes.sku, "sku", max_length=64)
        if await Variant.exists(sku=values["sku"], id__not=variant.id):
            raise DomainError(ErrorCode.SKU_TAKEN, "That SKU is taken.", "sku")
    if changes.title is not None:
        values["title"] = validation.text(changes.title, "title", max_length=200)
    if changes.options is not None:
        values["options"] = _options(changes.options)
    if changes.price_amount is not None or changes.currency is not None:
        amount, code = _price(
            variant.price_amount if changes.price_amount is None else changes.price_amount,
            variant.currency if changes.currency is None else changes.currency,
        )
        values["price_amount"], values["currency"] = amount, code
    try:
        async with in_transaction():
            variant.update_from_dict(values)
            await variant.save()
            await _refresh_price_range(variant.product_id)
    except IntegrityError:
        raise DomainError(ErrorCode.SKU_TAKEN, "That SKU is taken.", "sku") from None
    _variant_written(variant, priced="price_amount" in values)
    return variant


async def adjust_stock(variant_id: int, delta: int) -> Variant:
    """Add or remove stock on hand; never below what is reserved nor above MAX_STOCK
    (repeated additions would otherwise overflow the column). Safe under concurrency."""
    if delta == 0 or abs(delta) > MAX_STOCK:
        raise DomainError(
            ErrorCode.INVALID, f"Change stock by 1 to {MAX_STOCK} either way.", "delta"
        )
    query = Variant.filter(id=variant_id)
    if delta < 0:
        query = query.filter(stock_on_hand__gte=F("stock_reserved") - delta)
    else:
        query = query.filter(stock_on_hand__lte=MAX_STOCK - delta)
    changed = await query.update(stock_on_hand=F("stock_on_hand") + delta)
    if changed != 1 and delta > 0:
        raise DomainError(ErrorCode.INVALID, f"Stock on hand may be at most {MAX_STOCK}.", "delta")
    if changed != 1:
        raise DomainError(
            ErrorCode.INSUFFICIENT_STOCK,
            "Stock on hand cannot fall below the stock reserved for orders.",
            "delta",
        )
    variant = await Variant.get(id=variant_id)
    _variant_written(variant, priced=False)
    return variant

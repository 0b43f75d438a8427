"""Catalog reads: public product lists, lookups by id and handle, batch loads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypedDict, cast

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from pintuan.accounts.models import Merchant
from pintuan.catalog.models import Product, ProductStatus, ProductTag, Variant
from pintuan.core import batch
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.core.pagination import (
    SortKey,
    parse_datetime,
    parse_int,
    parse_str,
)
from pintuan.core.validation import find

MAX_SEARCH_LENGTH = 200
MAX_TAG_LENGTH = 64


def tag_key(tag: str) -> str:
    """Tags are kept and matched in lower case, so that "Tea" finds "tea" on every backend
    (the comparison happens here, not in the database's collation)."""
    return tag.lower()


class ProductSort(StrEnum):
    NEWEST = "NEWEST"
    PRICE_ASC = "PRICE_ASC"
    PRICE_DESC = "PRICE_DESC"
    TITLE = "TITLE"


SORT_KEYS: dict[ProductSort, SortKey] = {
    ProductSort.NEWEST: SortKey(("created_at", "id"), True, (parse_datetime, parse_int)),
    ProductSort.PRICE_ASC: SortKey(("price_min", "id"), False, (parse_int, parse_int)),
    ProductSort.PRICE_DESC: SortKey(("price_min", "id"), True, (parse_int, parse_int)),
    ProductSort.TITLE: SortKey(("title", "id"), False, (parse_str, parse_int)),
}


@dataclass(frozen=True, slots=True)
class ProductFilter:
    merchant_id: int | None = None
    tag: str | None = None
    search: str | None = None
    price_min: int | None = None
    price_max: int | None = None

    def validate(self) -> None:
        if self.search is not None and len(self.search) > MAX_SEARCH_LENGTH:
            raise DomainError(
                ErrorCode.INVALID_FILTER,
                f"Search text may be at most {MAX_SEARCH_LENGTH} characters.",
                "filter.search",
            )
        if self.tag is not None and not 0 < len(self.tag) <= MAX_TAG_LENGTH:
            raise DomainError(
                ErrorCode.INVALID_FILTER,
                f"A tag has 1 to {MAX_TAG_LENGTH} characters.",
                "filter.tag",
            )
        for name, value in (("priceMin", self.price_min), ("priceMax", self.price_max)):
            if value is not None and value < 0:
                raise DomainError(
                    ErrorCode.INVALID_FILTER, "Prices are never negative.", f"filter.{name}"
                )
        if (
            self.price_min is not None
            and self.price_max is not None
            and self.price_min > self.price_max
        ):
            raise DomainError(
                ErrorCode.INVALID_FILTER, "priceMin must not exceed priceMax.", "filter.priceMin"
            )


def public_products(flt: ProductFilter) -> QuerySet[Product]:
    """ACTIVE products matching the filter; the only products anonymous callers see."""
    flt.validate()
    query = Product.filter(status=ProductStatus.ACTIVE)
    if flt.merchant_id is not None:
        query = query.filter(merchant_id=flt.merchant_id)
    if flt.tag is not None:
        tagged = ProductTag.filter(tag=tag_key(flt.tag)).values("product_id")
        query = query.filter(id__in=Subquery(tagged))
    if flt.search:
        query = query.filter(Q(title__icontains=flt.search) | Q(description__icontains=flt.search))
    if flt.price_min is not None or flt.price_max is not None:
        priced = Variant.all()
        if flt.price_min is not None:
            priced = priced.filter(price_amount__gte=flt.price_min)
        if flt.price_max is not None:
            priced = priced.filter(price_amount__lte=flt.price_max)
        query = query.filter(id__in=Subquery(priced.values("product_id")))
    return query


async def product_by_handle(handle: str) -> Product | None:
    """Whatever its status: who may see it is the caller's to decide."""
    return await find(Product, handle=handle)


async def merchant_by_handle(handle: str) -> Merchant | None:
    return await find(Merchant, handle=handle)


async def public_products_by_ids(ids: Sequence[int]) -> list[Product | None]:
    return await batch.by_ids(Product.filter(status=ProductStatus.ACTIVE), ids)


class ProductView(TypedDict):
    """The columns of a product that catalog reads show (and ``price_min``, a sort key),
    read as values: a model costs several times as much, parsing a timestamp the
    catalog never shows."""

    id: int
    merchant_id: int
    handle: str
    title: str
    description: str
    images: list[str]
    tags: list[str]
    status: ProductStatus
    price_min: int
    created_at: datetime


PRODUCT_VIEW = tuple(ProductView.__annotations__)


class VariantView(TypedDict):
    """The columns of a variant that catalog reads show. Read as values, a variant costs
    a fraction of a model, which also parses two timestamps nobody reads here."""

    id: int
    product_id: int
    sku: str
    title: str
    options: list[dict[str, str]]
    price_amount: int
    currency: str
    stock_on_hand: int
    stock_reserved: int


VARIANT_VIEW = tuple(VariantView.__annotations__)


async def variants_of_products(product_ids: Sequence[int]) -> list[list[VariantView]]:
    grouped: dict[int, list[VariantView]] = {pk: [] for pk in product_ids}
    rows = await batch.rows_in(
        Variant._meta.db_table,
        "product_id",
        sorted(set(product_ids)),
        VARIANT_VIEW,
        order_by=("position", "id"),
        json_columns=("options",),
    )
    for row in rows:
        grouped[row["product_id"]].append(cast(VariantView, row))
    return [grouped[pk] for pk in product_ids]


def product_view(product: Product) -> ProductView:
    """A product model as the same view, for the reads and writes that hold models."""
    return cast(ProductView, {name: getattr(product, name) for name in PRODUCT_VIEW})


def variant_view(variant: Variant) -> VariantView:
    """A variant model as the same view, for the reads and writes that hold models."""
    return cast(VariantView, {name: getattr(variant, name) for name in VARIANT_VIEW})

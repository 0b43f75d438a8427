"""The catalog: the products merchants sell and the variants shoppers buy."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from pintuan.accounts.models import Merchant


class ProductStatus(StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"


# Model docstrings would become SQL table comments, which the SQLite schema
# editor does not escape; explanations live in comments instead.


class Product(Model):
    # price_min / price_max mirror the variants so lists sort and filter by price.

    id = fields.IntField(primary_key=True)
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "pintuan.Merchant", related_name="products", on_delete=fields.RESTRICT
    )
    merchant_id: int
    handle = fields.CharField(max_length=120, unique=True)
    title = fields.CharField(max_length=300)
    description = fields.TextField(default="")
    images: list[str] = fields.JSONField(default=list)
    tags: list[str] = fields.JSONField(default=list)
    status = fields.CharEnumField(ProductStatus, max_length=16, default=ProductStatus.DRAFT)
    price_min = fields.IntField(default=0)
    price_max = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "product"
        indexes = (
            ("status", "created_at", "id"),
            ("status", "price_min", "id"),
            ("status", "title", "id"),
            ("merchant_id", "status", "created_at"),
        )


class ProductTag(Model):
    # One row per (product, tag), so tag filters use an index on both backends.

    id = fields.IntField(primary_key=True)
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "pintuan.Product", related_name="tag_rows", on_delete=fields.CASCADE
    )
    product_id: int
    tag = fields.CharField(max_length=64, db_index=True)

    class Meta:
        table = "product_tag"
        unique_together = (("product", "tag"),)


class Variant(Model):
    id = fields.IntField(primary_key=True)
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "pintuan.Product", related_name="variants", on_delete=fields.CASCADE
    )
    product_id: int
    sku = fields.CharField(max_length=64, unique=True)
    title = fields.CharField(max_length=200)
    options: list[dict[str, str]] = fields.JSONField(default=list)
    price_amount = fields.IntField()
    currency = fields.CharField(max_length=3)
    stock_on_hand = fields.IntField(default=0)
    stock_reserved = fields.IntField(default=0)
    position = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "variant"
        indexes = (("product_id", "position"), ("price_amount",))

    @property
    def available(self) -> int:
        return self.stock_on_hand - self.stock_reserved

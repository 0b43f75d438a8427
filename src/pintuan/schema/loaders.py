"""Per-request DataLoaders: every relation a type exposes is batched here."""

from __future__ import annotations

from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader

from pintuan.models.accounts import User
from pintuan.models.catalog import Merchant, Product, Variant
from pintuan.resolvers import accounts, catalog


@dataclass
class Loaders:
    merchant: DataLoader[int, Merchant | None] = field(
        default_factory=lambda: DataLoader(catalog.merchants_by_ids)
    )
    product: DataLoader[int, Product | None] = field(
        default_factory=lambda: DataLoader(catalog.products_by_ids)
    )
    public_product: DataLoader[int, Product | None] = field(
        default_factory=lambda: DataLoader(catalog.public_products_by_ids)
    )
    variant: DataLoader[int, Variant | None] = field(
        default_factory=lambda: DataLoader(catalog.variants_by_ids)
    )
    variants_by_product: DataLoader[int, list[Variant]] = field(
        default_factory=lambda: DataLoader(catalog.variants_by_product_ids)
    )
    user: DataLoader[int, User | None] = field(
        default_factory=lambda: DataLoader(accounts.users_by_ids)
    )
    staff_of_user: DataLoader[int, frozenset[int]] = field(
        default_factory=lambda: DataLoader(accounts.staff_merchant_ids_by_users)
    )

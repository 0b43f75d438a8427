"""The catalog's DataLoaders: products (all, or public only) and variants."""

from __future__ import annotations

from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader

from pintuan.catalog import products
from pintuan.catalog.models import Product, Variant
from pintuan.graphql.context import Info
from pintuan.graphql.loaders import rows


@dataclass
class CatalogLoaders:
    product: DataLoader[int, Product | None] = field(default_factory=lambda: rows(Product))
    public_product: DataLoader[int, Product | None] = field(
        default_factory=lambda: DataLoader(products.public_products_by_ids)
    )
    variant: DataLoader[int, Variant | None] = field(default_factory=lambda: rows(Variant))
    variants_by_product: DataLoader[int, list[products.VariantView]] = field(
        default_factory=lambda: DataLoader(products.variants_of_products)
    )


def catalog_loaders(info: Info) -> CatalogLoaders:
    return info.context.loaders.of(CatalogLoaders)

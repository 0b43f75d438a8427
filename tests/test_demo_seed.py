"""The demo seed builds a believable catalog and is safe to run twice."""

from __future__ import annotations

from starlette.applications import Starlette

from pintuan.demo import MERCHANTS, seed_demo
from pintuan.models.catalog import Merchant, Product, ProductStatus, ProductTag, Variant


async def test_seed_twice_creates_the_catalog_once(app: Starlette) -> None:
    await seed_demo()
    counts = (
        await Merchant.all().count(),
        await Product.all().count(),
        await Variant.all().count(),
        await ProductTag.all().count(),
    )
    await seed_demo()

    assert counts[0] == len(MERCHANTS)
    assert counts[1] == 200
    assert counts[2] >= 200
    assert counts == (
        await Merchant.all().count(),
        await Product.all().count(),
        await Variant.all().count(),
        await ProductTag.all().count(),
    )
    assert await Product.filter(status=ProductStatus.ACTIVE).count() > 150
    assert await Product.filter(title__contains="茶").exists()
    assert await Product.filter(title__contains="Tea").exists()


async def test_seeded_price_columns_match_variants(app: Starlette) -> None:
    await seed_demo()
    for product in await Product.all().prefetch_related("variants"):
        prices = [v.price_amount for v in product.variants]
        assert (product.price_min, product.price_max) == (min(prices), max(prices))

"""The demo seed builds a believable store and is safe to run twice."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
from starlette.applications import Starlette

from pintuan.accounts.models import Merchant, User
from pintuan.catalog.models import Product, ProductStatus, ProductTag, Variant
from pintuan.demo import MERCHANTS, seed_demo
from pintuan.groupbuys.models import Group, GroupBuy, GroupStatus
from pintuan.groupbuys.order_models import Order, OrderStatus, PaymentTransaction
from tests.conftest import GraphQLClient


async def counts() -> tuple[int, ...]:
    models = (
        Merchant,
        Product,
        Variant,
        ProductTag,
        User,
        GroupBuy,
        Group,
        Order,
        PaymentTransaction,
    )
    return tuple([await model.all().count() for model in models])


async def test_seed_twice_creates_the_store_once(app: Starlette) -> None:
    await seed_demo(app.state.runtime)
    first = await counts()
    await seed_demo(app.state.runtime)

    assert await counts() == first
    assert first[0] == len(MERCHANTS)
    assert first[1] == 200
    assert await Product.filter(status=ProductStatus.ACTIVE).count() > 150
    assert await Product.filter(title__contains="茶").exists()
    assert await Product.filter(title__contains="Tea").exists()
    assert await User.filter(is_admin=True).count() == 1


async def test_seeding_purges_the_cached_lists_the_new_products_belong_in(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    listing = {"query": "{ products(first: 5) { edges { node { title } } } }"}
    for verdict in ("MISS", "HIT"):
        response = await http.post("/graphql", json=listing)
        assert response.headers["x-cache"] == verdict
    assert response.json()["data"]["products"]["edges"] == []

    await seed_demo(app.state.runtime)
    response = await http.post("/graphql", json=listing)

    assert response.headers["x-cache"] == "MISS"
    assert len(response.json()["data"]["products"]["edges"]) == 5


async def test_the_demo_has_groups_at_every_stage(app: Starlette) -> None:
    await seed_demo(app.state.runtime)

    statuses: list[Any] = await Group.all().values_list("status", flat=True)
    assert statuses.count(GroupStatus.OPEN) >= 4
    assert GroupStatus.FILLED in statuses
    assert GroupStatus.FAILED in statuses
    one_short = [
        g for g in await Group.filter(status=GroupStatus.OPEN) if g.size - g.slots_taken == 1
    ]
    assert one_short
    assert await Order.filter(status=OrderStatus.COMPLETED).exists()


async def test_the_first_offers_listed_have_groups(app: Starlette, gql: GraphQLClient) -> None:
    await seed_demo(app.state.runtime)

    body = await gql(
        "{ groupBuys(first: 5) { edges { node { filledGroupsCount "
        "openGroups(first: 1) { totalCount } } } } }"
    )

    offers = [edge["node"] for edge in body["data"]["groupBuys"]["edges"]]
    assert len(offers) == 5
    assert all(o["openGroups"]["totalCount"] + o["filledGroupsCount"] > 0 for o in offers)


async def test_seeded_price_columns_match_variants(app: Starlette) -> None:
    await seed_demo(app.state.runtime)
    prices: dict[int, list[int]] = defaultdict(list)
    for variant in await Variant.all():
        prices[variant.product_id].append(variant.price_amount)
    for product in await Product.all():
        assert (product.price_min, product.price_max) == (
            min(prices[product.id]),
            max(prices[product.id]),
        )

"""Who may see which group-buy rows: offers follow their product's visibility, groups
their offer's, and an order is its buyer's and its merchant's.

The rules answer with rows, not GraphQL types, so the node lookups, the queries and
the subscriptions share them without importing each other.
"""

from __future__ import annotations

from pintuan.catalog.graphql.loaders import catalog_loaders
from pintuan.graphql.context import Info
from pintuan.groupbuys import models, order_models
from pintuan.groupbuys.graphql.loaders import groupbuy_loaders


def can_read_order(info: Info, order: order_models.Order) -> bool:
    viewer = info.context.viewer
    own = viewer.user is not None and viewer.user.id == order.buyer_id
    return own or viewer.can_manage(order.merchant_id)


async def visible_offer(info: Info, pk: int) -> models.GroupBuy | None:
    """The offer, unless its product is not on sale and the viewer does not manage it.

    Offers of draft and archived products stay out of sight like the products.
    """
    offer = await groupbuy_loaders(info).group_buy.load(pk)
    if offer is None:
        return None
    if await catalog_loaders(info).public_product.load(offer.product_id) is not None:
        return offer
    return offer if info.context.viewer.can_manage(offer.merchant_id) else None


async def visible_group(info: Info, group: models.Group | None) -> models.Group | None:
    """The group, if the viewer may see its offer."""
    if group is None or await visible_offer(info, group.group_buy_id) is None:
        return None
    return group

"""Group-buy lists as Relay connections, newest first or by the open-group order:
for the root fields here and, through ``provided``, for ``Product.groupBuys``,
``User.orders`` and ``User.groups``.
"""

from __future__ import annotations

from pintuan.core import cache_tags
from pintuan.core.ids import NodeType
from pintuan.graphql import provided
from pintuan.graphql.context import Info
from pintuan.graphql.pagination import Connection, paginate
from pintuan.groupbuys import lookups
from pintuan.groupbuys.graphql.types import Group, GroupBuy, Order
from pintuan.groupbuys.models import GroupBuyStatus, GroupStatus
from pintuan.groupbuys.order_models import OrderStatus


@provided.provide("Product.groupBuys")
async def offer_connection(
    info: Info,
    product_id: int | None,
    status: GroupBuyStatus | None,
    first: int | None,
    after: str | None,
) -> Connection[GroupBuy]:
    cache_tags.read(cache_tags.listing(NodeType.GROUP_BUY))
    return await paginate(
        info,
        lookups.offers(product_id, status),
        lookups.NEWEST_FIRST,
        "OFFERS",
        GroupBuy.of,
        first,
        after,
    )


@provided.provide("User.orders")
async def user_orders(
    info: Info, user_id: int, first: int | None, after: str | None
) -> Connection[Order]:
    query = lookups.orders_of_user(user_id)
    return await paginate(info, query, lookups.NEWEST_FIRST, "ORDERS", Order.of, first, after)


async def merchant_orders(
    info: Info,
    merchant_id: int,
    status: OrderStatus | None,
    ready_to_fulfil: bool | None,
    first: int | None,
    after: str | None,
) -> Connection[Order]:
    query = lookups.orders_of_merchant(merchant_id, status, ready_to_fulfil)
    return await paginate(
        info, query, lookups.NEWEST_FIRST, "MERCHANT_ORDERS", Order.of, first, after
    )


@provided.provide("User.groups")
async def user_groups(
    info: Info, user_id: int, status: GroupStatus | None, first: int | None, after: str | None
) -> Connection[Group]:
    query = lookups.groups_of_user(user_id, status)
    return await paginate(info, query, lookups.NEWEST_FIRST, "GROUPS", Group.of, first, after)

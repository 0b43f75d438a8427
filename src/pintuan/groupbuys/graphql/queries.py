"""Group buys' root fields and node lookups: an offer, offers, a group, a merchant's orders.

Each answers only what ``visibility`` lets the viewer see; lists come from ``connections``.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from pintuan.graphql.arguments import exactly_one
from pintuan.graphql.context import Info
from pintuan.graphql.ids import NodeType, decode_id
from pintuan.graphql.node import register_node
from pintuan.graphql.pagination import Connection
from pintuan.graphql.permissions import MerchantActor, allow, require_merchant
from pintuan.groupbuys import lookups
from pintuan.groupbuys.graphql.connections import merchant_orders, offer_connection
from pintuan.groupbuys.graphql.loaders import groupbuy_loaders
from pintuan.groupbuys.graphql.types import Group, GroupBuy, Order
from pintuan.groupbuys.graphql.visibility import can_read_order, visible_group, visible_offer
from pintuan.groupbuys.models import GroupBuyStatus
from pintuan.groupbuys.order_models import OrderStatus


async def _group_buy_node(info: Info, pk: int) -> GroupBuy | None:
    offer = await visible_offer(info, pk)
    return GroupBuy.of(offer) if offer else None


async def _group_node(info: Info, pk: int) -> Group | None:
    group = await visible_group(info, await groupbuy_loaders(info).group.load(pk))
    return Group.of(group) if group else None


async def _order_node(info: Info, pk: int) -> Order | None:
    order = await groupbuy_loaders(info).order.load(pk)
    return Order.of(order) if order and can_read_order(info, order) else None


register_node(NodeType.GROUP_BUY, _group_buy_node)
register_node(NodeType.GROUP, _group_node)
register_node(NodeType.ORDER, _order_node)


@strawberry.type
class GroupBuyQuery:
    @strawberry.field(
        description=(
            "An offer by ID. Offers (and groups) of products not on sale are seen "
            "only by the merchant's staff and admins."
        )
    )
    async def group_buy(self, info: Info, id: strawberry.ID) -> GroupBuy | None:
        return await _group_buy_node(info, decode_id(id, NodeType.GROUP_BUY))

    @strawberry.field(description="Offers on active products, newest first.")
    async def group_buys(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        product_id: strawberry.ID | None = None,
        status: GroupBuyStatus | None = None,
    ) -> Connection[GroupBuy]:
        return await offer_connection(
            info,
            decode_id(product_id, NodeType.PRODUCT, "productId") if product_id else None,
            status,
            first,
            after,
        )

    @strawberry.field(description="A group by ID or by its share code (give exactly one).")
    async def group(
        self, info: Info, id: strawberry.ID | None = None, share_code: str | None = None
    ) -> Group | None:
        return await find_group(info, id, share_code)

    @strawberry.field(
        extensions=allow(MerchantActor()),
        description="A merchant's orders, newest first. A group order is ready to fulfil "
        "once its group is FILLED; until then it may still be refunded. orderComplete "
        "records the delivery.",
    )
    async def merchant_orders(
        self,
        info: Info,
        merchant_id: strawberry.ID,
        status: OrderStatus | None = None,
        ready_to_fulfil: Annotated[
            bool | None,
            strawberry.argument(
                description="true: only the orders to ship now (see Order.readyToFulfil); "
                "false: only the others."
            ),
        ] = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Order]:
        pk = decode_id(merchant_id, NodeType.MERCHANT, "merchantId")
        require_merchant(info, pk)
        return await merchant_orders(info, pk, status, ready_to_fulfil, first, after)


async def find_group(info: Info, id: strawberry.ID | None, share_code: str | None) -> Group | None:
    exactly_one(info, {"id": id, "shareCode": share_code})
    if id is not None:
        return await _group_node(info, decode_id(id, NodeType.GROUP))
    group = await visible_group(info, await lookups.group_by_share_code(share_code or ""))
    return Group.of(group) if group else None

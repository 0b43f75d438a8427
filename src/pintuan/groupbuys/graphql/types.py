"""Group buys' GraphQL types: offers, groups, members and orders.

Who may see them is ``visibility``'s rule, their lists are built in ``connections``
and the root fields are in ``queries``.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from pintuan.accounts.graphql.loaders import account_loaders
from pintuan.accounts.graphql.users import User
from pintuan.catalog.graphql.loaders import catalog_loaders
from pintuan.catalog.graphql.types import Merchant, Product, Variant
from pintuan.core import cache_tags
from pintuan.core.clock import now_utc
from pintuan.graphql.cache_hints import Hint, cache_hint
from pintuan.graphql.context import Info
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.graphql.loaders import required
from pintuan.graphql.money import Money
from pintuan.graphql.node import Node
from pintuan.graphql.pagination import Connection, paginate
from pintuan.groupbuys import fulfilment, lookups, models, order_models
from pintuan.groupbuys.graphql.loaders import groupbuy_loaders
from pintuan.groupbuys.models import GroupBuyStatus, GroupStatus
from pintuan.groupbuys.order_models import OrderKind, OrderStatus

strawberry.enum(GroupBuyStatus, description="Follows the clock between startsAt and endsAt.")
strawberry.enum(GroupStatus)
strawberry.enum(OrderKind)
strawberry.enum(OrderStatus)


def seconds_left(expires_at: datetime, now: datetime) -> int:
    return max(0, int((expires_at - now).total_seconds()))


async def _user(info: Info, pk: int) -> User:
    user = await required(account_loaders(info).user, pk, "user")
    return User.of(user)


@cache_hint(max_age=60)
@strawberry.type(description="An offer a merchant runs on one variant: two prices, one timer.")
class GroupBuy(Node):
    solo_price: Money
    group_price: Money
    group_size: int
    duration_seconds: int
    starts_at: datetime
    ends_at: datetime
    per_user_limit: int
    stock_limit: int
    status: GroupBuyStatus
    unclaimed: strawberry.Private[int]
    pk: strawberry.Private[int]
    product_pk: strawberry.Private[int]
    variant_pk: strawberry.Private[int]
    merchant_pk: strawberry.Private[int]

    @classmethod
    def of(cls, o: models.GroupBuy) -> GroupBuy:
        cache_tags.read(cache_tags.entity(NodeType.GROUP_BUY, o.id))
        now = now_utc()
        status = o.status_at(now)
        if status is GroupBuyStatus.SCHEDULED:
            cache_tags.changes_at(o.starts_at)
        elif status is GroupBuyStatus.ACTIVE:
            cache_tags.changes_at(o.ends_at)
        return cls(
            id=strawberry.ID(to_global_id(NodeType.GROUP_BUY, o.id)),
            solo_price=Money.of(o.solo_price, o.currency),
            group_price=Money.of(o.group_price, o.currency),
            group_size=o.group_size,
            duration_seconds=o.duration_seconds,
            starts_at=o.starts_at,
            ends_at=o.ends_at,
            per_user_limit=o.per_user_limit,
            stock_limit=o.stock_limit,
            unclaimed=o.stock_remaining,
            status=status,
            pk=o.id,
            product_pk=o.product_id,
            variant_pk=o.variant_id,
            merchant_pk=o.merchant_id,
        )

    @strawberry.field(
        description=(
            "Units still to be had: what is left of stockLimit, or the variant's available "
            "stock when that is lower (solo orders and other offers draw on it too)."
        )
    )
    async def stock_remaining(self, info: Info) -> int:
        cache_tags.read(cache_tags.entity(NodeType.VARIANT, self.variant_pk))
        variant = await required(catalog_loaders(info).variant, self.variant_pk, "variant")
        return max(0, min(self.unclaimed, variant.available))

    @strawberry.field
    async def product(self, info: Info) -> Product:
        product = await required(catalog_loaders(info).product, self.product_pk, "product")
        return Product.of(product)

    @strawberry.field
    async def variant(self, info: Info) -> Variant:
        variant = await required(catalog_loaders(info).variant, self.variant_pk, "variant")
        return Variant.of(variant)

    @strawberry.field
    async def merchant(self, info: Info) -> Merchant:
        merchant = await required(account_loaders(info).merchant, self.merchant_pk, "merchant")
        return Merchant.of_view(merchant)

    @strawberry.field(
        description="Groups one can join: fewest slots left first, then soonest to end."
    )
    async def open_groups(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Group]:
        cache_tags.read(cache_tags.listing(NodeType.GROUP))
        return await paginate(
            info,
            lookups.joinable_groups(self.pk),
            lookups.OPEN_GROUP_ORDER,
            "OPEN",
            Group.of,
            first,
            after,
        )

    @strawberry.field
    async def filled_groups_count(self, info: Info) -> int:
        return await groupbuy_loaders(info).filled_groups.load(self.pk)


@cache_hint(inherit=True)
@strawberry.type
class GroupMember:
    joined_at: datetime
    is_leader: bool
    paid: bool
    user_pk: strawberry.Private[int]

    @strawberry.field
    async def user(self, info: Info) -> User:
        return await _user(info, self.user_pk)


# Every write to a group purges it (joins, payments, expiry, cancellation); only the
# countdown moves by the clock: clients that cache longer count down from expiresAt.
@cache_hint(max_age=60, fields={"seconds_left": Hint(max_age=1)})
@strawberry.type(description="One group forming under an offer; share its code to fill it.")
class Group(Node):
    size: int
    member_count: int
    slots_left: int
    status: GroupStatus
    share_code: str
    opened_at: datetime
    expires_at: datetime
    seconds_left: int
    filled_at: datetime | None
    pk: strawberry.Private[int]
    group_buy_pk: strawberry.Private[int]
    leader_pk: strawberry.Private[int]

    @classmethod
    def of(cls, g: models.Group) -> Group:
        cache_tags.read(cache_tags.entity(NodeType.GROUP, g.id))
        return cls(
            id=strawberry.ID(to_global_id(NodeType.GROUP, g.id)),
            size=g.size,
            member_count=g.slots_taken,
            slots_left=g.size - g.slots_taken,
            status=g.status,
            share_code=g.share_code,
            opened_at=g.opened_at,
            expires_at=g.expires_at,
            seconds_left=seconds_left(g.expires_at, now_utc())
            if g.status == GroupStatus.OPEN
            else 0,
            filled_at=g.filled_at,
            pk=g.id,
            group_buy_pk=g.group_buy_id,
            leader_pk=g.leader_id,
        )

    @strawberry.field
    async def group_buy(self, info: Info) -> GroupBuy:
        offer = await required(groupbuy_loaders(info).group_buy, self.group_buy_pk, "group buy")
        return GroupBuy.of(offer)

    @strawberry.field
    async def leader(self, info: Info) -> User:
        return await _user(info, self.leader_pk)

    @strawberry.field
    async def members(self, info: Info) -> list[GroupMember]:
        rows = await groupbuy_loaders(info).members.load(self.pk)
        return [
            GroupMember(
                joined_at=m.joined_at, is_leader=m.is_leader, paid=m.paid, user_pk=m.user_id
            )
            for m in rows
        ]


@strawberry.type(description="Readable by its buyer, the merchant's staff and admins.")
class Order(Node):
    kind: OrderKind
    quantity: int
    unit_price: Money
    total: Money
    status: OrderStatus
    created_at: datetime
    paid_at: datetime | None
    refunded_at: datetime | None
    completed_at: datetime | None
    buyer_pk: strawberry.Private[int]
    group_pk: strawberry.Private[int | None]
    variant_pk: strawberry.Private[int]

    @classmethod
    def of(cls, o: order_models.Order) -> Order:
        return cls(
            id=strawberry.ID(to_global_id(NodeType.ORDER, o.id)),
            kind=o.kind,
            quantity=o.quantity,
            unit_price=Money.of(o.unit_price, o.currency),
            total=Money.of(o.total, o.currency),
            status=o.status,
            created_at=o.created_at,
            paid_at=o.paid_at,
            refunded_at=o.refunded_at,
            completed_at=o.completed_at,
            buyer_pk=o.buyer_id,
            group_pk=o.group_id,
            variant_pk=o.variant_id,
        )

    @strawberry.field
    async def buyer(self, info: Info) -> User:
        return await _user(info, self.buyer_pk)

    @strawberry.field
    async def group(self, info: Info) -> Group | None:
        if self.group_pk is None:
            return None
        group = await groupbuy_loaders(info).group.load(self.group_pk)
        return Group.of(group) if group else None

    @strawberry.field(
        description="Paid, and no failure can refund it any more: bought alone, or its "
        "group is FILLED. The merchant may ship it, then call orderComplete."
    )
    async def ready_to_fulfil(self, info: Info) -> bool:
        group_status = None
        if self.group_pk is not None:
            group = await required(groupbuy_loaders(info).group, self.group_pk, "group")
            group_status = group.status
        return fulfilment.is_ready_to_fulfil(self.status, group_status)

    @strawberry.field
    async def variant(self, info: Info) -> Variant:
        variant = await required(catalog_loaders(info).variant, self.variant_pk, "variant")
        return Variant.of(variant)

"""Group buys: the reads behind offers, groups and orders."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import cast

from tortoise.expressions import F
from tortoise.queryset import QuerySet

from pintuan.catalog.models import ProductStatus
from pintuan.core import batch
from pintuan.core.clock import now_utc
from pintuan.core.pagination import SortKey, parse_datetime, parse_int
from pintuan.core.validation import find
from pintuan.groupbuys import fulfilment
from pintuan.groupbuys.models import Group, GroupBuy, GroupBuyStatus, GroupMember, GroupStatus
from pintuan.groupbuys.order_models import Order, OrderStatus

NEWEST_FIRST = SortKey(("id",), True, (parse_int,))
# "1 more person needed" first: fewest free slots, then soonest to expire.
OPEN_GROUP_ORDER = SortKey(
    ("free_slots", "expires_at", "id"), False, (parse_int, parse_datetime, parse_int)
)


def offers(product_id: int | None, status: GroupBuyStatus | None) -> QuerySet[GroupBuy]:
    query = GroupBuy.filter(product__status=ProductStatus.ACTIVE)
    if product_id is not None:
        query = query.filter(product_id=product_id)
    now = now_utc()
    if status == GroupBuyStatus.CANCELLED:
        query = query.filter(cancelled_at__isnull=False)
    elif status is not None:
        query = query.filter(cancelled_at=None)
        if status == GroupBuyStatus.SCHEDULED:
            query = query.filter(starts_at__gt=now)
        elif status == GroupBuyStatus.ACTIVE:
            query = query.filter(starts_at__lte=now, ends_at__gt=now)
        else:
            query = query.filter(ends_at__lte=now)
    return query


def joinable_groups(offer_id: int) -> QuerySet[Group]:
    return (
        Group.filter(group_buy_id=offer_id, status=GroupStatus.OPEN, expires_at__gt=now_utc())
        .annotate(free_slots=F("size") - F("slots_taken"))
        .filter(free_slots__gt=0)
    )


def groups_of_user(user_id: int, status: GroupStatus | None) -> QuerySet[Group]:
    query = Group.filter(members__user_id=user_id)
    return query.filter(status=status) if status is not None else query


def orders_of_user(user_id: int) -> QuerySet[Order]:
    return Order.filter(buyer_id=user_id)


def orders_of_merchant(
    merchant_id: int, status: OrderStatus | None, ready_to_fulfil: bool | None = None
) -> QuerySet[Order]:
    query = Order.filter(merchant_id=merchant_id)
    if status is not None:
        query = query.filter(status=status)
    if ready_to_fulfil is None:
        return query
    ready = fulfilment.ready_to_fulfil()
    return query.filter(ready) if ready_to_fulfil else query.exclude(ready)


async def filled_count(offer_ids: Sequence[int]) -> list[int]:
    filled = Group.filter(group_buy_id__in=list(offer_ids), status=GroupStatus.FILLED)
    counts = Counter(cast(list[int], await filled.values_list("group_buy_id", flat=True)))
    return [counts[i] for i in offer_ids]


async def group_by_share_code(code: str) -> Group | None:
    return await find(Group, share_code=code.strip().upper())


async def members_of_groups(group_ids: Sequence[int]) -> list[list[GroupMember]]:
    members = GroupMember.all().order_by("joined_at", "id")
    return await batch.grouped_by(members, "group_id", group_ids)


async def group_row(group_id: int) -> Group | None:
    return await Group.get_or_none(id=group_id)

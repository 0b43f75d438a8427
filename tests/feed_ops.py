"""Rows for feed tests, written directly: the feed is what is under test, not posting."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pintuan.accounts.models import User
from pintuan.catalog.models import Product, Variant
from pintuan.communities.models import (
    Community,
    CommunityKind,
    Follow,
    Member,
    MemberState,
    Post,
    Visibility,
)
from pintuan.groupbuys.order_models import Order, OrderKind, OrderStatus
from tests import factories

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


async def community(
    handle: str, *, private: bool = False, kind: CommunityKind = CommunityKind.DEALS
) -> Community:
    owner = await factories.user()
    now = datetime.now(UTC)
    return await Community.create(
        handle=handle,
        name=handle.title(),
        owner=owner,
        kind=kind,
        visibility=Visibility.PRIVATE if private else Visibility.PUBLIC,
        created_at=now,
        updated_at=now,
    )


async def join(user: User, place: Community, **changes: Any) -> Member:
    now = datetime.now(UTC)
    values: dict[str, Any] = {"state": MemberState.ACTIVE} | changes
    return await Member.create(
        community=place, user=user, last_active_at=now, joined_at=now, updated_at=now, **values
    )


async def post(place: Community, author: User, text: str, minutes: float, **changes: Any) -> Post:
    return await Post.create(
        community=place,
        author=author,
        text=text,
        created_at=T0 + timedelta(minutes=minutes),
        **changes,
    )


async def follow(follower: User, followee: User) -> None:
    await Follow.create(follower=follower, followee=followee, created_at=datetime.now(UTC))


async def paid_order(buyer: User, variant: Variant) -> Order:
    """A paid solo order, for a post to show off."""
    product = await Product.get(id=variant.product_id)
    return await Order.create(
        buyer=buyer,
        merchant_id=product.merchant_id,
        kind=OrderKind.SOLO,
        variant=variant,
        quantity=1,
        unit_price=1000,
        currency="CNY",
        status=OrderStatus.PAID,
        idempotency_key=uuid.uuid4().hex,
        request_hash="0" * 64,
        paid_at=datetime.now(UTC),
    )

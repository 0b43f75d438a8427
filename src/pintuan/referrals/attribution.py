"""Share links, their visits, and which sharer an order is credited to.

Group buys store the share code a purchase arrived with on the order and emit the
payment; the decision is made here when that event is consumed, as of the
order's creation: the buyer's visits through share links within the window
before it, and the order's own code as a touch at that moment; the first (or,
by setting, the last) wins, never the buyer's own link. It is written once per
order and never revisited.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from pintuan.catalog.models import Product
from pintuan.core import codes, sql
from pintuan.core.clock import now_utc
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.groupbuys.models import Group, GroupBuy
from pintuan.groupbuys.order_models import Order, OrderStatus
from pintuan.referrals import tree
from pintuan.referrals.models import (
    AttributionRule,
    OrderAttribution,
    ShareLink,
    ShareTarget,
    ShareVisit,
)

TARGETS = {ShareTarget.PRODUCT: Product, ShareTarget.OFFER: GroupBuy, ShareTarget.GROUP: Group}
CODE_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Policy:
    rule: AttributionRule
    window: timedelta
    bind_unbound_buyers: bool  # FIRST_SHARE_IF_UNBOUND


async def create_link(sharer_id: int, target: ShareTarget, target_id: int) -> ShareLink:
    """The sharer's link to ``target``: made once, the same code every time after."""
    if not await TARGETS[target].exists(id=target_id):
        raise DomainError(ErrorCode.NOT_FOUND, f"No such {target.value.lower()}.", "target")
    for _ in range(CODE_ATTEMPTS):
        existing = await ShareLink.get_or_none(
            sharer_id=sharer_id, target=target, target_id=target_id
        )
        if existing is not None:
            return existing
        try:
            return await ShareLink.create(
                code=codes.new_code(),
                sharer_id=sharer_id,
                target=target,
                target_id=target_id,
                created_at=now_utc(),
            )
        except IntegrityError:
            continue  # the same link made at this moment, or a code clash: look again
    raise DomainError(ErrorCode.INVALID, "Could not make a share code; try again.", "target")


async def visit(raw_code: str, visitor_id: int | None) -> ShareLink:
    """Record that someone opened a link (signed in: who, so their orders may count)."""
    code = codes.parse(raw_code)
    link = await ShareLink.get_or_none(code=code) if code else None
    if link is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No such share link.", "code")
    async with in_transaction():
        await ShareVisit.create(link_id=link.id, visitor_id=visitor_id, visited_at=now_utc())
        await ShareLink.filter(id=link.id).update(visits=F("visits") + 1)
    return link


@dataclass(frozen=True, slots=True)
class _Touch:
    link: ShareLink
    at: datetime


async def _lock_order(order_id: int) -> Order | None:
    """The order, locked so its payment and its refund are attributed one at a time."""
    locking = " FOR UPDATE" if connections.get("default").capabilities.dialect == "postgres" else ""
    found = await sql.instances(
        Order, f'SELECT * FROM "customer_order" WHERE "id" = $1{locking}', order_id
    )
    return found[0] if found else None


async def _touches(order: Order, policy: Policy) -> list[_Touch]:
    visits = (
        ShareVisit.filter(
            visitor_id=order.buyer_id,
            visited_at__gte=order.created_at - policy.window,
            visited_at__lte=order.created_at,
        )
        .exclude(link__sharer_id=order.buyer_id)
        .select_related("link")
    )
    ordering = (
        ("visited_at", "id")
        if policy.rule == AttributionRule.FIRST_TOUCH
        else (
            "-visited_at",
            "-id",
        )
    )
    touches = [_Touch(v.link, v.visited_at) for v in await visits.order_by(*ordering).limit(1)]
    if order.ref is not None:
        link = await ShareLink.get_or_none(code=order.ref)
        if link is not None and link.sharer_id != order.buyer_id:
            touches.append(_Touch(link, order.created_at))
    return touches


async def attribute(order_id: int, policy: Policy) -> OrderAttribution | None:
    """Credit a paid order to its sharer, once; None if no share led to it."""
    async with in_transaction():
        order = await _lock_order(order_id)
        if order is None or await OrderAttribution.exists(order_id=order_id):
            return None
        touches = await _touches(order, policy)
        if not touches:
            return None
        pick = min if policy.rule == AttributionRule.FIRST_TOUCH else max
        touch = pick(touches, key=lambda t: t.at)
        refunded = order.status == OrderStatus.REFUNDED
        credited = await OrderAttribution.create(
            order_id=order.id,
            sharer_id=touch.link.sharer_id,
            link_id=touch.link.id,
            rule=policy.rule,
            touched_at=touch.at,
            attributed_at=now_utc(),
            reversed=refunded,
        )
        if not refunded:
            await ShareLink.filter(id=touch.link.id).update(
                orders=F("orders") + 1, sales=F("sales") + order.total
            )
        if policy.bind_unbound_buyers:
            # A sharer in the buyer's own team would make a cycle: the buyer stays unbound.
            with suppress(DomainError):
                await tree.bind_first(order.buyer_id, touch.link.sharer_id)
        return credited


async def reverse(order_id: int) -> None:
    """A refunded order no longer counts as its link's sale (its credit stays recorded)."""
    async with in_transaction():
        order = await _lock_order(order_id)
        credit = await OrderAttribution.get_or_none(order_id=order_id)
        if order is None or credit is None or credit.reversed:
            return
        await OrderAttribution.filter(order_id=order_id).update(reversed=True)
        await ShareLink.filter(id=credit.link_id).update(
            orders=F("orders") - 1, sales=F("sales") - order.total
        )

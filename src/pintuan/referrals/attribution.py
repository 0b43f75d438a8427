"""Share links, their visits, and which sharer an order is credited to.

The credit is decided when the order is made (``credit_at``, through the
purchase's checkout, see ``referrals.checkout``): the buyer's visits through
share links within the window before it, and the order's own code as a touch at
that moment; the first (or, by setting, the last) wins, never the buyer's own
link. It is frozen with the order; once the order is paid, ``attribute`` counts
it on the link's dashboard, once, and a refund takes it off again.
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
    OrderTerms,
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
class Touch:
    link: ShareLink
    at: datetime


async def credit_at(buyer_id: int, ref: str | None, at: datetime, policy: Policy) -> Touch | None:
    """The share an order made at ``at`` is credited to: the first (or, by setting, the
    last) of the buyer's visits within the window before it and the order's own code,
    never the buyer's own link; None when no share led to it."""
    visits = (
        ShareVisit.filter(
            visitor_id=buyer_id, visited_at__gte=at - policy.window, visited_at__lte=at
        )
        .exclude(link__sharer_id=buyer_id)
        .select_related("link")
    )
    first = policy.rule == AttributionRule.FIRST_TOUCH
    ordering = ("visited_at", "id") if first else ("-visited_at", "-id")
    touches = [Touch(v.link, v.visited_at) for v in await visits.order_by(*ordering).limit(1)]
    if ref is not None:
        link = await ShareLink.get_or_none(code=ref)
        if link is not None and link.sharer_id != buyer_id:
            touches.append(Touch(link, at))
    if not touches:
        return None
    return (min if first else max)(touches, key=lambda t: t.at)


async def _lock_order(order_id: int) -> Order | None:
    """The order, locked so its payment and its refund are attributed one at a time."""
    locking = " FOR UPDATE" if connections.get("default").capabilities.dialect == "postgres" else ""
    found = await sql.instances(
        Order, f'SELECT * FROM "customer_order" WHERE "id" = $1{locking}', order_id
    )
    return found[0] if found else None


async def attribute(order_id: int, policy: Policy) -> OrderAttribution | None:
    """Count a paid order on the link it was credited to when it was made, once; None
    if no share led to it."""
    async with in_transaction():
        order = await _lock_order(order_id)
        if order is None or await OrderAttribution.exists(order_id=order_id):
            return None
        terms = await OrderTerms.get_or_none(order_id=order_id)
        if terms is None or terms.link_id is None or terms.touched_at is None:
            return None
        refunded = order.status == OrderStatus.REFUNDED
        credited = await OrderAttribution.create(
            order_id=order.id,
            sharer_id=terms.seller_id,
            link_id=terms.link_id,
            rule=policy.rule,
            touched_at=terms.touched_at,
            attributed_at=now_utc(),
            reversed=refunded,
        )
        if not refunded:
            await ShareLink.filter(id=terms.link_id).update(
                orders=F("orders") + 1, sales=F("sales") + order.total
            )
        if policy.bind_unbound_buyers:
            # A sharer in the buyer's own team would make a cycle: the buyer stays unbound.
            with suppress(DomainError):
                await tree.bind_first(order.buyer_id, terms.seller_id)
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

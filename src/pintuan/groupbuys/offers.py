"""Offers: the terms a merchant sets, what may change once groups exist, extending and
cancelling them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timedelta

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from pintuan.catalog.models import Product, ProductStatus, Variant
from pintuan.core import cache_tags, sql
from pintuan.core.clock import now_utc
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.core.ids import NodeType
from pintuan.groupbuys import orders
from pintuan.groupbuys.announce import announce, group_state, publish
from pintuan.groupbuys.models import Group, GroupBuy, GroupStatus
from pintuan.groupbuys.order_models import CancelReason, Order, OrderStatus
from pintuan.groupbuys.progress import GroupEvent
from pintuan.groupbuys.runtime import Runtime

MAX_GROUP_SIZE = 1000
MIN_DURATION = 60
MAX_DURATION = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class OfferTerms:
    group_price: int
    group_size: int
    duration_seconds: int
    starts_at: datetime
    ends_at: datetime
    per_user_limit: int
    stock_limit: int
    solo_price: int | None = None


def _check_terms(terms: OfferTerms, variant: Variant, now: datetime) -> None:
    # Checked first: comparing a naive time with an aware one would raise.
    for moment, name in ((terms.starts_at, "startsAt"), (terms.ends_at, "endsAt")):
        if moment.tzinfo is None:
            raise DomainError(ErrorCode.INVALID, "Give times with a timezone.", name)
    solo = variant.price_amount if terms.solo_price is None else terms.solo_price
    checks = [
        (terms.group_price >= 0, "groupPrice", "The group price is 0 or more."),
        (terms.group_price <= solo, "groupPrice", "The group price may not exceed the solo price."),
        (
            2 <= terms.group_size <= MAX_GROUP_SIZE,
            "groupSize",
            f"Groups have 2 to {MAX_GROUP_SIZE} members.",
        ),
        (
            MIN_DURATION <= terms.duration_seconds <= MAX_DURATION,
            "durationSeconds",
            f"A group's timer runs {MIN_DURATION} s to {MAX_DURATION} s.",
        ),
        (terms.starts_at < terms.ends_at, "endsAt", "The offer must end after it starts."),
        (terms.ends_at > now, "endsAt", "The offer must end in the future."),
        (terms.stock_limit >= 1, "stockLimit", "Offer at least one unit."),
        (
            1 <= terms.per_user_limit <= terms.stock_limit,
            "perUserLimit",
            "The per-person limit is 1 to the offer's stock.",
        ),
    ]
    for ok, field_name, message in checks:
        if not ok:
            raise DomainError(ErrorCode.INVALID, message, field_name)


def _offer_written(offer_id: int) -> None:
    cache_tags.wrote(
        cache_tags.entity(NodeType.GROUP_BUY, offer_id), cache_tags.listing(NodeType.GROUP_BUY)
    )


async def create_offer(variant: Variant, product: Product, terms: OfferTerms) -> GroupBuy:
    if product.status == ProductStatus.ARCHIVED:
        raise DomainError(ErrorCode.ARCHIVED, "The product is archived.", "variantId")
    _check_terms(terms, variant, now_utc())
    cache_tags.wrote(cache_tags.listing(NodeType.GROUP_BUY))
    return await GroupBuy.create(
        merchant_id=product.merchant_id,
        product_id=product.id,
        variant_id=variant.id,
        solo_price=variant.price_amount if terms.solo_price is None else terms.solo_price,
        group_price=terms.group_price,
        currency=variant.currency,
        group_size=terms.group_size,
        duration_seconds=terms.duration_seconds,
        starts_at=terms.starts_at,
        ends_at=terms.ends_at,
        per_user_limit=terms.per_user_limit,
        stock_limit=terms.stock_limit,
    )


@dataclass(frozen=True, slots=True)
class OfferChanges:
    solo_price: int | None = None
    group_price: int | None = None
    group_size: int | None = None
    duration_seconds: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    per_user_limit: int | None = None
    stock_limit: int | None = None


# Changing these once a group exists would change the deal members joined on.
_FIXED_ONCE_GROUPS_EXIST = ("group_price", "group_size", "duration_seconds", "starts_at")


async def update_offer(offer: GroupBuy, changes: OfferChanges, runtime: Runtime) -> GroupBuy:
    """Change what is still safe to change.

    The offer's row stays locked from the check for groups to the update: a
    group opening meanwhile either commits first (and is seen here) or finds
    the terms it read gone (see ``purchases._hold_offer_stock``). A later end
    then lets open groups that the old end cut short run on, after the commit,
    so that no group row is locked after the offer's (joins lock them the
    other way).
    """
    async with in_transaction():
        offer = await GroupBuy.filter(id=offer.id).select_for_update().get()
        if offer.cancelled_at is not None:
            raise DomainError(ErrorCode.ALREADY_CANCELLED, "The offer is cancelled.", "id")
        if await Group.exists(group_buy_id=offer.id):
            _check_changes_once_groups_exist(offer, changes)
        given = {name: value for name, value in asdict(changes).items() if value is not None}
        terms = replace(_terms_of(offer), **given)
        variant = await Variant.get(id=offer.variant_id)
        _check_terms(terms, variant, now_utc())
        if terms.stock_limit < offer.stock_taken:
            raise DomainError(
                ErrorCode.INVALID,
                "The stock limit cannot fall below what is already taken.",
                "stockLimit",
            )
        await GroupBuy.filter(id=offer.id).update(**asdict(terms))
    updated = await GroupBuy.get(id=offer.id)
    if changes.ends_at is not None:
        running = Group.filter(
            group_buy_id=offer.id, status=GroupStatus.OPEN, expires_at__lt=updated.ends_at
        )
        for group in await running:
            await run_on(group, updated, runtime)
    _offer_written(offer.id)
    return updated


async def run_on(group: Group, offer: GroupBuy, runtime: Runtime) -> bool:
    """Give an open group that its offer's end cut short the rest of its timer, now
    that the offer ends later; True if the group now expires later.

    A group's timer never runs past its offer's end. Only the move to FAILED is
    final: until then a group cut short runs to its full timer or the offer's
    current end, whichever comes first.
    """
    if offer.cancelled_at is not None:
        return False
    full_timer = group.opened_at + timedelta(seconds=offer.duration_seconds)
    expires_at = min(full_timer, offer.ends_at)
    if expires_at <= group.expires_at:
        return False
    extended = await sql.instances(
        Group,
        'UPDATE "buy_group" SET "expires_at" = $1, "version" = "version" + 1 '
        'WHERE "id" = $2 AND "status" = $3 AND "expires_at" < $1 RETURNING *',
        expires_at,
        group.id,
        GroupStatus.OPEN.value,
    )
    if not extended:
        return False
    await runtime.group_deadlines.schedule(group.id, expires_at)
    await _extend_payment_windows(group.id, expires_at, runtime)
    await publish(runtime, GroupEvent.EXTENDED, group_state(extended[0]))
    return True


async def _extend_payment_windows(group_id: int, expires_at: datetime, runtime: Runtime) -> None:
    """Members still paying keep a full payment window, now that the group runs longer:
    theirs was cut at the group's old expiry."""
    window = timedelta(seconds=runtime.payment_window_seconds)
    for order in await Order.filter(group_id=group_id, status=OrderStatus.PENDING_PAYMENT):
        due = min(order.created_at + window, expires_at)
        moved = await Order.filter(
            id=order.id, status=OrderStatus.PENDING_PAYMENT, payment_due_at__lt=due
        ).update(payment_due_at=due)
        if moved:
            await runtime.payment_deadlines.schedule(order.id, due)


def _check_changes_once_groups_exist(offer: GroupBuy, changes: OfferChanges) -> None:
    for name in _FIXED_ONCE_GROUPS_EXIST:
        if getattr(changes, name) is not None:
            camel = "".join(w.capitalize() if i else w for i, w in enumerate(name.split("_")))
            raise DomainError(
                ErrorCode.GROUPS_EXIST, "Groups have formed: this can no longer change.", camel
            )
    if changes.ends_at is not None and changes.ends_at < offer.ends_at:
        raise DomainError(
            ErrorCode.GROUPS_EXIST,
            "Groups have formed: the offer may only be extended.",
            "endsAt",
        )


def group_terms(offer: GroupBuy) -> tuple[int, int, int]:
    """What a group is opened on: its price, its size and its timer."""
    return offer.group_price, offer.group_size, offer.duration_seconds


def _terms_of(offer: GroupBuy) -> OfferTerms:
    """The offer's current terms (its columns of the same names)."""
    return OfferTerms(**{term.name: getattr(offer, term.name) for term in fields(OfferTerms)})


async def cancel_offer(offer: GroupBuy, runtime: Runtime) -> GroupBuy:
    """Stop the offer; its open groups are cancelled and every member made whole."""
    now = now_utc()
    changed = await GroupBuy.filter(id=offer.id, cancelled_at=None).update(cancelled_at=now)
    if not changed:
        raise DomainError(ErrorCode.ALREADY_CANCELLED, "The offer is already cancelled.", "id")
    for group in await Group.filter(group_buy_id=offer.id, status=GroupStatus.OPEN):
        if await Group.filter(id=group.id, status=GroupStatus.OPEN).update(
            status=GroupStatus.CANCELLED, closed_at=now, version=F("version") + 1
        ):
            await orders.settle_group_orders(group.id, runtime, CancelReason.OFFER_CANCELLED)
            await runtime.group_deadlines.cancel(group.id)
            await announce(runtime, GroupEvent.CANCELLED, group.id)
    _offer_written(offer.id)
    return await GroupBuy.get(id=offer.id)

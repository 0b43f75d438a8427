"""Group buys: offers, starting and joining groups, buying alone, expiry.

Every hold (a slot, offer stock, variant stock, the per-user allowance) is
taken by a conditional update inside one transaction, so concurrent requests
can never overfill a group or oversell stock; a failed check rolls back all.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import cast

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from pintuan.live.progress import GroupState
from pintuan.models.catalog import Product, ProductStatus, Variant
from pintuan.models.groupbuys import (
    Group,
    GroupBuy,
    GroupBuyStatus,
    GroupMember,
    GroupStatus,
)
from pintuan.models.orders import Order, OrderKind, OrderStatus
from pintuan.resolvers import batch, orders, sql
from pintuan.resolvers.errors import DomainError, ErrorCode
from pintuan.resolvers.orders import announce, now_utc
from pintuan.resolvers.pagination import SortKey, parse_datetime, parse_int
from pintuan.resolvers.runtime import Runtime
from pintuan.resolvers.validation import MAX_INT, find

MAX_GROUP_SIZE = 1000
MIN_DURATION = 60
MAX_DURATION = 7 * 24 * 3600
MAX_QUANTITY = 1000
MAX_PAYMENT_TOKEN = 255  # gateways' card tokens are far shorter
SHARE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class _Refused(Exception):
    """Unwinds a transaction: the wrapped DomainError reaches the caller, nothing is kept."""

    def __init__(self, error: DomainError) -> None:
        self.error = error


def _refuse(code: ErrorCode, message: str, field: str | None = None) -> _Refused:
    return _Refused(DomainError(code, message, field))


# ---- offers -----------------------------------------------------------------


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


async def create_offer(variant: Variant, product: Product, terms: OfferTerms) -> GroupBuy:
    if product.status == ProductStatus.ARCHIVED:
        raise DomainError(ErrorCode.ARCHIVED, "The product is archived.", "variantId")
    _check_terms(terms, variant, now_utc())
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
    the terms it read gone (see ``_hold_offer_stock``). A later end then lets
    open groups that the old end cut short run on, after the commit, so that
    no group row is locked after the offer's (joins lock them the other way).
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
            await _run_on(group, updated, runtime)
    return updated


async def _run_on(group: Group, offer: GroupBuy, runtime: Runtime) -> bool:
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
    await orders.publish(runtime, "EXTENDED", orders.group_state(extended[0]))
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


def _group_terms(offer: GroupBuy) -> tuple[int, int, int]:
    """What a group is opened on: its price, its size and its timer."""
    return offer.group_price, offer.group_size, offer.duration_seconds


def _terms_of(offer: GroupBuy) -> OfferTerms:
    return OfferTerms(
        group_price=offer.group_price,
        group_size=offer.group_size,
        duration_seconds=offer.duration_seconds,
        starts_at=offer.starts_at,
        ends_at=offer.ends_at,
        per_user_limit=offer.per_user_limit,
        stock_limit=offer.stock_limit,
        solo_price=offer.solo_price,
    )


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
            await orders.settle_group_orders(group.id, runtime, "OFFER_CANCELLED")
            await runtime.group_deadlines.cancel(group.id)
            await announce(runtime, "CANCELLED", group.id)
    return await GroupBuy.get(id=offer.id)


# ---- reads ------------------------------------------------------------------

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


def orders_of_merchant(merchant_id: int, status: OrderStatus | None) -> QuerySet[Order]:
    query = Order.filter(merchant_id=merchant_id)
    return query.filter(status=status) if status is not None else query


async def filled_count(offer_ids: Sequence[int]) -> list[int]:
    filled = Group.filter(group_buy_id__in=list(offer_ids), status=GroupStatus.FILLED)
    counts = Counter(cast(list[int], await filled.values_list("group_buy_id", flat=True)))
    return [counts[i] for i in offer_ids]


async def group_by_share_code(code: str) -> Group | None:
    return await find(Group, share_code=code.strip().upper())


# ---- buying -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Purchase:
    """The result a retried request gets back unchanged."""

    order: Order
    group: Group | None = None
    errors: list[DomainError] = field(default_factory=list)


async def _replay(request: PurchaseRequest, fingerprint: str) -> Purchase | None:
    # Most requests are not retries: ask cheaply first, load the order only if it exists.
    if not await sql.rows(
        'SELECT 1 FROM "customer_order" WHERE "buyer_id" = $1 AND "idempotency_key" = $2',
        request.buyer_id,
        request.idempotency_key,
    ):
        return None
    order = await Order.get(buyer_id=request.buyer_id, idempotency_key=request.idempotency_key)
    if order.request_hash != fingerprint:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "This idempotency key was used for a different request.",
            "idempotencyKey",
        )
    group = await Group.get(id=order.group_id) if order.group_id else None
    declined = order.failure_code == ErrorCode.PAYMENT_DECLINED
    return Purchase(order, group, [_declined()] if declined else [])


def _declined() -> DomainError:
    return DomainError(ErrorCode.PAYMENT_DECLINED, "The payment was declined.", "paymentToken")


async def _hold_allowance(offer: GroupBuy, buyer_id: int, quantity: int) -> None:
    """Count the units against the buyer's limit for the offer, making their row if new.

    It is the first shared row a purchase locks (then group, offer, variant), so
    one buyer's parallel requests queue here holding nothing anyone else needs.
    """
    allowed = quantity <= offer.per_user_limit and await sql.rows(
        'INSERT INTO "offer_allowance" ("group_buy_id", "user_id", "quantity") '
        "VALUES ($1, $2, $3) "
        'ON CONFLICT ("group_buy_id", "user_id") DO UPDATE '
        'SET "quantity" = "offer_allowance"."quantity" + $3 '
        'WHERE "offer_allowance"."quantity" + $3 <= $4 RETURNING "id"',
        offer.id,
        buyer_id,
        quantity,
        offer.per_user_limit,
    )
    if not allowed:
        raise _refuse(
            ErrorCode.LIMIT_EXCEEDED,
            f"At most {offer.per_user_limit} per person for this offer.",
            "quantity",
        )


async def _hold_offer_stock(offer: GroupBuy, quantity: int, now: datetime) -> None:
    """Take the units from the offer's stock, on the terms ``offer`` was read with.

    The same statement checks that the offer is still open, its product on
    sale, and its group terms unchanged: a merchant's edit committed since the
    read must not leave a group on terms the offer no longer has
    (``update_offer`` refuses edits once a group has committed).
    """
    taken = await sql.execute(
        'UPDATE "group_buy" SET "stock_taken" = "stock_taken" + $1 '
        'WHERE "id" = $2 AND "stock_taken" <= "stock_limit" - $1 AND "cancelled_at" IS NULL '
        'AND "starts_at" <= $3 AND "ends_at" > $3 AND "group_price" = $4 '
        'AND "group_size" = $5 AND "duration_seconds" = $6 AND EXISTS (SELECT 1 FROM "product" '
        'WHERE "product"."id" = "group_buy"."product_id" AND "product"."status" = $7)',
        quantity,
        offer.id,
        now,
        offer.group_price,
        offer.group_size,
        offer.duration_seconds,
        ProductStatus.ACTIVE.value,
    )
    if taken:
        return
    current = await GroupBuy.get(id=offer.id).select_related("product")
    _require_active(current, now)
    if current.product.status != ProductStatus.ACTIVE:
        raise _refuse(ErrorCode.OFFER_NOT_ACTIVE, "The product is not on sale.", "groupBuyId")
    if _group_terms(current) != _group_terms(offer):
        raise _refuse(
            ErrorCode.OFFER_CHANGED,
            "The offer's terms changed just now; check them and try again.",
            "groupBuyId",
        )
    raise _refuse(ErrorCode.OUT_OF_STOCK, "The offer has no stock left.", "quantity")


async def _hold_variant_stock(variant_id: int, quantity: int) -> None:
    reserved = await sql.execute(
        'UPDATE "variant" SET "stock_reserved" = "stock_reserved" + $1 '
        'WHERE "id" = $2 AND "stock_on_hand" >= "stock_reserved" + $1',
        quantity,
        variant_id,
    )
    if not reserved:
        raise _refuse(ErrorCode.OUT_OF_STOCK, "Not enough stock.", "quantity")


def _payment_due(runtime: Runtime, group: Group | None, now: datetime) -> datetime:
    due = now + timedelta(seconds=runtime.payment_window_seconds)
    return min(due, group.expires_at) if group is not None else due


@dataclass(frozen=True, slots=True)
class PurchaseRequest:
    """What a shopper asks for; ``idempotency_key`` makes a retry return the first result."""

    buyer_id: int
    quantity: int
    idempotency_key: str
    payment_token: str

    def check(self) -> None:
        if not 1 <= self.quantity <= MAX_QUANTITY:
            raise DomainError(
                ErrorCode.INVALID_QUANTITY,
                f"Quantity must be from 1 to {MAX_QUANTITY}.",
                "quantity",
            )
        if not 1 <= len(self.idempotency_key) <= 100:
            raise DomainError(
                ErrorCode.INVALID,
                "Give an idempotency key of 1 to 100 characters.",
                "idempotencyKey",
            )
        if not 1 <= len(self.payment_token) <= MAX_PAYMENT_TOKEN:
            raise DomainError(
                ErrorCode.INVALID,
                f"Give a payment token of 1 to {MAX_PAYMENT_TOKEN} characters.",
                "paymentToken",
            )

    def fingerprint(self, action: str, target: int) -> str:
        """Tells a true retry from a different request that reuses the key."""
        raw = json.dumps([action, target, self.quantity])
        return hashlib.sha256(raw.encode()).hexdigest()


async def _claim_order(
    request: PurchaseRequest,
    fingerprint: str,
    offer: GroupBuy,
    group: Group,
    runtime: Runtime,
    now: datetime,
) -> Order:
    """Insert the order before taking any hold.

    A parallel retry of the same request then stops at the idempotency key's
    unique index while holding no other lock, so it can never deadlock.
    """
    _check_total(offer.group_price, request.quantity)
    return await _insert_order(
        request,
        fingerprint,
        now,
        kind=OrderKind.GROUP.value,
        merchant_id=offer.merchant_id,
        group_id=group.id,
        group_buy_id=offer.id,
        variant_id=offer.variant_id,
        unit_price=offer.group_price,
        currency=offer.currency,
        payment_due_at=_payment_due(runtime, group, now),
    )


async def _insert_order(
    request: PurchaseRequest, fingerprint: str, now: datetime, **terms: object
) -> Order:
    """A new order awaiting payment (hand-written: every purchase makes one)."""
    values = {
        "buyer_id": request.buyer_id,
        "quantity": request.quantity,
        "idempotency_key": request.idempotency_key,
        "request_hash": fingerprint,
        "status": OrderStatus.PENDING_PAYMENT.value,
        "created_at": now,
    }
    return await sql.insert(Order, values | terms)


async def _take_slot(
    offer: GroupBuy,
    group: Group,
    order: Order,
    now: datetime,
    *,
    leader: bool,
) -> GroupState:
    """Take a slot and the stock behind it; returns the group as the slot left it.

    The buyer's allowance is held first, so rows lock in the order state
    machine's order: allowance, group, offer, variant. Every purchase of the
    offer queues on its offer and variant rows, so those come last, just
    before the commit, and are held as briefly as possible.
    """
    slot = await sql.instances(
        Group,
        'UPDATE "buy_group" SET "slots_taken" = "slots_taken" + 1, "version" = "version" + 1 '
        'WHERE "id" = $1 AND "status" = $2 AND "expires_at" > $3 AND "slots_taken" < "size" '
        "RETURNING *",
        group.id,
        GroupStatus.OPEN.value,
        now,
    )
    if not slot:
        refusal = _no_slot_in(await Group.get(id=group.id), now)
        raise refusal or _refuse(ErrorCode.GROUP_FULL, "This group is full.", "groupId")
    await sql.execute(
        'INSERT INTO "group_member" ("group_id", "user_id", "order_id", "is_leader", "paid", '
        '"joined_at") VALUES ($1, $2, $3, $4, $5, $6)',
        group.id,
        order.buyer_id,
        order.id,
        leader,
        False,
        now,
    )
    await _hold_offer_stock(offer, order.quantity, now)
    await _hold_variant_stock(offer.variant_id, order.quantity)
    return orders.group_state(slot[0])


def _no_slot_in(group: Group, now: datetime) -> _Refused | None:
    """Why ``group``, as read, has no slot to give; None if it seemed to have one."""
    if group.status != GroupStatus.OPEN or group.expires_at <= now:
        return _refuse(ErrorCode.GROUP_CLOSED, "This group is no longer open.", "groupId")
    if group.slots_taken >= group.size:
        return _refuse(ErrorCode.GROUP_FULL, "This group is full.", "groupId")
    return None


def _already_member() -> DomainError:
    return DomainError(ErrorCode.ALREADY_MEMBER, "You are already in this group.", "groupId")


async def _is_member(group_id: int, user_id: int) -> bool:
    return bool(
        await sql.rows(
            'SELECT 1 FROM "group_member" WHERE "group_id" = $1 AND "user_id" = $2',
            group_id,
            user_id,
        )
    )


def _check_total(unit_price: int, quantity: int) -> None:
    """Amounts are 32-bit integers of minor units, in the API and in the ledger."""
    if unit_price * quantity > MAX_INT:
        raise _refuse(
            ErrorCode.INVALID_QUANTITY,
            f"One order may total at most {MAX_INT} minor units; buy fewer.",
            "quantity",
        )


def _require_active(offer: GroupBuy, now: datetime) -> None:
    """The offer is in its window (its product is checked with its stock)."""
    status = offer.status_at(now)
    if status != GroupBuyStatus.ACTIVE:
        raise _refuse(
            ErrorCode.OFFER_NOT_ACTIVE, f"The offer is {status.value.lower()}.", "groupBuyId"
        )


def _new_share_code() -> str:
    return "".join(secrets.choice(SHARE_ALPHABET) for _ in range(8))


async def start_group(offer_id: int, request: PurchaseRequest, runtime: Runtime) -> Purchase:
    """Open a group with the buyer as its paying leader."""
    request.check()
    fingerprint = request.fingerprint("start", offer_id)
    if replay := await _replay(request, fingerprint):
        return replay
    now = now_utc()
    try:
        async with in_transaction():
            offer = await sql.by_id(GroupBuy, offer_id)
            if offer is None:
                raise _refuse(ErrorCode.NOT_FOUND, "No such group buy.", "groupBuyId")
            _require_active(offer, now)
            group = await sql.insert(
                Group,
                {
                    "group_buy_id": offer.id,
                    "leader_id": request.buyer_id,
                    "size": offer.group_size,
                    "slots_taken": 0,
                    "paid_count": 0,
                    "version": 0,
                    "status": GroupStatus.OPEN.value,
                    "share_code": _new_share_code(),
                    "opened_at": now,
                    "expires_at": min(
                        now + timedelta(seconds=offer.duration_seconds), offer.ends_at
                    ),
                },
            )
            order = await _claim_order(request, fingerprint, offer, group, runtime, now)
            await _hold_allowance(offer, request.buyer_id, request.quantity)
            joined = await _take_slot(offer, group, order, now, leader=True)
    except _Refused as refused:
        raise refused.error from None
    except IntegrityError:
        return await _concurrent_retry(request, fingerprint)
    await orders.publish(runtime, "JOINED", joined)
    await runtime.group_deadlines.schedule(group.id, group.expires_at)
    if group.expires_at == offer.ends_at:
        # Cut short by the end as read: an extension committed meanwhile may have
        # looked for such groups before this one was committed.
        await _run_on(group, await GroupBuy.get(id=offer.id), runtime)
    return await _pay(order, request.payment_token, runtime)


async def join_group(group_id: int, request: PurchaseRequest, runtime: Runtime) -> Purchase:
    request.check()
    fingerprint = request.fingerprint("join", group_id)
    if replay := await _replay(request, fingerprint):
        return replay
    group = await sql.by_id(Group, group_id)
    offer = await sql.by_id(GroupBuy, group.group_buy_id) if group else None
    if group is None or offer is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No such group.", "groupId")
    now = now_utc()
    try:
        _require_active(offer, now)
        # A group already seen closed or full is refused without a transaction:
        # popular groups draw many late joiners. The holds below decide the rest.
        if refusal := _no_slot_in(group, now):
            raise refusal
        async with in_transaction():
            order = await _claim_order(request, fingerprint, offer, group, runtime, now)
            await _hold_allowance(offer, request.buyer_id, request.quantity)
            joined = await _take_slot(offer, group, order, now, leader=False)
    except _Refused as refused:
        # Members asking again are told so, unless the offer itself is closed;
        # asked only on refusal (the slot's unique row catches the rest).
        member = refused.error.code != ErrorCode.OFFER_NOT_ACTIVE and await _is_member(
            group.id, request.buyer_id
        )
        raise (_already_member() if member else refused.error) from None
    except IntegrityError:
        # Same idempotency key in flight, or the same user joining twice at once.
        if await Order.exists(buyer_id=request.buyer_id, idempotency_key=request.idempotency_key):
            return await _concurrent_retry(request, fingerprint)
        raise _already_member() from None
    await orders.publish(runtime, "JOINED", joined)
    return await _pay(order, request.payment_token, runtime)


async def buy_alone(variant_id: int, request: PurchaseRequest, runtime: Runtime) -> Purchase:
    """An ordinary order at the variant's own (solo) price."""
    request.check()
    fingerprint = request.fingerprint("solo", variant_id)
    if replay := await _replay(request, fingerprint):
        return replay
    now = now_utc()
    try:
        async with in_transaction():
            variant = await Variant.get_or_none(id=variant_id).select_related("product")
            if variant is None or variant.product.status != ProductStatus.ACTIVE:
                raise _refuse(ErrorCode.NOT_FOUND, "No such variant on sale.", "variantId")
            _check_total(variant.price_amount, request.quantity)
            order = await _insert_order(
                request,
                fingerprint,
                now,
                kind=OrderKind.SOLO.value,
                merchant_id=variant.product.merchant_id,
                variant_id=variant.id,
                unit_price=variant.price_amount,
                currency=variant.currency,
                payment_due_at=_payment_due(runtime, None, now),
            )
            await _hold_variant_stock(variant.id, request.quantity)
    except _Refused as refused:
        raise refused.error from None
    except IntegrityError:
        return await _concurrent_retry(request, fingerprint)
    return await _pay(order, request.payment_token, runtime)


async def _concurrent_retry(request: PurchaseRequest, fingerprint: str) -> Purchase:
    replay = await _replay(request, fingerprint)
    if replay is None:
        raise DomainError(ErrorCode.INVALID, "The request conflicted; try again.", "idempotencyKey")
    return replay


async def _pay(order: Order, payment_token: str, runtime: Runtime) -> Purchase:
    """Charge after the holds are committed; no network call ever runs inside a transaction."""
    outcome = await runtime.gateway.charge(order.id, order.total, order.currency, payment_token)
    if not outcome.settled:
        await runtime.payment_deadlines.schedule(order.id, order.payment_due_at or now_utc())
        group = await Group.get(id=order.group_id) if order.group_id else None
        return Purchase(await Order.get(id=order.id), group)
    if not outcome.approved:
        settled = await orders.cancel_pending(order.id, ErrorCode.PAYMENT_DECLINED.value)
        if settled.changed and order.group_id is not None:
            await announce(runtime, "LEFT", order.group_id)
        group = await Group.get(id=order.group_id) if order.group_id else None
        return Purchase(settled.order, group, [_declined()])
    settled = await orders.take_charge(order, outcome.reference or "", runtime)
    await after_payment(settled, runtime)
    group = settled.group
    if group is None and order.group_id is not None:
        group = await Group.get(id=order.group_id)
    if settled.refunded_late:
        in_group = order.group_id is not None
        closed = DomainError(
            ErrorCode.GROUP_CLOSED if in_group else ErrorCode.OFFER_NOT_ACTIVE,
            "The order closed while it was being paid; the charge was refunded.",
            "groupId" if in_group else "variantId",
        )
        return Purchase(settled.order, group, [closed])
    return Purchase(settled.order, group)


async def after_payment(settled: orders.Settled, runtime: Runtime) -> None:
    """Announce a payment, with the group as the payment left it."""
    if not settled.changed or settled.group is None:
        return
    if settled.filled:
        await runtime.group_deadlines.cancel(settled.group.id)
    event = "FILLED" if settled.filled else "PAID"
    await orders.publish(runtime, event, orders.group_state(settled.group))


# ---- expiry -----------------------------------------------------------------


async def expire_group(group_id: int, runtime: Runtime) -> bool:
    """OPEN past its timer -> FAILED, once; then every member is made whole.

    A group that an earlier end of its offer cut short runs on instead: the
    extension meant to move it may have stopped between its commit and the move.
    """
    group = await sql.by_id(Group, group_id)
    if group is None or group.status != GroupStatus.OPEN:
        return False
    if await _run_on(group, await GroupBuy.get(id=group.group_buy_id), runtime):
        return True
    now = now_utc()
    failed = await Group.filter(id=group_id, status=GroupStatus.OPEN, expires_at__lte=now).update(
        status=GroupStatus.FAILED, closed_at=now, version=F("version") + 1
    )
    if failed:
        await orders.settle_group_orders(group_id, runtime, "GROUP_FAILED")
        await announce(runtime, "FAILED", group_id)
    return bool(failed)


async def sweep(runtime: Runtime) -> int:
    """Catch up on anything a crashed or absent scheduler left: returns how much it did."""
    now = now_utc()
    done = 0
    for group_id in await Group.filter(status=GroupStatus.OPEN, expires_at__lte=now).values_list(
        "id", flat=True
    ):
        done += await expire_group(int(group_id), runtime)  # type: ignore[call-overload]
    reasons = {GroupStatus.FAILED: "GROUP_FAILED", GroupStatus.CANCELLED: "OFFER_CANCELLED"}
    unsettled = await Group.filter(status__in=list(reasons), settled_at=None).values_list(
        "id", "status"
    )
    for group_id, status in unsettled:
        await orders.settle_group_orders(group_id, runtime, reasons[GroupStatus(status)])
        done += 1
    for order in await orders.refunds_owed():
        await orders.issue_refund(order, runtime)
        done += 1
    for order in await Order.filter(status=OrderStatus.PENDING_PAYMENT, payment_due_at__lte=now):
        done += await lapse_payment(order.id, runtime)
    return done


async def lapse_payment(order_id: int, runtime: Runtime) -> bool:
    settled = await orders.cancel_pending(order_id, "PAYMENT_EXPIRED", due_by=now_utc())
    if settled.changed and settled.order.group_id is not None:
        await announce(runtime, "LEFT", settled.order.group_id)
    return settled.changed


async def live_deadlines() -> tuple[list[tuple[int, datetime]], list[tuple[int, datetime]]]:
    """Every open group's expiry and every pending payment's due time, to rebuild the live layer."""
    groups = await Group.filter(status=GroupStatus.OPEN).values_list("id", "expires_at")
    payments = await Order.filter(
        status=OrderStatus.PENDING_PAYMENT, payment_due_at__isnull=False
    ).values_list("id", "payment_due_at")
    return [(int(i), at) for i, at in groups], [(int(i), at) for i, at in payments]


# ---- batch loads ------------------------------------------------------------


async def members_of_groups(group_ids: Sequence[int]) -> list[list[GroupMember]]:
    members = GroupMember.all().order_by("joined_at", "id")
    return await batch.grouped_by(members, "group_id", group_ids)


async def group_row(group_id: int) -> Group | None:
    return await Group.get_or_none(id=group_id)

"""Purchases: starting and joining groups, buying alone, paying.

Every hold (a slot, offer stock, variant stock, the per-user allowance) is
taken by a conditional update inside one transaction, so concurrent requests
can never overfill a group or oversell stock; a failed check rolls back all.
A transaction that still loses a race (a deadlock) is rolled back whole by the
database and run again (``core.contention``); the charge comes after its commit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from pintuan.catalog.models import ProductStatus, Variant
from pintuan.core import cache_tags, codes, contention, sql
from pintuan.core.clock import now_utc
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.core.ids import NodeType
from pintuan.core.validation import MAX_INT
from pintuan.groupbuys import offers, orders
from pintuan.groupbuys.announce import group_state, publish
from pintuan.groupbuys.checkout import Basket
from pintuan.groupbuys.models import Group, GroupBuy, GroupBuyStatus, GroupStatus
from pintuan.groupbuys.order_models import CancelReason, Order, OrderKind, OrderStatus
from pintuan.groupbuys.progress import GroupEvent, GroupState
from pintuan.groupbuys.runtime import Runtime

MAX_QUANTITY = 1000
MAX_PAYMENT_TOKEN = 255  # gateways' card tokens are far shorter


class _Refused(Exception):
    """Unwinds a transaction: the wrapped DomainError reaches the caller, nothing is kept."""

    def __init__(self, error: DomainError) -> None:
        self.error = error


def _refuse(code: ErrorCode, message: str, field: str | None = None) -> _Refused:
    return _Refused(DomainError(code, message, field))


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
    declined = order.failure_code == CancelReason.PAYMENT_DECLINED
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
    (``offers.update_offer`` refuses edits once a group has committed).
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
        cache_tags.wrote(cache_tags.entity(NodeType.GROUP_BUY, offer.id))
        return
    current = await GroupBuy.get(id=offer.id).select_related("product")
    _require_active(current, now)
    if current.product.status != ProductStatus.ACTIVE:
        raise _refuse(ErrorCode.OFFER_NOT_ACTIVE, "The product is not on sale.", "groupBuyId")
    if offers.group_terms(current) != offers.group_terms(offer):
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
    cache_tags.wrote(cache_tags.entity(NodeType.VARIANT, variant_id))


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
    ref: str | None = None  # a share code, stored with the order for whoever reads it

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
        if self.ref is not None and codes.parse(self.ref) is None:
            raise DomainError(ErrorCode.INVALID, "That is not a share code.", "ref")

    def fingerprint(self, action: str, target: int, offer_id: int | None = None) -> str:
        """Tells a true retry from a different request that reuses the key.

        ``offer_id`` is the offer an order bought alone goes through, if any.
        """
        terms = [action, target, self.quantity] + ([offer_id] if offer_id is not None else [])
        return hashlib.sha256(json.dumps(terms).encode()).hexdigest()


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
    unique index holding no row lock but key-share ones (a new group's on its
    offer, which only ``offers.update_offer``'s FOR UPDATE waits for, holding
    nothing a purchase needs), so it cannot deadlock.
    """
    basket = Basket(
        buyer_id=request.buyer_id,
        merchant_id=offer.merchant_id,
        product_id=offer.product_id,
        variant_id=offer.variant_id,
        group_buy_id=offer.id,
        list_price=offer.group_price,
        at_variant_price=False,
        currency=offer.currency,
        ref=_ref(request),
        at=now,
    )
    quote = await runtime.checkout.quote(basket)
    _check_total(quote.unit_price, request.quantity)
    order = await _insert_order(
        request,
        fingerprint,
        now,
        kind=OrderKind.GROUP.value,
        merchant_id=offer.merchant_id,
        group_id=group.id,
        group_buy_id=offer.id,
        variant_id=offer.variant_id,
        unit_price=quote.unit_price,
        currency=offer.currency,
        payment_due_at=_payment_due(runtime, group, now),
    )
    await quote.record(order.id)
    return order


def _ref(request: PurchaseRequest) -> str | None:
    return codes.parse(request.ref) if request.ref is not None else None


async def _insert_order(
    request: PurchaseRequest, fingerprint: str, now: datetime, **terms: object
) -> Order:
    """A new order awaiting payment (hand-written: every purchase makes one)."""
    values = {
        "buyer_id": request.buyer_id,
        "quantity": request.quantity,
        "idempotency_key": request.idempotency_key,
        "request_hash": fingerprint,
        "ref": _ref(request),
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
    return group_state(slot[0])


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


async def start_group(offer_id: int, request: PurchaseRequest, runtime: Runtime) -> Purchase:
    """Open a group with the buyer as its paying leader."""
    request.check()
    fingerprint = request.fingerprint("start", offer_id)
    if replay := await _replay(request, fingerprint):
        return replay

    async def open_group() -> tuple[GroupBuy, Group, Order, GroupState]:
        now = now_utc()
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
                    "share_code": codes.new_code(),
                    "opened_at": now,
                    "expires_at": min(
                        now + timedelta(seconds=offer.duration_seconds), offer.ends_at
                    ),
                },
            )
            order = await _claim_order(request, fingerprint, offer, group, runtime, now)
            await _hold_allowance(offer, request.buyer_id, request.quantity)
            return offer, group, order, await _take_slot(offer, group, order, now, leader=True)

    try:
        offer, group, order, joined = await contention.retrying(open_group)
    except _Refused as refused:
        raise refused.error from None
    except IntegrityError:
        return await _concurrent_retry(request, fingerprint)
    await publish(runtime, GroupEvent.JOINED, joined)
    await runtime.group_deadlines.schedule(group.id, group.expires_at)
    if group.expires_at == offer.ends_at:
        # Cut short by the end as read: an extension committed meanwhile may have
        # looked for such groups before this one was committed. Expiry would mend
        # it at the old end; checking now shows buyers the right countdown at once.
        await offers.run_on(group, await GroupBuy.get(id=offer.id), runtime)
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

    async def take_slot(offer: GroupBuy, group: Group) -> tuple[Order, GroupState]:
        now = now_utc()
        async with in_transaction():
            order = await _claim_order(request, fingerprint, offer, group, runtime, now)
            await _hold_allowance(offer, request.buyer_id, request.quantity)
            return order, await _take_slot(offer, group, order, now, leader=False)

    now = now_utc()
    try:
        _require_active(offer, now)
        # A group already seen closed or full is refused without a transaction:
        # popular groups draw many late joiners. The holds below decide the rest.
        if refusal := _no_slot_in(group, now):
            raise refusal
        order, joined = await contention.retrying(lambda: take_slot(offer, group))
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
    await publish(runtime, GroupEvent.JOINED, joined)
    return await _pay(order, request.payment_token, runtime)


async def buy_alone(
    variant_id: int, request: PurchaseRequest, runtime: Runtime, offer_id: int | None = None
) -> Purchase:
    """An ordinary order: at the variant's own price, or through an offer at its solo
    price, from the offer's stock and within its per-person limit."""
    request.check()
    fingerprint = request.fingerprint("solo", variant_id, offer_id)
    if replay := await _replay(request, fingerprint):
        return replay

    async def hold() -> Order:
        now = now_utc()
        async with in_transaction():
            variant = await Variant.get_or_none(id=variant_id).select_related("product")
            if variant is None or variant.product.status != ProductStatus.ACTIVE:
                raise _refuse(ErrorCode.NOT_FOUND, "No such variant on sale.", "variantId")
            offer = None if offer_id is None else await _solo_offer(offer_id, variant_id, now)
            basket = Basket(
                buyer_id=request.buyer_id,
                merchant_id=variant.product.merchant_id,
                product_id=variant.product_id,
                variant_id=variant.id,
                group_buy_id=offer.id if offer else None,
                list_price=offer.solo_price if offer else variant.price_amount,
                at_variant_price=offer is None,
                currency=offer.currency if offer else variant.currency,
                ref=_ref(request),
                at=now,
            )
            quote = await runtime.checkout.quote(basket)
            _check_total(quote.unit_price, request.quantity)
            order = await _insert_order(
                request,
                fingerprint,
                now,
                kind=OrderKind.SOLO.value,
                merchant_id=basket.merchant_id,
                variant_id=variant.id,
                group_buy_id=basket.group_buy_id,
                unit_price=quote.unit_price,
                currency=basket.currency,
                payment_due_at=_payment_due(runtime, None, now),
            )
            await quote.record(order.id)
            if offer is not None:
                await _hold_allowance(offer, request.buyer_id, request.quantity)
                await _hold_offer_stock(offer, request.quantity, now)
            await _hold_variant_stock(variant.id, request.quantity)
            return order

    try:
        order = await contention.retrying(hold)
    except _Refused as refused:
        raise refused.error from None
    except IntegrityError:
        return await _concurrent_retry(request, fingerprint)
    return await _pay(order, request.payment_token, runtime)


async def _solo_offer(offer_id: int, variant_id: int, now: datetime) -> GroupBuy:
    """The active offer a shopper buys alone through; it must be on the variant bought."""
    offer = await sql.by_id(GroupBuy, offer_id)
    if offer is None:
        raise _refuse(ErrorCode.NOT_FOUND, "No such group buy.", "groupBuyId")
    if offer.variant_id != variant_id:
        raise _refuse(ErrorCode.INVALID, "The offer is for another variant.", "groupBuyId")
    _require_active(offer, now)
    return offer


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
        settled = await orders.cancel_unpaid(order.id, CancelReason.PAYMENT_DECLINED, runtime)
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
    event = GroupEvent.FILLED if settled.filled else GroupEvent.PAID
    await publish(runtime, event, group_state(settled.group))

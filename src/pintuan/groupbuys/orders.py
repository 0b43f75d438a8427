"""The order state machine: pay, cancel, refund, complete. Each step runs at most once
per order.

Rows are always locked in one order (allowance, group, offer, variant), the
same as when slots are taken, so concurrent transactions cannot deadlock.

Every transition is a conditional update on the order's status inside a
transaction with the holds it moves; side effects (gateway calls, live events)
come after the commit. A crash between the two is finished by the sweep.

The money each step moves is written by ``ledger``, the live events it causes
are sent by ``announce``, and which orders may complete is ``fulfilment``'s rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from pintuan.catalog.models import Variant
from pintuan.core import cache_tags, sql
from pintuan.core.clock import now_utc
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.core.ids import NodeType
from pintuan.groupbuys import events
from pintuan.groupbuys.announce import announce
from pintuan.groupbuys.fulfilment import ready_to_fulfil
from pintuan.groupbuys.ledger import OWED, issue_refund, record_money
from pintuan.groupbuys.models import Group, GroupBuy, GroupMember, GroupStatus, OfferAllowance
from pintuan.groupbuys.order_models import CancelReason, Order, OrderStatus, TransactionKind
from pintuan.groupbuys.progress import GroupEvent
from pintuan.groupbuys.runtime import Runtime


async def _release_allowance(order: Order) -> None:
    if order.group_buy_id is not None:
        await OfferAllowance.filter(group_buy_id=order.group_buy_id, user_id=order.buyer_id).update(
            quantity=F("quantity") - order.quantity
        )


async def _release_offer_stock(order: Order) -> None:
    if order.group_buy_id is not None:
        await GroupBuy.filter(id=order.group_buy_id).update(
            stock_taken=F("stock_taken") - order.quantity
        )
        cache_tags.wrote(cache_tags.entity(NodeType.GROUP_BUY, order.group_buy_id))


def _group_written(group_id: int) -> None:
    """Its members and slots show in the group and in the lists of joinable groups."""
    cache_tags.wrote(
        cache_tags.entity(NodeType.GROUP, group_id), cache_tags.listing(NodeType.GROUP)
    )


@dataclass(frozen=True, slots=True)
class Settled:
    order: Order
    changed: bool
    group: Group | None = None  # the order's group as this change left it
    filled: bool = False
    refunded_late: bool = False  # the money came for an order already cancelled
    closed_group: bool = False  # the leader's order fell through: its group is cancelled


async def take_charge(order: Order, reference: str, runtime: Runtime) -> Settled:
    """The gateway has the buyer's money: the order is paid, or, if it was cancelled
    meanwhile (its group failed, its offer was cancelled, its window lapsed), the
    charge is recorded and sent back. Both gateways settle through here.

    An order cancelled because its charge was declined was never charged: a claim
    that it was (a forged or stray event) writes nothing and refunds nothing."""
    settled = await mark_paid(order, reference, runtime.gateway.name)
    if settled.changed or settled.order.status != OrderStatus.CANCELLED:
        return settled
    if settled.order.failure_code == CancelReason.PAYMENT_DECLINED:
        return settled
    async with in_transaction():
        refunded = await Order.filter(id=order.id, status=OrderStatus.CANCELLED).update(
            status=OrderStatus.REFUNDED, refunded_at=now_utc()
        )
        if refunded:
            await record_money(
                settled.order, TransactionKind.CHARGE, runtime.gateway.name, reference
            )
            await record_money(settled.order, TransactionKind.REFUND, runtime.gateway.name, OWED)
    if not refunded:
        return settled
    await issue_refund(settled.order, runtime)
    return Settled(await Order.get(id=order.id), False, refunded_late=True)


async def mark_paid(order: Order, reference: str, gateway: str) -> Settled:
    """PENDING_PAYMENT -> PAID: record the charge, commit the stock, count the member.

    ``order`` may have been read before; when this call moves it, nothing else
    can have changed it since it was pending, so it is updated in place rather
    than read again. Otherwise the order is returned as the database has it.
    """
    now = now_utc()
    group = None
    async with in_transaction():
        changed = await sql.execute(
            'UPDATE "customer_order" SET "status" = $1, "paid_at" = $2 '
            'WHERE "id" = $3 AND "status" = $4',
            OrderStatus.PAID.value,
            now,
            order.id,
            OrderStatus.PENDING_PAYMENT.value,
        )
        if not changed:
            return Settled(await Order.get(id=order.id), False)
        order.status, order.paid_at = OrderStatus.PAID, now
        await record_money(order, TransactionKind.CHARGE, gateway, reference)
        await events.order_changed(events.ORDER_PAID, order)
        if order.group_id is not None:
            group = await _count_paid_member(order, now)
        await sql.execute(
            'UPDATE "variant" SET "stock_on_hand" = "stock_on_hand" - $1, '
            '"stock_reserved" = "stock_reserved" - $1 WHERE "id" = $2',
            order.quantity,
            order.variant_id,
        )
        # What is available is unchanged (the reserved units leave the shelf); the
        # group's member is now paid.
        if order.group_id is not None:
            _group_written(order.group_id)
    return Settled(order, True, group, group is not None and _filled_by_this(group))


async def _count_paid_member(order: Order, now: datetime) -> Group:
    """The member is paid; returns the group as that left it.

    Only the payment that brings an OPEN group's paid members to its size fills
    it (SET expressions read the row as it was), so a group fills exactly once.
    The member's own row is marked first: the group's row, which every payer of
    the group waits for, is locked as late as possible.
    """
    await sql.execute('UPDATE "group_member" SET "paid" = $1 WHERE "order_id" = $2', True, order.id)
    [group] = await sql.instances(
        Group,
        'UPDATE "buy_group" SET "paid_count" = "paid_count" + 1, "version" = "version" + 1, '
        '"status" = CASE WHEN "status" = $2 AND "paid_count" + 1 = "size" '
        'THEN $3 ELSE "status" END, '
        '"filled_at" = CASE WHEN "status" = $2 AND "paid_count" + 1 = "size" '
        'THEN $4 ELSE "filled_at" END '
        'WHERE "id" = $1 RETURNING *',
        order.group_id,
        GroupStatus.OPEN.value,
        GroupStatus.FILLED.value,
        now,
    )
    return group


def _filled_by_this(group: Group) -> bool:
    return group.status == GroupStatus.FILLED and group.paid_count == group.size


async def cancel_pending(
    order_id: int, reason: CancelReason, *, due_by: datetime | None = None
) -> Settled:
    """PENDING_PAYMENT -> CANCELLED: give back the slot, the stock and the allowance.

    With ``due_by``, only if the payment was due by then: a lapse claimed at the
    old due time leaves alone an order whose window has since been extended.

    A group lives only while its leader's order does: when that order falls
    through, the group is cancelled in the same transaction, so no one is shown
    or joins a group its leader never paid for (``cancel_unpaid`` then settles
    the other members and tells subscribers).
    """
    pending = Order.filter(id=order_id, status=OrderStatus.PENDING_PAYMENT)
    if due_by is not None:
        pending = pending.filter(payment_due_at__lte=due_by)
    closed_group = False
    async with in_transaction():
        now = now_utc()
        changed = await pending.update(
            status=OrderStatus.CANCELLED, cancelled_at=now, failure_code=reason
        )
        order = await Order.get(id=order_id)
        if changed:
            await _release_allowance(order)
            if order.group_id is not None:
                closed_group = bool(
                    await Group.filter(
                        id=order.group_id, leader_id=order.buyer_id, status=GroupStatus.OPEN
                    ).update(status=GroupStatus.CANCELLED, closed_at=now)
                )
                await Group.filter(id=order.group_id).update(
                    slots_taken=F("slots_taken") - 1, version=F("version") + 1
                )
                await GroupMember.filter(order_id=order.id).delete()
                _group_written(order.group_id)
            await _release_offer_stock(order)
            await Variant.filter(id=order.variant_id).update(
                stock_reserved=F("stock_reserved") - order.quantity
            )
            cache_tags.wrote(cache_tags.entity(NodeType.VARIANT, order.variant_id))
    return Settled(order, bool(changed), closed_group=closed_group)


async def cancel_unpaid(
    order_id: int, reason: CancelReason, runtime: Runtime, *, due_by: datetime | None = None
) -> Settled:
    """``cancel_pending``, then tell the order's group: a member left, or, when the
    leader's order fell through, the group closed and its other members are made whole.
    """
    settled = await cancel_pending(order_id, reason, due_by=due_by)
    group_id = settled.order.group_id
    if not settled.changed or group_id is None:
        return settled
    if settled.closed_group:
        await runtime.group_deadlines.cancel(group_id)
        await settle_group_orders(group_id, runtime, CancelReason.LEADER_UNPAID)
        await announce(runtime, GroupEvent.CANCELLED, group_id)
    else:
        await announce(runtime, GroupEvent.LEFT, group_id)
    return settled


async def refund_paid(order_id: int, runtime: Runtime) -> Settled:
    """PAID -> REFUNDED: stock returns to the shelf, then the gateway returns the money."""
    async with in_transaction():
        changed = await Order.filter(id=order_id, status=OrderStatus.PAID).update(
            status=OrderStatus.REFUNDED, refunded_at=now_utc()
        )
        order = await Order.get(id=order_id)
        if changed:
            await _release_allowance(order)
            await _release_offer_stock(order)
            await Variant.filter(id=order.variant_id).update(
                stock_on_hand=F("stock_on_hand") + order.quantity
            )
            cache_tags.wrote(cache_tags.entity(NodeType.VARIANT, order.variant_id))
            await record_money(order, TransactionKind.REFUND, runtime.gateway.name, OWED)
            await events.order_changed(events.ORDER_REFUNDED, order)
    if changed:
        await issue_refund(order, runtime)
    return Settled(order, bool(changed))


async def complete(order_id: int) -> Order:
    """PAID -> COMPLETED, once the merchant has delivered; final.

    Only an order ready to fulfil completes: until its group fills, the group may
    still fail and refund it. Once ready, an order only changes by this step (a
    FILLED group never fails, and only a failed group's orders are refunded), so
    the check and then a conditional update on the order's own status complete it
    exactly once, however many ask at the same moment.
    """
    completed = 0
    async with in_transaction():
        if await Order.filter(ready_to_fulfil(), id=order_id).exists():
            completed = await Order.filter(id=order_id, status=OrderStatus.PAID).update(
                status=OrderStatus.COMPLETED, completed_at=now_utc()
            )
        order = await Order.get(id=order_id)
        if completed:
            await events.order_changed(events.ORDER_COMPLETED, order)
    if completed:
        return order
    if order.status == OrderStatus.COMPLETED:
        raise DomainError(ErrorCode.ALREADY_COMPLETED, "The order is already completed.", "id")
    if order.status != OrderStatus.PAID:
        raise DomainError(
            ErrorCode.ORDER_NOT_PAID,
            f"Only a paid order completes; this one is {order.status.value.lower()}.",
            "id",
        )
    raise DomainError(
        ErrorCode.GROUP_NOT_FILLED,
        "The order's group has not filled yet: it may still fail and be refunded.",
        "id",
    )


async def settle_group_orders(group_id: int, runtime: Runtime, reason: CancelReason) -> None:
    """After a group failed or was cancelled: refund the paid, cancel the pending.

    Passes repeat until one finds nothing to do: a payment landing during a pass
    can turn an order read as pending into a paid one, which cancelling then
    leaves alone. Orders only move forward and none can join a closed group, so
    the passes end. The group is then marked settled, only if (checked in that
    statement) none of its orders is paid or pending; otherwise it stays on the
    sweep's list.
    """
    owing = [OrderStatus.PAID, OrderStatus.PENDING_PAYMENT]
    while found := await Order.filter(group_id=group_id, status__in=owing).values_list(
        "id", "status"
    ):
        for order_id, status in cast(list[tuple[int, OrderStatus]], found):
            if status == OrderStatus.PAID:
                await refund_paid(order_id, runtime)
            else:
                await cancel_pending(order_id, reason)
    await sql.execute(
        'UPDATE "buy_group" SET "settled_at" = $1 WHERE "id" = $2 AND "settled_at" IS NULL '
        'AND NOT EXISTS (SELECT 1 FROM "customer_order" '
        'WHERE "group_id" = $2 AND "status" IN ($3, $4))',
        now_utc(),
        group_id,
        OrderStatus.PAID.value,
        OrderStatus.PENDING_PAYMENT.value,
    )

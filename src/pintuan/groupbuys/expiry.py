"""Expiry: groups whose timer ran out fail once, unpaid orders lapse, and a sweep
catches up on whatever a stopped process left.

Each step runs outside any request, so each purges the cached answers that read what
it changed (the group, its offer's stock, the variant's) once it has committed.
"""

from __future__ import annotations

from datetime import datetime

from tortoise.expressions import F

from pintuan.core import cache_tags, sql
from pintuan.core.clock import now_utc
from pintuan.groupbuys import ledger, offers, orders
from pintuan.groupbuys.announce import announce
from pintuan.groupbuys.models import Group, GroupBuy, GroupStatus
from pintuan.groupbuys.order_models import CancelReason, Order, OrderStatus
from pintuan.groupbuys.progress import GroupEvent
from pintuan.groupbuys.runtime import Runtime


async def expire_group(group_id: int, runtime: Runtime) -> bool:
    """OPEN past its timer -> FAILED, once; then every member is made whole.

    A group that an earlier end of its offer cut short runs on instead: the
    extension meant to move it may have stopped between its commit and the move.
    """
    async with cache_tags.purging(runtime.purge):
        return await _expire_group(group_id, runtime)


async def _expire_group(group_id: int, runtime: Runtime) -> bool:
    group = await sql.by_id(Group, group_id)
    if group is None or group.status != GroupStatus.OPEN:
        return False
    if await offers.run_on(group, await GroupBuy.get(id=group.group_buy_id), runtime):
        return True
    now = now_utc()
    failed = await Group.filter(id=group_id, status=GroupStatus.OPEN, expires_at__lte=now).update(
        status=GroupStatus.FAILED, closed_at=now, version=F("version") + 1
    )
    if failed:
        await orders.settle_group_orders(group_id, runtime, CancelReason.GROUP_FAILED)
        await announce(runtime, GroupEvent.FAILED, group_id)
    return bool(failed)


async def sweep(runtime: Runtime) -> int:
    """Catch up on anything a crashed or absent scheduler left: returns how much it did."""
    now = now_utc()
    done = 0
    for group_id in await Group.filter(status=GroupStatus.OPEN, expires_at__lte=now).values_list(
        "id", flat=True
    ):
        done += await expire_group(int(group_id), runtime)  # type: ignore[call-overload]
    reasons = {
        GroupStatus.FAILED: CancelReason.GROUP_FAILED,
        GroupStatus.CANCELLED: CancelReason.OFFER_CANCELLED,
    }
    unsettled = await Group.filter(status__in=list(reasons), settled_at=None).values_list(
        "id", "status"
    )
    for group_id, status in unsettled:
        async with cache_tags.purging(runtime.purge):
            await orders.settle_group_orders(group_id, runtime, reasons[GroupStatus(status)])
        done += 1
    for order in await ledger.refunds_owed():
        done += await ledger.issue_refund(order, runtime)  # money only: no answer shows it
    for order in await Order.filter(status=OrderStatus.PENDING_PAYMENT, payment_due_at__lte=now):
        done += await lapse_payment(order.id, runtime)
    return done


async def lapse_payment(order_id: int, runtime: Runtime) -> bool:
    async with cache_tags.purging(runtime.purge):
        settled = await orders.cancel_unpaid(
            order_id, CancelReason.PAYMENT_EXPIRED, runtime, due_by=now_utc()
        )
    return settled.changed


async def live_deadlines() -> tuple[list[tuple[int, datetime]], list[tuple[int, datetime]]]:
    """Every open group's expiry and every pending payment's due time, to rebuild the live layer."""
    groups = await Group.filter(status=GroupStatus.OPEN).values_list("id", "expires_at")
    payments = await Order.filter(
        status=OrderStatus.PENDING_PAYMENT, payment_due_at__isnull=False
    ).values_list("id", "payment_due_at")
    return [(int(i), at) for i, at in groups], [(int(i), at) for i, at in payments]

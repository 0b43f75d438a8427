"""Payment outcomes reported by the gateway's webhook, each handled at most once."""

from __future__ import annotations

from enum import StrEnum

from tortoise.exceptions import IntegrityError

from pintuan.core import cache_tags
from pintuan.groupbuys import orders, purchases
from pintuan.groupbuys.order_models import (
    CancelReason,
    Order,
    PaymentEvent,
)
from pintuan.groupbuys.runtime import Runtime


class Outcome(StrEnum):
    PAID = "PAID"
    DECLINED = "DECLINED"
    DUPLICATE = "DUPLICATE"
    LATE_REFUNDED = "LATE_REFUNDED"
    IGNORED = "IGNORED"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"


async def handle_event(
    event_id: str, kind: str, order_id: int, reference: str, runtime: Runtime
) -> Outcome:
    """Apply a gateway event; replays of an event id change nothing.

    The event is recorded after it is applied: every step is itself idempotent,
    so a delivery retried after a crash in between is simply applied again. A
    webhook is no GraphQL request: what it changed is purged from the response
    cache here, once applied.
    """
    async with cache_tags.purging(runtime.purge):
        return await _handle_event(event_id, kind, order_id, reference, runtime)


async def _handle_event(
    event_id: str, kind: str, order_id: int, reference: str, runtime: Runtime
) -> Outcome:
    if await PaymentEvent.exists(event_id=event_id):
        return Outcome.DUPLICATE
    order = await Order.get_or_none(id=order_id)
    if order is None:
        return Outcome.UNKNOWN_ORDER
    if not runtime.gateway.confirms_by_webhook:
        # No charge of this gateway awaits an event: believing one would pay, or
        # refund, an order that was never charged.
        outcome = Outcome.IGNORED
    elif kind == "payment.succeeded":
        outcome = await _succeeded(order, reference, runtime)
    elif kind == "payment.failed":
        settled = await orders.cancel_unpaid(order.id, CancelReason.PAYMENT_DECLINED, runtime)
        outcome = Outcome.DECLINED if settled.changed else Outcome.IGNORED
    else:
        outcome = Outcome.IGNORED
    try:
        await PaymentEvent.create(event_id=event_id, order_id=order.id, kind=kind, outcome=outcome)
    except IntegrityError:
        return Outcome.DUPLICATE
    return outcome


async def _succeeded(order: Order, reference: str, runtime: Runtime) -> Outcome:
    settled = await orders.take_charge(order, reference, runtime)
    if settled.changed:
        await purchases.after_payment(settled, runtime)
        return Outcome.PAID
    return Outcome.LATE_REFUNDED if settled.refunded_late else Outcome.IGNORED

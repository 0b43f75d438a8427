"""The money ledger: one row per order and kind (charge, refund), and refunds owed.

The unique ``(order, kind)`` key makes the database refuse a second charge or
refund. A refund is recorded as OWED inside the transaction that moves its order,
then returned by the gateway after the commit; a crash in between leaves it owed,
and the sweep finishes it. Whoever returns it first claims it, so it goes to the
gateway once however many callers find it owed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from pintuan.core import sql
from pintuan.core.clock import now_utc
from pintuan.groupbuys.order_models import Order, PaymentTransaction, TransactionKind
from pintuan.groupbuys.runtime import Runtime

# The reference of a refund recorded but not yet returned by the gateway.
OWED = ""
# How long a claim on an owed refund keeps other callers away: far longer than a
# gateway call takes, so only a claimer that died leaves a claim to lapse.
CLAIM_SECONDS = 300


async def record_money(order: Order, kind: TransactionKind, gateway: str, reference: str) -> None:
    """Record the order's charge or refund; a second of the same kind is an IntegrityError."""
    await sql.execute(
        'INSERT INTO "payment_transaction" ("order_id", "kind", "amount", "currency", "gateway", '
        '"reference", "created_at") VALUES ($1, $2, $3, $4, $5, $6, $7)',
        order.id,
        kind.value,
        order.total,
        order.currency,
        gateway,
        reference,
        now_utc(),
    )


async def issue_refund(order: Order, runtime: Runtime) -> bool:
    """Return the money of a refund recorded as owed; True if this call returned it.

    Many callers can find the same refund owed at once (the caller that recorded
    it, every scheduler's sweep, in any process), and a gateway call takes a while:
    only the caller whose conditional update claims the row goes to the gateway.
    A claim that fails in the gateway is given back for the next sweep; one left by
    a dead process lapses after ``CLAIM_SECONDS``. The order id is the gateway's
    idempotency key, so a retry after an unknown outcome returns nothing twice.
    """
    now = now_utc()
    claimed = await _owed_refunds(now).filter(order_id=order.id).update(claimed_at=now)
    if not claimed:
        return False
    owed = PaymentTransaction.filter(
        order_id=order.id, kind=TransactionKind.REFUND, reference=OWED, claimed_at=now
    )
    try:
        reference = await runtime.gateway.refund(order.id, order.total, order.currency)
    except BaseException:
        await owed.update(claimed_at=None)
        raise
    await owed.update(reference=reference)
    return True


def _owed_refunds(now: datetime) -> QuerySet[PaymentTransaction]:
    """Refunds owed that no live claim holds."""
    lapsed = now - timedelta(seconds=CLAIM_SECONDS)
    return PaymentTransaction.filter(
        Q(claimed_at=None) | Q(claimed_at__lte=lapsed), kind=TransactionKind.REFUND, reference=OWED
    )


async def refunds_owed() -> Sequence[Order]:
    """Orders whose recorded refund never reached the gateway (a crash in between)."""
    owed = _owed_refunds(now_utc())
    return await Order.filter(id__in=Subquery(owed.values("order_id")))

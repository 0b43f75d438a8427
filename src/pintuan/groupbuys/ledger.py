"""The money ledger: one row per order and kind (charge, refund), and refunds owed.

The unique ``(order, kind)`` key makes the database refuse a second charge or
refund. A refund is recorded as OWED inside the transaction that moves its order,
then returned by the gateway after the commit; a crash in between leaves it owed,
and the sweep finishes it.
"""

from __future__ import annotations

from collections.abc import Sequence

from tortoise.expressions import Subquery

from pintuan.core import sql
from pintuan.core.clock import now_utc
from pintuan.groupbuys.order_models import Order, PaymentTransaction, TransactionKind
from pintuan.groupbuys.runtime import Runtime

# The reference of a refund recorded but not yet returned by the gateway.
OWED = ""


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


async def issue_refund(order: Order, runtime: Runtime) -> None:
    """Return the money of a refund recorded as owed, and note the gateway's reference.

    The gateway is idempotent per order, so a sweep that finds the refund owed
    while its first caller is still waiting on the gateway refunds nothing twice.
    """
    if not await PaymentTransaction.exists(
        order_id=order.id, kind=TransactionKind.REFUND, reference=OWED
    ):
        return
    reference = await runtime.gateway.refund(order.id, order.total, order.currency)
    await sql.execute(
        'UPDATE "payment_transaction" SET "reference" = $1 '
        'WHERE "order_id" = $2 AND "kind" = $3 AND "reference" = $4',
        reference,
        order.id,
        TransactionKind.REFUND.value,
        OWED,
    )


async def refunds_owed() -> Sequence[Order]:
    """Orders whose recorded refund never reached the gateway (a crash in between)."""
    owed = PaymentTransaction.filter(kind=TransactionKind.REFUND, reference=OWED)
    return await Order.filter(id__in=Subquery(owed.values("order_id")))

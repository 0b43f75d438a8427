"""Outbox topics the group-buy domain emits, each in the transaction of its change.

Payloads carry ids, amounts and times (ISO 8601, UTC); a handler reads anything
else it needs from the database. Other domains react to these; this domain never
calls them.
"""

from __future__ import annotations

from pintuan.core import outbox
from pintuan.groupbuys.order_models import Order

ORDER_PAID = "groupbuys.order.paid"
ORDER_COMPLETED = "groupbuys.order.completed"
ORDER_REFUNDED = "groupbuys.order.refunded"


async def order_changed(topic: str, order: Order) -> None:
    """Record that ``order`` just moved, on the transaction that moved it."""
    await outbox.emit(
        topic,
        {
            "order_id": order.id,
            "buyer_id": order.buyer_id,
            "merchant_id": order.merchant_id,
            "total": order.total,
            "currency": order.currency,
            "created_at": order.created_at.isoformat(),
        },
    )

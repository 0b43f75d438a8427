"""The fulfilment rule: which paid orders no failure can refund any more.

An order bought alone, or in a group that FILLED (a FILLED group never fails), is
ready to ship. The rule has two forms that must agree: a query filter
for lists, and as a test for one order whose group has been read.
"""

from __future__ import annotations

from tortoise.expressions import Q

from pintuan.groupbuys.models import GroupStatus
from pintuan.groupbuys.order_models import OrderStatus


def ready_to_fulfil() -> Q:
    """Orders paid that no failure can refund any more, as a filter."""
    return Q(status=OrderStatus.PAID) & (
        Q(group_id__isnull=True) | Q(group__status=GroupStatus.FILLED)
    )


def is_ready_to_fulfil(status: OrderStatus, group_status: GroupStatus | None) -> bool:
    """``ready_to_fulfil`` for one order; ``group_status`` is None for one bought alone."""
    return status == OrderStatus.PAID and group_status in (None, GroupStatus.FILLED)

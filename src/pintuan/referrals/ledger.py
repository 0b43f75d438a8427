"""The commission ledger: what each order earned whom, and when it may be withdrawn.

Every function here is an idempotent consumer of an order's events (paid,
completed, refunded) or a periodic step, so it may run any number of times, in
any number of processes, and leave the ledger as one run would:

- ``post_earnings`` writes one entry per (order, beneficiary, kind); the unique
  key makes a second call write nothing.
- An entry is ``PENDING`` while its order is paid; ``release_due`` makes it
  ``AVAILABLE`` once the order is ``COMPLETED``, the freeze window has passed
  since completion and the order is not refunded; ``on_order_refunded`` makes a
  pending entry ``REVERSED`` and answers an available one with a ``REVERSAL``
  entry of the opposite amount, available at once (which may leave the balance
  negative until later earnings net it out).
- Each state moves by a conditional update, so racing calls move it once.
- Inside ``journal()`` every entry written or moved is collected as the write
  left it, so the caller can announce it (``myEarnings``) once it has committed.

The functions that read the order lock its row first: an event handled while
another of the same order is being handled waits for it, and then sees the
order and the entries as that one left them.

Rounding: a plan computes each amount in integer minor units of the order's
currency, rounded down by the plans (``rounding.share``); the remainder of every split stays
with the platform, so the ledger never pays out more than the rates say.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from pintuan.core import sql
from pintuan.core.clock import now_utc
from pintuan.groupbuys.order_models import Order, OrderStatus
from pintuan.referrals.ledger_models import CommissionEntry, EntryState, EntryType
from pintuan.referrals.settlement import Earning

RELEASE_BATCH = 500

_INSERT = (
    'INSERT INTO "commission_entry" ("order_id", "beneficiary_id", "kind", "entry_type", '
    '"amount", "currency", "plan_version", "rule", "state", "order_completed_at", '
    '"created_at", "available_at", "reversed_at") '
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
    'ON CONFLICT ("order_id", "beneficiary_id", "kind", "entry_type") DO NOTHING RETURNING *'
)


@dataclass(frozen=True, slots=True)
class EntryChange:
    """An entry as one write left it: newly ``created``, or moved to its ``state``."""

    created: bool
    entry: CommissionEntry


_journal: ContextVar[list[EntryChange] | None] = ContextVar("pintuan_ledger_journal", default=None)


@contextmanager
def journal() -> Iterator[list[EntryChange]]:
    """Collect the entries the ledger writes or moves inside the block. They are
    not yet committed when collected: announce them after the caller's commit."""
    changes: list[EntryChange] = []
    token = _journal.set(changes)
    try:
        yield changes
    finally:
        _journal.reset(token)


def _noted(created: bool, rows: list[dict[str, object]]) -> int:
    """Record ``rows`` (whole entries) in the open journal, if any; returns how many."""
    changes = _journal.get()
    if changes is not None:
        changes.extend(EntryChange(created, sql.instance(CommissionEntry, row)) for row in rows)
    return len(rows)


async def _insert(*values: object) -> int:
    """Write one entry unless its key exists; 1 if written. (Counted from RETURNING:
    the row count asyncpg reports for an INSERT is not the number of rows.)"""
    return _noted(True, await sql.rows(_INSERT, *values))


async def _locked_order(order_id: int) -> Order:
    """The order as last committed, its row locked until the transaction ends."""
    order = await Order.filter(id=order_id).select_for_update(no_key=True).first()
    if order is None:
        raise LookupError(f"no order {order_id}")
    return order


async def post_earnings(order_id: int, earnings: Sequence[Earning]) -> int:
    """Record what a paid order earned; returns how many entries were new.

    Entries already recorded for the same (order, beneficiary, kind) are left as
    they are, whatever this call says. An event that arrives after the order
    moved on still lands right: an order already completed starts its freeze
    window at its completion, one already refunded is recorded as REVERSED.
    """
    for earning in earnings:
        earning.check()
    keys = [(e.beneficiary_id, e.kind) for e in earnings]
    if len(set(keys)) != len(keys):
        raise ValueError("one earning per beneficiary and kind")
    now = now_utc()
    async with in_transaction():
        order = await _locked_order(order_id)
        if order.status in (OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED):
            raise ValueError(f"order {order_id} was never paid, so it earns nothing")
        refunded = order.status == OrderStatus.REFUNDED
        state = EntryState.REVERSED if refunded else EntryState.PENDING
        written = 0
        for earning in earnings:
            written += await _insert(
                order_id,
                earning.beneficiary_id,
                earning.kind.value,
                EntryType.EARNING.value,
                earning.amount,
                order.currency,
                earning.plan_version,
                earning.rule,
                state.value,
                order.completed_at,
                now,
                None,
                now if refunded else None,
            )
    return written


async def on_order_completed(order_id: int) -> int:
    """The order was completed: its entries' freeze window starts at its completion.

    Returns how many entries learned it; nothing happens unless the order is
    ``COMPLETED``.
    """
    async with in_transaction():
        order = await _locked_order(order_id)
        if order.status != OrderStatus.COMPLETED or order.completed_at is None:
            return 0
        return await sql.execute(
            'UPDATE "commission_entry" SET "order_completed_at" = $1 '
            'WHERE "order_id" = $2 AND "state" = $3 AND "order_completed_at" IS NULL',
            order.completed_at,
            order_id,
            EntryState.PENDING.value,
        )


async def on_order_refunded(order_id: int) -> int:
    """The order was refunded: pending entries are REVERSED, available ones reversed
    by a REVERSAL entry. Returns how many entries changed or were written;
    nothing happens unless the order is ``REFUNDED``."""
    now = now_utc()
    async with in_transaction():
        order = await _locked_order(order_id)
        if order.status != OrderStatus.REFUNDED:
            return 0
        reversed_ = await sql.rows(
            'UPDATE "commission_entry" SET "state" = $1, "reversed_at" = $2 '
            'WHERE "order_id" = $3 AND "state" = $4 RETURNING *',
            EntryState.REVERSED.value,
            now,
            order_id,
            EntryState.PENDING.value,
        )
        changed = _noted(False, reversed_)
        released = await CommissionEntry.filter(
            order_id=order_id, entry_type=EntryType.EARNING, state=EntryState.AVAILABLE
        )
        for entry in released:
            changed += await _insert(
                order_id,
                entry.beneficiary_id,
                entry.kind,
                EntryType.REVERSAL.value,
                -entry.amount,
                entry.currency,
                entry.plan_version,
                entry.rule,
                EntryState.AVAILABLE.value,
                entry.order_completed_at,
                now,
                now,
                None,
            )
    return changed


async def release_due(now: datetime, freeze_seconds: int) -> int:
    """Make AVAILABLE every pending entry whose order completed at least
    ``freeze_seconds`` before ``now`` and is still ``COMPLETED`` (not refunded);
    returns how many. Run it periodically; racing runs release each entry once."""
    cutoff = now - timedelta(seconds=freeze_seconds)
    released = 0
    while True:
        moved = await sql.rows(
            'UPDATE "commission_entry" SET "state" = $1, "available_at" = $2 '
            'WHERE "state" = $3 AND "id" IN ('
            'SELECT e."id" FROM "commission_entry" e JOIN "customer_order" o '
            'ON o."id" = e."order_id" '
            'WHERE e."state" = $3 AND e."order_completed_at" <= $4 AND o."status" = $5 '
            'ORDER BY e."order_completed_at" LIMIT $6) RETURNING *',
            EntryState.AVAILABLE.value,
            now,
            EntryState.PENDING.value,
            cutoff,
            OrderStatus.COMPLETED.value,
            RELEASE_BATCH,
        )
        batch = _noted(False, moved)
        released += batch
        if batch < RELEASE_BATCH:
            return released

"""The transactional outbox: events written with the change that causes them, delivered
at least once to the handlers registered for their topic.

``emit`` inserts an event on the caller's transaction, so the event exists exactly
when the change does. A consumer works through a batch of due events one event
per transaction: it claims the event (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
so concurrent consumers take different events; SQLite serialises transactions,
so one consumer at a time holds one anyway) and hands it to every handler of its
topic that has no receipt for it yet. Each delivery runs in a savepoint that
first inserts the (handler, event) receipt, then runs the handler: the handler's
writes and its receipt commit together or not at all, and the receipt's unique
key stops a second delivery. A handler that raises rolls back its own savepoint
and the event is retried after a growing delay; the other handlers' deliveries
stand. A consumer killed mid-event rolls that event back, so the next one redoes it.

One event per transaction, not one batch: the rows a handler locks (team
counters shared by many uplines) are held until the transaction ends, and a
batch would take each event's rows in its own order, so two consumers whose
batches touch the same rows in different orders deadlock. A handler that takes
its rows in a fixed order within its event cannot.

A handler that must tell the world once its writes are visible (a live
notification) registers it with ``after_commit``: it runs once the event's
transaction commits, never for a delivery whose savepoint rolled back, and is lost, like
any live notification, if the process dies in between.

Events are delivered in order of their id, except that an event waiting for a
retry does not hold back later ones: handlers must not rely on order.

Delivered events (every handler's receipt written, so ``delivered_at`` set) are
deleted with their receipts once older than the retention (``run_pruning``), in
batches; an undelivered event is never deleted, however old.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from tortoise import connections, fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from pintuan.core import cache_tags, sql
from pintuan.core.clock import now_utc

log = logging.getLogger("pintuan.outbox")

JsonValue = int | str | bool | None
MAX_ERROR_CHARS = 2000
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 300.0
PRUNE_BATCH = 1000


AfterCommit = Callable[[], Awaitable[None]]
_after_commit: ContextVar[list[AfterCommit] | None] = ContextVar(
    "pintuan_outbox_after_commit", default=None
)


def after_commit(callback: AfterCommit) -> None:
    """Run ``callback`` once the transaction of the delivery calling this has committed;
    it is dropped if that delivery rolls back. Only handlers may call it."""
    pending = _after_commit.get()
    if pending is None:
        raise RuntimeError("after_commit is for outbox handlers, inside a delivery")
    pending.append(callback)


async def _run_after_commit(callbacks: list[AfterCommit]) -> None:
    for callback in callbacks:
        try:
            await callback()
        except Exception:  # a notification never undoes what was committed
            log.exception("an outbox after-commit callback failed")


class OutboxEvent(Model):
    id = fields.BigIntField(primary_key=True)
    topic = fields.CharField(max_length=64)
    payload: dict[str, Any] = fields.JSONField()
    created_at = fields.DatetimeField()
    # Not before: a failed delivery moves it on by the retry delay.
    available_at = fields.DatetimeField()
    attempts = fields.IntField(default=0)
    last_error = fields.TextField(null=True)
    delivered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_event"
        indexes = (("delivered_at", "available_at"),)


class OutboxReceipt(Model):
    # One handler has applied one event: the unique pair makes delivery idempotent.
    id = fields.BigIntField(primary_key=True)
    handler = fields.CharField(max_length=100)
    event: fields.ForeignKeyRelation[OutboxEvent] = fields.ForeignKeyField(
        "pintuan.OutboxEvent", related_name="receipts", on_delete=fields.CASCADE
    )
    event_id: int
    delivered_at = fields.DatetimeField()

    class Meta:
        table = "outbox_receipt"
        unique_together = (("handler", "event"),)


async def emit(topic: str, payload: Mapping[str, JsonValue]) -> None:
    """Record an event on the current transaction: call it inside the transaction
    that makes the change, so the event commits, or rolls back, with it."""
    now = now_utc()
    await sql.execute(
        'INSERT INTO "outbox_event" ("topic", "payload", "created_at", "available_at", '
        '"attempts") VALUES ($1, $2, $3, $3, 0)',
        topic,
        orjson.dumps(dict(payload)).decode(),
        now,
    )


@dataclass(frozen=True, slots=True)
class Event:
    """What a handler is given."""

    id: int
    topic: str
    payload: dict[str, Any]
    created_at: datetime


Handler = Callable[[Event], Awaitable[None]]


class Handlers:
    """Which named handlers react to which topics. A handler's name keys its
    receipts, so it must stay the same across releases."""

    def __init__(self) -> None:
        self._by_topic: dict[str, list[tuple[str, Handler]]] = defaultdict(list)
        self._names: set[str] = set()

    def register(self, name: str, topics: Iterable[str], handler: Handler) -> None:
        if name in self._names:
            raise ValueError(f"an outbox handler named {name!r} is already registered")
        self._names.add(name)
        for topic in topics:
            self._by_topic[topic].append((name, handler))

    def of(self, topic: str) -> list[tuple[str, Handler]]:
        return self._by_topic.get(topic, [])


@dataclass(frozen=True, slots=True)
class Lag:
    pending: int
    oldest_seconds: float  # age of the oldest undelivered event; 0 when none


async def lag(now: datetime | None = None) -> Lag:
    """How far delivery is behind: undelivered events and the age of the oldest."""
    [row] = await sql.rows(
        'SELECT COUNT(*) AS "pending", MIN("created_at") AS "oldest" FROM "outbox_event" '
        'WHERE "delivered_at" IS NULL'
    )
    oldest = row["oldest"]
    if oldest is None:
        return Lag(0, 0.0)
    if isinstance(oldest, str):  # SQLite returns an aggregate's timestamp as text
        oldest = datetime.fromisoformat(oldest)
    age = ((now or now_utc()) - oldest).total_seconds()
    return Lag(int(row["pending"]), max(0.0, age))


async def prune_delivered(before: datetime, batch_size: int = PRUNE_BATCH) -> int:
    """Delete events delivered before ``before`` (and, by cascade, their receipts),
    ``batch_size`` per statement so no statement holds many locks; returns how many."""
    pruned = 0
    while True:
        # Counted from RETURNING: SQLite's row count includes the cascaded receipts.
        deleted = await sql.rows(
            'DELETE FROM "outbox_event" WHERE "id" IN (SELECT "id" FROM "outbox_event" '
            'WHERE "delivered_at" IS NOT NULL AND "delivered_at" < $1 '
            'ORDER BY "delivered_at" LIMIT $2) RETURNING "id"',
            before,
            batch_size,
        )
        batch = len(deleted)
        pruned += batch
        if batch < batch_size:
            return pruned


async def run_pruning(retention_seconds: int, interval_seconds: float) -> None:
    """Prune what was delivered more than ``retention_seconds`` ago, every interval.
    Any number of processes may run it: a row is deleted once."""
    task = asyncio.current_task()
    while True:
        if task is not None and task.cancelling():
            raise asyncio.CancelledError
        try:
            pruned = await prune_delivered(now_utc() - timedelta(seconds=retention_seconds))
            if pruned:
                log.info("pruned %d delivered outbox events", pruned)
        except Exception:  # keep pruning; the next run retries
            log.exception("outbox pruning failed")
        await asyncio.sleep(interval_seconds)


async def unapplied(handler: str, topics: Iterable[str]) -> list[Event]:
    """Events of ``topics`` the named handler has not applied yet (no receipt), which
    it will: a recount must leave their effect to it. Delivered events are applied
    by every handler, so only undelivered ones (never pruned) are read."""
    wanted = list(topics)
    marks = ", ".join(f"${n}" for n in range(2, len(wanted) + 2))
    rows = await sql.rows(
        'SELECT "id", "topic", "payload", "created_at" FROM "outbox_event" e '
        f'WHERE "delivered_at" IS NULL AND "topic" IN ({marks}) AND NOT EXISTS ('
        'SELECT 1 FROM "outbox_receipt" r WHERE r."event_id" = e."id" AND r."handler" = $1) '
        'ORDER BY "id"',
        handler,
        *wanted,
    )
    return [_event(row) for row in rows]


def retry_delay(attempts: int) -> timedelta:
    """Doubling from one second, capped at five minutes."""
    seconds = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** min(attempts - 1, 30))
    return timedelta(seconds=seconds)


class Consumer:
    def __init__(
        self,
        handlers: Handlers,
        *,
        batch_size: int = 100,
        poll_seconds: float = 0.2,
        purge: cache_tags.Purge | None = None,
    ) -> None:
        self.handlers = handlers
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.purge = purge  # of cached answers that read what handlers wrote

    async def run_once(self, now: datetime | None = None) -> int:
        """Deliver up to a batch of due events, each in its own transaction; returns
        how many were claimed. What the handlers wrote is purged from the response
        cache once its transaction commits."""
        moment = now or now_utc()
        for claimed in range(self.batch_size):
            committed: list[AfterCommit] = []
            async with cache_tags.purging(self.purge), in_transaction():
                found = await self._claim(moment)
                if found is None:
                    return claimed
                event, attempts = found
                done = await _receipts(event.id)
                await self._deliver(event, attempts, done, moment, committed)
            await _run_after_commit(committed)
        return self.batch_size

    async def run(self) -> None:
        """Deliver until cancelled, polling when there is nothing to do."""
        task = asyncio.current_task()
        while True:
            if task is not None and task.cancelling():
                raise asyncio.CancelledError
            try:
                claimed = await self.run_once()
            except Exception:  # keep consuming; the event rolled back and is claimed again
                log.exception("outbox delivery failed")
                claimed = 0
            if claimed < self.batch_size:
                await asyncio.sleep(self.poll_seconds)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """``run`` as a task for as long as the block runs."""
        task = asyncio.create_task(self.run(), name="outbox-consumer")
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _claim(self, now: datetime) -> tuple[Event, int] | None:
        """The next due event with its attempts so far, locked until this transaction
        ends; None when none is due (or every due one is another consumer's)."""
        locking = (
            " FOR UPDATE SKIP LOCKED"
            if connections.get("default").capabilities.dialect == "postgres"
            else ""
        )
        rows = await sql.rows(
            'SELECT "id", "topic", "payload", "created_at", "attempts" FROM "outbox_event" '
            'WHERE "delivered_at" IS NULL AND "available_at" <= $1 '
            f'ORDER BY "id" LIMIT 1{locking}',
            now,
        )
        return (_event(rows[0]), int(rows[0]["attempts"])) if rows else None

    async def _deliver(
        self,
        event: Event,
        attempts: int,
        done: set[str],
        now: datetime,
        committed: list[AfterCommit],
    ) -> None:
        failure: str | None = None
        for name, handler in self.handlers.of(event.topic):
            if name in done:
                continue
            pending: list[AfterCommit] = []
            token = _after_commit.set(pending)
            try:
                async with in_transaction():
                    await sql.execute(
                        'INSERT INTO "outbox_receipt" ("handler", "event_id", "delivered_at") '
                        "VALUES ($1, $2, $3)",
                        name,
                        event.id,
                        now,
                    )
                    await handler(event)
            except Exception as exc:
                log.warning("outbox handler %s failed on event %d", name, event.id, exc_info=True)
                failure = f"{name}: {exc!r}"[:MAX_ERROR_CHARS]
            else:
                committed.extend(pending)
            finally:
                _after_commit.reset(token)
        if failure is None:
            await sql.execute(
                'UPDATE "outbox_event" SET "delivered_at" = $1 WHERE "id" = $2', now, event.id
            )
            return
        await sql.execute(
            'UPDATE "outbox_event" SET "attempts" = "attempts" + 1, "last_error" = $1, '
            '"available_at" = $2 WHERE "id" = $3',
            failure,
            now + retry_delay(attempts + 1),
            event.id,
        )


async def _receipts(event_id: int) -> set[str]:
    """The handlers that already applied the event (a retried event keeps its receipts)."""
    rows = await sql.rows('SELECT "handler" FROM "outbox_receipt" WHERE "event_id" = $1', event_id)
    return {str(row["handler"]) for row in rows}


def _event(row: dict[str, Any]) -> Event:
    payload = row["payload"]
    if isinstance(payload, str | bytes):
        payload = orjson.loads(payload)
    created_at = row["created_at"]
    if isinstance(created_at, str):
        created_at = datetime.fromisoformat(created_at)
    return Event(int(row["id"]), str(row["topic"]), dict(payload), created_at)

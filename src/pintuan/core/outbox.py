"""The transactional outbox: events written with the change that causes them, delivered
at least once to the handlers registered for their topic.

``emit`` inserts an event on the caller's transaction, so the event exists exactly
when the change does. A consumer works through a batch of due events one event
per transaction: it claims the event (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
so concurrent consumers take different events; SQLite serialises transactions,
so one consumer at a time holds one anyway) and hands it to every handler of its
topic that has no receipt for it yet. A handler's writes and its (handler, event)
receipt commit together or not at all, and the receipt's unique key stops a
second delivery. A consumer killed mid-event rolls that event back, so the next
one redoes it.

An event's first try runs every handler on the event's transaction and writes
their receipts at the end, in one statement: the common case costs no savepoints.
If any handler raises, that transaction rolls back and the event is delivered
again at once, each handler in a savepoint of its own, as every retry is: a
handler that raises there rolls back only its savepoint, the other handlers'
deliveries stand, and the event is retried after a growing delay.

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


class _FirstTryFailed(Exception):
    """A handler raised on an event's first try: roll it back, deliver one by one."""

    def __init__(self, event_id: int) -> None:
        super().__init__(event_id)
        self.event_id = event_id


class Consumer:
    def __init__(
        self,
        handlers: Handlers,
        *,
        batch_size: int = 100,
        poll_seconds: float = 0.2,
        concurrency: int = 1,
        purge: cache_tags.Purge | None = None,
    ) -> None:
        self.handlers = handlers
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        # Deliveries at once in ``running``: each waits on the database most of its
        # time, and on PostgreSQL each claims a different event.
        self.concurrency = concurrency
        self.purge = purge  # of cached answers that read what handlers wrote

    async def run_once(self, now: datetime | None = None) -> int:
        """Deliver up to a batch of due events, each in its own transaction; returns
        how many were claimed. What the handlers wrote is purged from the response
        cache once its transaction commits."""
        moment = now or now_utc()
        for claimed in range(self.batch_size):
            if not await self._deliver_next(moment):
                return claimed
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
        """``run`` as ``concurrency`` tasks for as long as the block runs."""
        tasks = [
            asyncio.create_task(self.run(), name=f"outbox-consumer-{n}")
            for n in range(self.concurrency)
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with suppress(asyncio.CancelledError):
                    await task

    async def _deliver_next(self, now: datetime) -> bool:
        """Deliver the next due event; False when none is due."""
        committed: list[AfterCommit] = []
        try:
            async with cache_tags.purging(self.purge), in_transaction():
                found = await self._claim(now)
                if found is None:
                    return False
                event, attempts = found
                if attempts == 0:  # never tried, so no handler has a receipt for it
                    await self._deliver_together(event, now, committed)
                else:
                    done = await _receipts(event.id)
                    await self._deliver_apart(event, attempts, done, now, committed)
        except _FirstTryFailed as failed:
            committed = []
            async with cache_tags.purging(self.purge), in_transaction():
                found = await self._claim(now, failed.event_id)
                if found is None:  # another consumer took it meanwhile
                    return True
                event, attempts = found
                done = await _receipts(event.id) if attempts else set()
                await self._deliver_apart(event, attempts, done, now, committed)
        await _run_after_commit(committed)
        return True

    async def _claim(self, now: datetime, event_id: int | None = None) -> tuple[Event, int] | None:
        """The next due event (or the one named, if still due) with its attempts so far,
        locked until this transaction ends; None when none is due (or every due one is
        another consumer's)."""
        locking = (
            " FOR UPDATE SKIP LOCKED"
            if connections.get("default").capabilities.dialect == "postgres"
            else ""
        )
        which = "" if event_id is None else ' AND "id" = $2'
        rows = await sql.rows(
            'SELECT "id", "topic", "payload", "created_at", "attempts" FROM "outbox_event" '
            f'WHERE "delivered_at" IS NULL AND "available_at" <= $1{which} '
            f'ORDER BY "id" LIMIT 1{locking}',
            now,
            *([] if event_id is None else [event_id]),
        )
        return (_event(rows[0]), int(rows[0]["attempts"])) if rows else None

    async def _deliver_together(
        self, event: Event, now: datetime, committed: list[AfterCommit]
    ) -> None:
        """Every handler on the event's transaction, then all their receipts at once;
        a handler that raises fails the whole try (``_FirstTryFailed``)."""
        handlers = self.handlers.of(event.topic)
        pending: list[AfterCommit] = []
        token = _after_commit.set(pending)
        try:
            for _, handler in handlers:
                await handler(event)
        except Exception as exc:
            log.info(
                "outbox event %d failed its first try; delivering it handler by handler",
                event.id,
                exc_info=True,
            )
            raise _FirstTryFailed(event.id) from exc
        finally:
            _after_commit.reset(token)
        if handlers:
            rows = ", ".join(
                f"(${3 * n + 1}, ${3 * n + 2}, ${3 * n + 3})" for n in range(len(handlers))
            )
            await sql.execute(
                'INSERT INTO "outbox_receipt" ("handler", "event_id", "delivered_at") '
                f"VALUES {rows}",
                *[value for name, _ in handlers for value in (name, event.id, now)],
            )
        await _mark_delivered(event.id, now)
        committed.extend(pending)

    async def _deliver_apart(
        self,
        event: Event,
        attempts: int,
        done: set[str],
        now: datetime,
        committed: list[AfterCommit],
    ) -> None:
        """Each handler without a receipt in a savepoint of its own, which first
        inserts the receipt; the event is delivered once none raises."""
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
            await _mark_delivered(event.id, now)
            return
        await sql.execute(
            'UPDATE "outbox_event" SET "attempts" = "attempts" + 1, "last_error" = $1, '
            '"available_at" = $2 WHERE "id" = $3',
            failure,
            now + retry_delay(attempts + 1),
            event.id,
        )


async def _mark_delivered(event_id: int, now: datetime) -> None:
    await sql.execute(
        'UPDATE "outbox_event" SET "delivered_at" = $1 WHERE "id" = $2', now, event_id
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

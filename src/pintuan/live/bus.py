"""Cross-process fan-out of live events over Redis pub/sub.

Delivery is at most once. Events published while this process is cut off
from Redis are lost, which is acceptable because live state is always
rebuilt from the database: a listener reads its snapshot *after* entering
``listen()`` and then applies events, so it never misses one published after
that point while the connection holds.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Generic, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

log = logging.getLogger("pintuan.live.bus")

Event = dict[str, Any]
T = TypeVar("T")

QUEUE_SIZE = 1000
RECONNECT_DELAY_MIN = 0.1
RECONNECT_DELAY_MAX = 5.0


def encode(event: Event) -> str:
    """An event as it travels on a channel (for publishing through a pipeline)."""
    return json.dumps(event, separators=(",", ":"))


class EventBus:
    """Fans events out to every listener in every process over one pub/sub connection.

    A process holds one ``PubSub`` connection (opened on the first ``listen()``)
    and one reader task that blocks in ``get_message(timeout=None)`` — redis-py
    turns that into a read with no timeout, so its default 5 s
    ``socket_timeout`` never interrupts an idle subscription. The reader hands
    each event to a bounded queue per listener. A channel is subscribed when
    its first listener enters and unsubscribed when its last one leaves.

    Ordering: every listener of a channel gets the events in the order Redis
    received the ``PUBLISH`` commands (for one publisher, the order it awaited
    them). Listeners share the decoded event dicts, so they must not mutate
    them.

    Slow listeners: when a listener's queue is full, its *oldest* event is
    dropped to make room, so one stalled consumer never blocks the reader and
    every other listener of the process.

    Reconnects: if the connection drops, the reader opens a new one (backing
    off from 0.1 s to 5 s while Redis is unreachable) and subscribes every
    channel that still has listeners; listeners simply keep iterating. Events
    published in the meantime are lost (see the module docstring).
    """

    def __init__(self, redis: Redis, *, queue_size: int = QUEUE_SIZE) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.redis = redis
        self.queue_size = queue_size
        self._listeners: dict[str, list[_Listener]] = {}
        # Channels SUBSCRIBEd (and not UNSUBSCRIBEd since) on the current connection.
        self._subscribed: set[str] = set()
        # Per channel, one group of waiters for each SUBSCRIBE sent and not yet
        # confirmed, oldest first: Redis confirms commands in the order they were
        # sent, so "subscribe X" releases exactly the waiters of the oldest one.
        self._unconfirmed: dict[str, deque[list[asyncio.Future[None]]]] = {}
        self._lock = asyncio.Lock()  # orders (un)subscribe commands with the bookkeeping
        self._pubsub: PubSub | None = None
        self._pool_retry: Retry | None = None
        self._no_retry = Retry(NoBackoff(), 0)
        self._reader: asyncio.Task[None] | None = None
        self._closed = False

    async def publish(self, channel: str, event: Event) -> None:
        """Send ``event`` (JSON-serialisable) to the listeners of ``channel`` in every process."""
        await self.redis.publish(channel, encode(event))

    def listen(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[Event]]:
        """Events on ``channel``: ``async with bus.listen(c) as events: async for e in events``.

        Entering returns only once Redis has confirmed the subscription, so
        every event published after that reaches the iterator. While Redis is
        unreachable, entering waits for the reconnect; wrap it in
        ``asyncio.timeout`` to bound that. Iteration ends when the bus closes.
        """
        return _Listener(self, channel)

    async def aclose(self) -> None:
        """Stop the reader, close the connection and end every listener's iteration."""
        if self._closed:
            return
        self._closed = True
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            await asyncio.wait([reader])
        async with self._lock:
            await self._drop_connection()
        for groups in self._unconfirmed.values():
            for group in groups:
                _release(group)
        self._unconfirmed.clear()
        for listeners in self._listeners.values():
            for listener in listeners:
                listener.deliver(None)
        self._listeners.clear()

    async def _attach(self, listener: _Listener) -> None:
        if self._closed:
            raise RuntimeError("the event bus is closed")
        channel = listener.channel
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            async with self._lock:
                if self._closed:
                    raise RuntimeError("the event bus is closed")
                if self._reader is None:
                    self._reader = asyncio.create_task(
                        self._read_forever(), name="pintuan-event-bus"
                    )
                self._listeners.setdefault(channel, []).append(listener)
                groups = self._unconfirmed.setdefault(channel, deque())
                if channel not in self._subscribed:
                    groups.append([ready])
                    if self._pubsub is not None:
                        self._subscribed.add(channel)
                        await self._send(self._pubsub.subscribe, channel)
                    # Without a connection the reader subscribes it once it has one.
                elif groups:
                    groups[-1].append(ready)
                else:
                    del self._unconfirmed[channel]
                    ready.set_result(None)
            await ready
        except BaseException:
            await self._detach(listener)
            raise
        if self._closed:
            raise RuntimeError("the event bus is closed")

    async def _detach(self, listener: _Listener) -> None:
        channel = listener.channel
        listeners = self._listeners.get(channel, [])
        if listener in listeners:
            listeners.remove(listener)
        if listeners or self._closed:
            return
        self._listeners.pop(channel, None)
        async with self._lock:
            # Someone may have entered while we waited: then the channel stays.
            if channel in self._listeners or channel not in self._subscribed:
                return
            self._subscribed.discard(channel)
            if self._pubsub is not None:
                await self._send(self._pubsub.unsubscribe, channel)

    async def _send(self, command: Any, channel: str) -> None:
        """Send (UN)SUBSCRIBE; if that fails, start over on a new connection.

        The caller holds the lock. A command cut off halfway would leave the
        connection (and which confirmations will come) unknown, so the command
        runs on its own: a caller cancelled meanwhile (a subscriber leaving)
        waits for it instead of tearing the shared connection down.
        """
        sending = asyncio.ensure_future(command(channel))
        try:
            await asyncio.shield(sending)
        except asyncio.CancelledError:
            await asyncio.wait([sending])
            if sending.cancelled() or sending.exception() is not None:
                await self._restart("a cut-off command")
            raise
        except Exception as exc:
            await self._restart(repr(exc))

    async def _restart(self, reason: str) -> None:
        """Drop the connection; the reader may be blocked on it, so it is restarted too."""
        log.warning("event bus dropped its connection after %s; reconnecting", reason)
        await self._drop_connection()
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
        if not self._closed:
            self._reader = asyncio.create_task(self._read_forever(), name="pintuan-event-bus")

    async def _read_forever(self) -> None:
        delay = RECONNECT_DELAY_MIN
        while not self._closed:
            pubsub = self._pubsub
            if pubsub is None:
                try:
                    await self._connect()
                except Exception as exc:
                    log.warning("event bus cannot reach Redis (%s); retrying in %.1fs", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RECONNECT_DELAY_MAX)
                continue
            try:
                message = await pubsub.get_message(timeout=None)
            except Exception as exc:
                log.warning("event bus lost its Redis connection (%s); reconnecting", exc)
                async with self._lock:
                    if self._pubsub is pubsub:
                        await self._drop_connection()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_DELAY_MAX)
                continue
            if message is None or pubsub is not self._pubsub:
                continue  # nothing, or from a connection already given up
            delay = RECONNECT_DELAY_MIN
            try:
                self._dispatch(message)
            except Exception:
                log.exception("event bus could not dispatch %r", message)

    async def _connect(self) -> None:
        """Open a connection and subscribe every channel that has listeners."""
        async with self._lock:
            if self._closed or self._pubsub is not None:
                return
            pubsub = self.redis.pubsub()
            try:
                await pubsub.connect()  # type: ignore[no-untyped-call]
                conn = pubsub.connection
                assert conn is not None
                # With retries, redis-py would reconnect and resubscribe its own
                # view of the channels behind our back, and a SUBSCRIBE lost with
                # the old socket would leave its waiters hanging. Failing instead
                # lets this class resubscribe from its own bookkeeping.
                self._pool_retry = conn.retry
                conn.retry = self._no_retry
                channels = list(self._listeners)
                self._regroup_waiters(channels)
                if channels:
                    await pubsub.subscribe(*channels)
            except BaseException:
                await self._close(pubsub)
                raise
            self._pubsub = pubsub
            self._subscribed = set(channels)

    def _regroup_waiters(self, channels: list[str]) -> None:
        """Make each channel's waiters wait for the one SUBSCRIBE on the new connection."""
        old, self._unconfirmed = self._unconfirmed, {}
        for channel in channels:
            waiting = [future for group in old.pop(channel, ()) for future in group]
            self._unconfirmed[channel] = deque([waiting])
        for groups in old.values():  # their listeners have left
            for group in groups:
                _release(group)

    async def _drop_connection(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        self._subscribed.clear()
        if pubsub is not None:
            await self._close(pubsub)

    async def _close(self, pubsub: PubSub) -> None:
        conn = pubsub.connection
        if conn is not None and conn.retry is self._no_retry and self._pool_retry is not None:
            conn.retry = self._pool_retry  # the connection goes back to the shared pool
        try:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
        except Exception as exc:
            log.debug("closing the event bus connection failed: %s", exc)

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        if isinstance(channel, bytes):
            channel = channel.decode()
        if message["type"] == "message":
            listeners = self._listeners.get(channel)
            if not listeners:
                return
            try:
                event = json.loads(message["data"])
            except ValueError:
                log.warning("event bus ignored a non-JSON message on %s", channel)
                return
            if not isinstance(event, dict):
                log.warning("event bus ignored a non-object message on %s", channel)
                return
            for listener in listeners:
                listener.deliver(event)
        elif message["type"] == "subscribe":
            groups = self._unconfirmed.get(channel)
            if groups:
                _release(groups.popleft())
                if not groups:
                    del self._unconfirmed[channel]


def _release(waiters: list[asyncio.Future[None]]) -> None:
    for future in waiters:
        if not future.done():
            future.set_result(None)


class NewestQueue(Generic[T]):
    """A bounded queue whose producer never waits: when full, its oldest item goes.

    Made for live events, where a later one carries everything an earlier one
    did. ``None`` marks the end: ``get`` returns it, and keeps returning it.
    """

    def __init__(self, size: int, owner: str) -> None:
        self.dropped = 0
        self._owner = owner
        self._items: asyncio.Queue[T | None] = asyncio.Queue(size)

    def put(self, item: T | None) -> None:
        if self._items.full():
            self._items.get_nowait()
            self.dropped += 1
            if self.dropped == 1:
                log.warning("%s is too slow; dropping its oldest events", self._owner)
        self._items.put_nowait(item)

    async def get(self) -> T | None:
        item = await self._items.get()
        if item is None:
            self._items.put_nowait(None)
        return item


class _Listener(AbstractAsyncContextManager[AsyncIterator[Event]], AsyncIterator[Event]):
    """One ``listen()`` context: its own bounded queue, iterated by its caller."""

    def __init__(self, bus: EventBus, channel: str) -> None:
        self.bus = bus
        self.channel = channel
        self._queue: NewestQueue[Event] = NewestQueue(
            bus.queue_size, f"event bus listener on {channel}"
        )
        self._entered = False

    async def __aenter__(self) -> AsyncIterator[Event]:
        if self._entered:
            raise RuntimeError("a listen() context can be entered only once")
        self._entered = True
        await self.bus._attach(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.bus._detach(self)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        event = await self._queue.get()
        if event is None:  # the bus closed
            raise StopAsyncIteration
        return event

    def deliver(self, event: Event | None) -> None:
        """Queue ``event`` (``None`` ends iteration), dropping the oldest one if full."""
        self._queue.put(event)

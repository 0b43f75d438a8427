"""One bus listener per channel and process, however many subscribers watch it.

A popular group may have a thousand watchers in one process. A room decodes
each event once and hands every seat the event with its rendering, rendered
once per key (subscribers asking the same thing share one), or, when a
rendering turns out to depend on who asked, once per key and viewer. What a
rendering is, the room does not know: the schema layer supplies it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pintuan.live.bus import Event, EventBus, NewestQueue

log = logging.getLogger("pintuan.live.rooms")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Rendering:
    text: str
    personal: bool  # it read who the viewer is, so only that viewer may reuse it


Render = Callable[[Any], Awaitable[Rendering]]
Prepare = Callable[[Any], Awaitable[None]]

SEAT_QUEUE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Delivery(Generic[T]):
    """An event, and its rendering when the seat asked for one and it worked (else None)."""

    event: T
    rendered: str | None


@dataclass(eq=False)
class Seat(Generic[T]):
    """One subscriber's place in a room, iterated by the subscriber's own task."""

    key: Hashable | None
    viewer: Hashable | None
    render: Render | None
    _queue: NewestQueue[Delivery[T]] = field(
        default_factory=lambda: NewestQueue(SEAT_QUEUE_SIZE, "a live subscriber")
    )

    @property
    def dropped(self) -> int:
        return self._queue.dropped

    def deliver(self, delivery: Delivery[T] | None) -> None:
        """Queue it (None ends iteration); a full queue drops its oldest delivery."""
        self._queue.put(delivery)

    def __aiter__(self) -> AsyncIterator[Delivery[T]]:
        return self

    async def __anext__(self) -> Delivery[T]:
        delivery = await self._queue.get()
        if delivery is None:
            raise StopAsyncIteration
        return delivery


class Room(Generic[T]):
    def __init__(
        self,
        bus: EventBus,
        channel: str,
        decode: Callable[[Event], T],
        prepare: Prepare | None = None,
    ) -> None:
        self.bus = bus
        self.channel = channel
        self.decode = decode
        self.prepare = prepare
        self.seats: list[Seat[T]] = []
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(self._run(), name=f"pintuan-room-{channel}")

    async def _run(self) -> None:
        try:
            async with self.bus.listen(self.channel) as events:
                self.ready.set_result(None)
                async for message in events:
                    await self._dispatch(message)
        except Exception as exc:
            if not self.ready.done():
                self.ready.set_exception(exc)
            else:
                log.exception("live room %s stopped", self.channel)
        finally:
            if not self.ready.done():
                self.ready.cancel()
            for seat in self.seats:
                seat.deliver(None)

    async def _dispatch(self, message: Event) -> None:
        try:
            event = self.decode(message)
        except (KeyError, TypeError, ValueError):
            log.warning("live room %s ignored a malformed event %r", self.channel, message)
            return
        prepared = None if self.prepare is None else asyncio.ensure_future(self.prepare(event))
        # Deliveries are immutable, so seats sharing a rendering share one object.
        bare = Delivery(event, None)
        for_all: dict[Hashable, Delivery[T]] = {}
        for_one: dict[tuple[Hashable, Hashable], Delivery[T]] = {}
        deliveries: list[tuple[Seat[T], Delivery[T]]] = []
        for seat in list(self.seats):
            if seat.render is None:
                deliveries.append((seat, bare))
                continue
            mine = (seat.key, seat.viewer)
            delivery = for_all.get(seat.key) or for_one.get(mine)
            if delivery is None:
                rendering = await self._render(seat.render, event)
                # Without a rendering (it failed) the seat still gets the event: it may
                # be the closing one, and the subscriber can still run it the usual way.
                delivery = Delivery(event, rendering.text) if rendering else bare
                if rendering is not None and not rendering.personal:
                    for_all[seat.key] = delivery
                else:
                    for_one[mine] = delivery
            deliveries.append((seat, delivery))
        if prepared is not None:
            await self._prepared(prepared)
        for seat, delivery in deliveries:
            seat.deliver(delivery)

    async def _prepared(self, prepared: Awaitable[None]) -> None:
        try:
            await prepared
        except Exception:  # each subscriber then does for itself what it would have done
            log.exception("live room %s could not prepare an event", self.channel)

    async def _render(self, render: Render, event: T) -> Rendering | None:
        try:
            return await render(event)
        except Exception:
            log.exception("live room %s could not render an event", self.channel)
            return None


class Rooms:
    """The rooms of one process, opened with their first seat and closed with their last."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._rooms: dict[str, Room[Any]] = {}

    @asynccontextmanager
    async def seat(
        self,
        channel: str,
        decode: Callable[[Event], T],
        key: Hashable | None = None,
        viewer: Hashable | None = None,
        render: Render | None = None,
        prepare: Prepare | None = None,
    ) -> AsyncIterator[Seat[T]]:
        """A seat that receives every event published after entering returns.

        ``render`` renders an event for this seat; its rendering is reused by
        every seat of the same ``key``, or, when personal, of the same ``key``
        and ``viewer``. Without it, deliveries carry no rendering. ``prepare``
        runs once for each event (beside its renderings) before any seat is
        given it: work every subscriber would otherwise wait on in turn.
        ``decode`` and ``prepare`` must do the same for every seat of a channel.
        """
        room = self._rooms.get(channel)
        if room is None or room.task.done():  # none yet, or its bus has closed
            room = self._rooms[channel] = Room(self.bus, channel, decode, prepare)
        seat: Seat[T] = Seat(key, viewer, render)
        room.seats.append(seat)
        try:
            await asyncio.shield(room.ready)
            yield seat
        finally:
            room.seats.remove(seat)
            if not room.seats and self._rooms.get(channel) is room:
                del self._rooms[channel]
                room.task.cancel()

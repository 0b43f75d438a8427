"""Rooms: one bus subscription and one decoding per event, renderings shared by key."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette

from pintuan.live.bus import Event, EventBus
from pintuan.live.rooms import SEAT_QUEUE_SIZE, Delivery, Render, Rendering, Rooms, Seat

WITHIN = 2.0


@pytest.fixture
async def bus(app: Starlette) -> AsyncIterator[EventBus]:
    redis: Redis = app.state.runtime.redis
    bus = EventBus(redis)
    try:
        yield bus
    finally:
        await bus.aclose()


def new_channel() -> str:
    return f"test:{uuid4().hex}"


def number(message: Event) -> int:
    return int(message["n"])


def renderer(calls: Counter[str], name: str, personal: bool = False) -> Render:
    """Renders an event as ``name:event``, counting its calls in ``calls``."""

    async def render(event: Any) -> Rendering:
        calls[name] += 1
        return Rendering(f"{name}:{event}", personal)

    return render


async def take(seat: Seat[Any], count: int) -> list[Delivery[Any]]:
    async with asyncio.timeout(WITHIN):
        return [await anext(seat) for _ in range(count)]


async def test_a_room_decodes_each_event_once_and_renders_once_per_key(bus: EventBus) -> None:
    decoded: list[Event] = []

    def decode(message: Event) -> int:
        decoded.append(message)
        return number(message)

    calls: Counter[str] = Counter()
    rooms, channel = Rooms(bus), new_channel()
    async with (
        rooms.seat(channel, decode, "doc-a", "ann", renderer(calls, "a")) as first,
        rooms.seat(channel, decode, "doc-a", "bob", renderer(calls, "a-for-bob")) as second,
        rooms.seat(channel, decode, "doc-b", "ann", renderer(calls, "b")) as third,
        rooms.seat(channel, decode) as plain,
    ):
        [(_, listeners)] = await bus.redis.pubsub_numsub(channel)
        assert listeners == 1
        await bus.publish(channel, {"n": 7})
        got = [await take(seat, 1) for seat in (first, second, third, plain)]

    assert len(decoded) == 1
    assert got == [
        [Delivery(7, "a:7")],
        [Delivery(7, "a:7")],
        [Delivery(7, "b:7")],
        [Delivery(7, None)],
    ]
    assert calls == Counter({"a": 1, "b": 1})


async def test_a_personal_rendering_is_reused_only_by_the_same_viewer(bus: EventBus) -> None:
    calls: Counter[str] = Counter()
    rooms, channel = Rooms(bus), new_channel()
    async with (
        rooms.seat(channel, number, "doc", "ann", renderer(calls, "ann", True)) as ann,
        rooms.seat(channel, number, "doc", "ann", renderer(calls, "ann-again", True)) as ann2,
        rooms.seat(channel, number, "doc", "bob", renderer(calls, "bob", True)) as bob,
    ):
        await bus.publish(channel, {"n": 3})
        got = [(await take(seat, 1))[0].rendered for seat in (ann, ann2, bob)]

    assert got == ["ann:3", "ann:3", "bob:3"]
    assert calls == Counter({"ann": 1, "bob": 1})


async def test_the_last_seat_leaving_closes_the_room(bus: EventBus) -> None:
    rooms, channel = Rooms(bus), new_channel()
    async with rooms.seat(channel, number):
        async with rooms.seat(channel, number):
            pass
        [(_, listeners)] = await bus.redis.pubsub_numsub(channel)
        assert listeners == 1
    async with asyncio.timeout(WITHIN):
        while (await bus.redis.pubsub_numsub(channel))[0][1]:  # noqa: ASYNC110 - polls Redis
            await asyncio.sleep(0.01)
    async with rooms.seat(channel, number) as again:  # a new room, subscribed afresh
        await bus.publish(channel, {"n": 5})
        assert (await take(again, 1))[0].event == 5


async def test_a_slow_seat_keeps_the_newest_events_and_its_end() -> None:
    seat: Seat[int] = Seat(None, None, None)
    for n in range(SEAT_QUEUE_SIZE + 5):
        seat.deliver(Delivery(n, None))
    seat.deliver(None)

    async with asyncio.timeout(WITHIN):
        events = [delivery.event async for delivery in seat]

    assert seat.dropped == 6
    assert events == list(range(6, SEAT_QUEUE_SIZE + 5))


async def test_seats_end_when_the_bus_closes(bus: EventBus) -> None:
    rooms, channel = Rooms(bus), new_channel()
    async with rooms.seat(channel, number) as seat:
        await bus.aclose()
        async with asyncio.timeout(WITHIN):
            assert [d async for d in seat] == []


async def test_an_event_whose_rendering_fails_still_reaches_the_seat(bus: EventBus) -> None:
    async def broken(event: Any) -> Rendering:
        raise RuntimeError("cannot render")

    rooms, channel = Rooms(bus), new_channel()
    async with rooms.seat(channel, number, "doc", "ann", broken) as seat:
        await bus.publish(channel, {"n": 9})
        assert await take(seat, 1) == [Delivery(9, None)]

"""The event bus: fan-out, ordering, subscriptions and reconnects, on fakeredis and real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any
from uuid import uuid4

import pytest
from fakeredis import FakeAsyncRedis
from redis.asyncio import Redis
from starlette.applications import Starlette

from pintuan.live.bus import EventBus
from tests.conftest import REDIS_URL

Event = dict[str, Any]


@pytest.fixture
def redis(app: Starlette) -> Redis:
    client: Redis = app.state.runtime.redis
    return client


@pytest.fixture
async def bus(redis: Redis) -> AsyncIterator[EventBus]:
    bus = EventBus(redis)
    try:
        yield bus
    finally:
        await bus.aclose()
        assert_no_reader_left()


def assert_no_reader_left() -> None:
    readers = [t for t in asyncio.all_tasks() if t.get_name() == "pintuan-event-bus"]
    assert readers == []


def new_channel() -> str:
    """A channel no other test (or concurrent run on the same server) uses."""
    return f"test:{uuid4().hex}"


def second_client(redis: Redis) -> Redis:
    """Another client to the same server, as a second process would have."""
    if REDIS_URL:
        return Redis.from_url(REDIS_URL, decode_responses=True)
    server = redis.connection_pool.connection_kwargs["server"]
    client: Redis = FakeAsyncRedis(server=server, decode_responses=True)
    return client


async def take(events: AsyncIterator[Event], count: int, within: float = 2.0) -> list[Event]:
    async with asyncio.timeout(within):
        return [await anext(events) for _ in range(count)]


async def subscribers(redis: Redis, channel: str) -> int:
    counts = dict(await redis.pubsub_numsub(channel))
    return int(counts[channel])


async def wait_for_subscribers(redis: Redis, channel: str, expected: int) -> None:
    """Poll: an UNSUBSCRIBE is sent on the bus's connection, not awaited by the caller."""
    for _ in range(200):
        if await subscribers(redis, channel) == expected:
            return
        await asyncio.sleep(0.01)
    assert await subscribers(redis, channel) == expected


async def test_every_listener_gets_every_event_in_order(bus: EventBus) -> None:
    group, other = new_channel(), new_channel()
    async with (
        bus.listen(group) as first,
        bus.listen(group) as second,
        bus.listen(other) as elsewhere,
    ):
        for n in range(5):
            await bus.publish(group, {"n": n})
        await bus.publish(other, {"marker": 1})

        expected = [{"n": n} for n in range(5)]
        assert await take(first, 5) == expected
        assert await take(second, 5) == expected
        # Delivery is ordered, so anything from ``group`` would come before the marker.
        assert await take(elsewhere, 1) == [{"marker": 1}]


async def test_unsubscribes_when_the_last_listener_leaves(bus: EventBus, redis: Redis) -> None:
    channel = new_channel()
    async with bus.listen(channel):
        async with bus.listen(channel):
            assert await subscribers(redis, channel) == 1  # one connection per process
        await asyncio.sleep(0.05)
        assert await subscribers(redis, channel) == 1
    await wait_for_subscribers(redis, channel, 0)

    async with bus.listen(channel) as events:
        assert await subscribers(redis, channel) == 1
        await bus.publish(channel, {"again": True})
        assert await take(events, 1) == [{"again": True}]


async def test_an_event_published_right_after_entering_is_never_missed(
    bus: EventBus, redis: Redis
) -> None:
    channel = new_channel()
    publisher = second_client(redis)
    await publisher.ping()  # connected already, so its PUBLISH can overtake a slow SUBSCRIBE
    try:
        for n in range(50):
            # Odd rounds reuse the bus and channel (unsubscribe, then subscribe again);
            # even rounds start a new bus, which must first connect.
            fresh = EventBus(redis) if n % 2 == 0 else bus
            try:
                async with fresh.listen(channel) as events:
                    await publisher.publish(channel, f'{{"n": {n}}}')
                    assert await take(events, 1) == [{"n": n}]
            finally:
                if fresh is not bus:
                    await fresh.aclose()
    finally:
        await publisher.aclose()


async def test_a_listener_cancelled_while_entering_does_not_confuse_the_next(
    bus: EventBus, redis: Redis
) -> None:
    channel = new_channel()
    for steps in range(12):
        # Cancel at a different point of entering each time (before or after SUBSCRIBE is
        # sent, before or after it is confirmed); then the next listener must still work.
        listening = bus.listen(channel)
        entering = asyncio.create_task(listening.__aenter__())
        for _ in range(steps):
            await asyncio.sleep(0)
        entering.cancel()
        await asyncio.wait([entering])
        if not entering.cancelled():
            await listening.__aexit__(None, None, None)
        async with bus.listen(channel) as events:
            await bus.publish(channel, {"steps": steps})
            assert await take(events, 1) == [{"steps": steps}]
    await wait_for_subscribers(redis, channel, 0)


async def test_a_thousand_events_reach_ten_listeners_in_order(bus: EventBus) -> None:
    channel = new_channel()
    async with AsyncExitStack() as stack:
        streams = [await stack.enter_async_context(bus.listen(channel)) for _ in range(10)]
        readers = [asyncio.create_task(take(s, 1000, within=4)) for s in streams]
        for n in range(1000):
            await bus.publish(channel, {"n": n})
        received = await asyncio.gather(*readers)
    expected = [{"n": n} for n in range(1000)]
    assert all(events == expected for events in received)


async def test_a_slow_listener_loses_its_oldest_events(redis: Redis) -> None:
    bus = EventBus(redis, queue_size=3)
    slow_channel, barrier = new_channel(), new_channel()
    try:
        async with bus.listen(slow_channel) as slow, bus.listen(barrier) as done:
            for n in range(10):
                await bus.publish(slow_channel, {"n": n})
            await bus.publish(barrier, {})
            assert await take(done, 1) == [{}]  # the reader has dispatched all ten

            assert await take(slow, 3) == [{"n": 7}, {"n": 8}, {"n": 9}]
            await bus.publish(slow_channel, {"n": 10})
            assert await take(slow, 1) == [{"n": 10}]
    finally:
        await bus.aclose()
    assert_no_reader_left()


async def test_another_process_receives_the_events(bus: EventBus, redis: Redis) -> None:
    other_client = second_client(redis)
    other_bus = EventBus(other_client)
    channel = new_channel()
    try:
        async with bus.listen(channel) as here, other_bus.listen(channel) as there:
            assert await subscribers(redis, channel) == 2
            await bus.publish(channel, {"from": "first"})
            await other_bus.publish(channel, {"from": "second"})
            expected = [{"from": "first"}, {"from": "second"}]
            assert await take(here, 2) == expected
            assert await take(there, 2) == expected
    finally:
        await other_bus.aclose()
        await other_client.aclose()


async def test_closing_the_bus_ends_iteration(redis: Redis) -> None:
    bus = EventBus(redis)
    async with bus.listen(new_channel()) as events:
        await bus.aclose()
        async with asyncio.timeout(1):
            assert [event async for event in events] == []
    assert_no_reader_left()
    with pytest.raises(RuntimeError, match="closed"):
        async with bus.listen(new_channel()):
            pass


@pytest.mark.skipif(
    not REDIS_URL, reason="needs real Redis: fakeredis has no client connection to kill"
)
async def test_a_listener_keeps_receiving_after_the_connection_is_killed(
    bus: EventBus, redis: Redis
) -> None:
    channel = new_channel()
    async with bus.listen(channel) as events:
        await bus.publish(channel, {"n": 0})
        assert await take(events, 1) == [{"n": 0}]

        # Kill only this run's pub/sub connections (its own database), not other runs' ones.
        db = str(redis.connection_pool.connection_kwargs.get("db", 0))
        killed = 0
        for client in await redis.client_list(_type="pubsub"):
            if str(client["db"]) == db:
                killed += await redis.client_kill_filter(_id=client["id"])
        assert killed >= 1

        # Events published while the bus reconnects may be lost; keep publishing until one lands.
        async with asyncio.timeout(3):
            n = 1
            while True:
                await bus.publish(channel, {"n": n})
                try:
                    await take(events, 1, within=0.1)
                    break
                except TimeoutError:
                    n += 1

        for k in range(3):
            await bus.publish(channel, {"after": k})
        after: list[Event] = []
        async with asyncio.timeout(2):
            while len(after) < 3:
                event = await anext(events)
                if "after" in event:
                    after.append(event)
        assert after == [{"after": 0}, {"after": 1}, {"after": 2}]
        assert await subscribers(redis, channel) == 1

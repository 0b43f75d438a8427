"""Deadlines: scheduling, atomic claims and rebuilds, on fakeredis and real Redis."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette

from pintuan.live.deadlines import Deadlines

NOW = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def redis(app: Starlette) -> Redis:
    client: Redis = app.state.runtime.redis
    return client


@pytest.fixture
def deadlines(redis: Redis) -> Deadlines:
    return Deadlines(redis)


async def test_claims_only_what_is_due_earliest_first(deadlines: Deadlines) -> None:
    await deadlines.schedule(3, NOW - timedelta(seconds=1))
    await deadlines.schedule(1, NOW - timedelta(minutes=5))
    await deadlines.schedule(2, NOW)
    await deadlines.schedule(4, NOW + timedelta(microseconds=1))

    assert await deadlines.claim_due(NOW) == [1, 3, 2]
    assert await deadlines.claim_due(NOW) == []
    assert await deadlines.claim_due(NOW + timedelta(seconds=1)) == [4]


async def test_claims_at_most_limit(deadlines: Deadlines) -> None:
    for item_id in range(5):
        await deadlines.schedule(item_id, NOW - timedelta(seconds=10 - item_id))

    assert await deadlines.claim_due(NOW, limit=2) == [0, 1]
    assert await deadlines.claim_due(NOW, limit=2) == [2, 3]
    assert await deadlines.claim_due(NOW, limit=2) == [4]
    with pytest.raises(ValueError):
        await deadlines.claim_due(NOW, limit=0)


async def test_cancel_and_reschedule(deadlines: Deadlines) -> None:
    await deadlines.schedule(1, NOW - timedelta(seconds=1))
    await deadlines.schedule(2, NOW - timedelta(seconds=1))
    await deadlines.schedule(3, NOW - timedelta(seconds=1))
    await deadlines.cancel(2)
    await deadlines.cancel(99)  # unknown ids are fine
    await deadlines.schedule(3, NOW + timedelta(hours=1))  # moved later

    assert await deadlines.claim_due(NOW) == [1]
    assert await deadlines.next_due() == NOW + timedelta(hours=1)


async def test_concurrent_claimers_get_each_due_id_exactly_once(redis: Redis) -> None:
    setup = Deadlines(redis)
    await setup.restore((i, NOW - timedelta(milliseconds=i)) for i in range(500))
    await setup.schedule(1000, NOW + timedelta(days=1))  # not due: nobody may claim it

    async def claimer() -> list[int]:
        mine = Deadlines(redis)  # as in another process
        claimed: list[int] = []
        while batch := await mine.claim_due(NOW, limit=7):
            claimed.extend(batch)
            await asyncio.sleep(0)
        return claimed

    results = await asyncio.gather(*(claimer() for _ in range(20)))
    counts = Counter(item_id for claimed in results for item_id in claimed)
    assert sorted(counts) == list(range(500))
    assert set(counts.values()) == {1}
    assert sum(1 for claimed in results if claimed) > 1  # the claims did interleave
    assert await setup.next_due() == NOW + timedelta(days=1)


async def test_restore_adds_to_what_is_already_scheduled(
    deadlines: Deadlines, redis: Redis
) -> None:
    # Scheduled by another process after this one read the database.
    await deadlines.schedule(1, NOW - timedelta(seconds=3))

    await deadlines.restore([(3, NOW - timedelta(seconds=2)), (4, NOW - timedelta(seconds=1))])
    assert await deadlines.claim_due(NOW + timedelta(days=1)) == [1, 3, 4]

    many = [(i, NOW + timedelta(seconds=i)) for i in range(2500)]  # more than one ZADD chunk
    await deadlines.restore(iter(many))
    assert await redis.zcard(deadlines.key) == 2500
    assert await deadlines.next_due() == NOW

    await deadlines.restore([])
    assert await redis.zcard(deadlines.key) == 2500


async def test_next_due_is_the_earliest_deadline(deadlines: Deadlines) -> None:
    assert await deadlines.next_due() is None
    later = NOW + timedelta(minutes=3, microseconds=250_000)
    earlier = NOW + timedelta(minutes=1, microseconds=123_456)
    await deadlines.schedule(1, later)
    await deadlines.schedule(2, earlier)

    due = await deadlines.next_due()
    assert due == earlier
    assert due is not None and due.tzinfo is not None


async def test_sets_with_different_keys_are_independent(redis: Redis) -> None:
    groups, carts = Deadlines(redis), Deadlines(redis, key="deadlines:carts")
    await groups.schedule(1, NOW)
    await carts.schedule(2, NOW)
    assert await groups.claim_due(NOW) == [1]
    assert await carts.claim_due(NOW) == [2]


async def test_naive_datetimes_are_refused(deadlines: Deadlines) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await deadlines.schedule(1, datetime(2030, 5, 1, 12, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        await deadlines.claim_due(datetime(2030, 5, 1, 12, 0))

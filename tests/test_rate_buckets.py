"""Token buckets of any size and window, the same in Redis and in one process's memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from fakeredis import FakeAsyncRedis, FakeServer
from redis.asyncio import Redis

from pintuan.live.ratelimit import LocalRateLimiter, RateLimiter, RedisRateLimiter
from tests.conftest import REDIS_URL


def _redis() -> Redis:
    if REDIS_URL:
        return Redis.from_url(REDIS_URL, decode_responses=True)
    client: Redis = FakeAsyncRedis(server=FakeServer(), decode_responses=True)
    return client


@pytest.fixture(params=["redis", "local"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "local":
        yield LocalRateLimiter()
        return
    redis = _redis()
    try:
        yield RedisRateLimiter(redis)
    finally:
        await redis.aclose()


def bucket() -> str:
    return f"test:{uuid4().hex}"


async def test_a_bucket_admits_its_capacity_then_says_when_the_next_token_comes(
    limiter: RateLimiter,
) -> None:
    name = bucket()
    verdicts = [await limiter.spend(name, 3, 600) for _ in range(4)]

    assert [v.allowed for v in verdicts] == [True, True, True, False]
    # one token of three comes back every 200 s
    assert 199 <= verdicts[-1].retry_after_seconds <= 200


async def test_a_bucket_of_one_spaces_actions_by_its_whole_window(limiter: RateLimiter) -> None:
    name = bucket()
    assert (await limiter.spend(name, 1, 30)).allowed
    refused = await limiter.spend(name, 1, 30)

    assert not refused.allowed
    assert 29 <= refused.retry_after_seconds <= 30


async def test_a_token_given_back_can_be_spent_again_but_never_beyond_capacity(
    limiter: RateLimiter,
) -> None:
    name = bucket()
    await limiter.give_back(name, 2, 600)  # on a full bucket: nothing to give back
    assert [(await limiter.spend(name, 2, 600)).allowed for _ in range(3)] == [True, True, False]

    await limiter.give_back(name, 2, 600)

    assert [(await limiter.spend(name, 2, 600)).allowed for _ in range(2)] == [True, False]


async def test_buckets_of_the_same_name_and_other_windows_are_one_bucket(
    limiter: RateLimiter,
) -> None:
    name = bucket()
    assert (await limiter.take(name, 1)).allowed

    assert not (await limiter.spend(name, 1, 60)).allowed


@pytest.mark.skipif(not REDIS_URL, reason="two processes share a bucket only through Redis")
async def test_two_processes_spend_from_one_bucket() -> None:
    first, second = _redis(), _redis()
    try:
        name = bucket()
        assert (await RedisRateLimiter(first).spend(name, 1, 600)).allowed
        assert not (await RedisRateLimiter(second).spend(name, 1, 600)).allowed
    finally:
        await first.aclose()
        await second.aclose()


async def test_an_idle_local_bucket_is_forgotten_only_once_its_own_window_has_refilled_it() -> None:
    clock = [1000.0]
    limiter = LocalRateLimiter(clock=lambda: clock[0])
    limiter.MAX_BUCKETS = 1
    assert (await limiter.spend("slow", 1, 600)).allowed

    clock[0] += 120  # idle longer than a minute, well short of its window
    await limiter.spend("other", 1, 600)  # over MAX_BUCKETS: idle buckets are dropped

    assert not (await limiter.spend("slow", 1, 600)).allowed

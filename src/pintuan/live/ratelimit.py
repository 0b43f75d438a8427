"""Token buckets in the live layer, so a limit holds across every server process.

A bucket holds up to ``capacity`` tokens and refills that many over
``window_seconds``: a request budget (600 a minute), a posting limit (6 per 10
minutes) or a slow mode (capacity 1: one post, then ``window_seconds`` of
waiting) are all the same bucket with other numbers.

Embedded, with one process and no Redis, the buckets live in this process's memory:
the in-process Redis would interpret the Lua script on every request, which costs
more than many requests' own work.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

# KEYS[1] bucket; ARGV: capacity, refill per second, now (ms), cost.
# A negative cost gives tokens back (never above capacity).
# Returns {allowed (0/1), milliseconds until the cost would be affordable}.
_TAKE = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil then
  tokens = capacity
  at = now
end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate / 1000)
local allowed = 0
local wait = 0
if tokens >= cost then
  tokens = math.min(capacity, tokens - cost)
  allowed = 1
else
  wait = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * 1000 / rate) + 1000)
return {allowed, wait}
"""


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_seconds: int


class RateLimiter(Protocol):
    async def take(self, bucket: str, per_minute: int) -> Verdict:
        """Spend one request from ``bucket``, which refills ``per_minute`` tokens a minute."""
        ...

    async def spend(self, bucket: str, capacity: int, window_seconds: int) -> Verdict:
        """Spend one token from ``bucket``, which holds ``capacity`` and refills them all
        over ``window_seconds``."""
        ...

    async def give_back(self, bucket: str, capacity: int, window_seconds: int) -> None:
        """Return a token spent on something that then did not happen."""
        ...


class RedisRateLimiter:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._take = redis.register_script(_TAKE)

    async def take(self, bucket: str, per_minute: int) -> Verdict:
        return await self.spend(bucket, per_minute, 60)

    async def spend(self, bucket: str, capacity: int, window_seconds: int) -> Verdict:
        return await self._run(bucket, capacity, window_seconds, 1)

    async def give_back(self, bucket: str, capacity: int, window_seconds: int) -> None:
        await self._run(bucket, capacity, window_seconds, -1)

    async def _run(self, bucket: str, capacity: int, window_seconds: int, cost: int) -> Verdict:
        now_ms = int(time.time() * 1000)
        allowed, wait_ms = await self._take(
            keys=[f"ratelimit:{bucket}"], args=[capacity, capacity / window_seconds, now_ms, cost]
        )
        return Verdict(bool(int(allowed)), max(1, math.ceil(int(wait_ms) / 1000)))


class LocalRateLimiter:
    """The same buckets as ``_TAKE``, for a single process."""

    MAX_BUCKETS = 100_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # tokens, at (clock s), window (s): a bucket idle for its window is full again.
        self._buckets: dict[str, tuple[float, float, float]] = {}

    async def take(self, bucket: str, per_minute: int) -> Verdict:
        return self._run(bucket, per_minute, 60, 1)

    async def spend(self, bucket: str, capacity: int, window_seconds: int) -> Verdict:
        return self._run(bucket, capacity, window_seconds, 1)

    async def give_back(self, bucket: str, capacity: int, window_seconds: int) -> None:
        self._run(bucket, capacity, window_seconds, -1)

    def _run(self, bucket: str, capacity: int, window_seconds: int, cost: int) -> Verdict:
        now = self._clock()
        rate = capacity / window_seconds
        tokens, at, _ = self._buckets.get(bucket, (float(capacity), now, window_seconds))
        tokens = min(float(capacity), tokens + max(0.0, now - at) * rate)
        allowed = tokens >= cost
        wait = 0.0 if allowed else (cost - tokens) / rate
        if allowed:
            tokens = min(float(capacity), tokens - cost)
        self._buckets[bucket] = (tokens, now, window_seconds)
        if len(self._buckets) > self.MAX_BUCKETS:
            self._forget_full(now)
        return Verdict(allowed, max(1, math.ceil(wait)))

    def _forget_full(self, now: float) -> None:
        """Drop buckets idle long enough to have refilled: they hold nothing."""
        self._buckets = {
            name: state for name, state in self._buckets.items() if now - state[1] < state[2]
        }

"""Token buckets in the live layer, so a limit holds across every server process.

Embedded, with one process and no Redis, the buckets live in this process's memory:
the in-process Redis would interpret the Lua script on every request, which costs
more than many requests' own work.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

# KEYS[1] bucket; ARGV: capacity, refill per second, now (ms), cost.
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
  tokens = tokens - cost
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


class RedisRateLimiter:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._take = redis.register_script(_TAKE)

    async def take(self, bucket: str, per_minute: int) -> Verdict:
        now_ms = int(time.time() * 1000)
        allowed, wait_ms = await self._take(
            keys=[f"ratelimit:{bucket}"], args=[per_minute, per_minute / 60.0, now_ms, 1]
        )
        return Verdict(bool(int(allowed)), max(1, math.ceil(int(wait_ms) / 1000)))


class LocalRateLimiter:
    """The same buckets as ``_TAKE``, for a single process."""

    MAX_BUCKETS = 100_000

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # tokens, at (monotonic s)

    async def take(self, bucket: str, per_minute: int) -> Verdict:
        now = time.monotonic()
        rate = per_minute / 60.0
        tokens, at = self._buckets.get(bucket, (float(per_minute), now))
        tokens = min(float(per_minute), tokens + max(0.0, now - at) * rate)
        allowed = tokens >= 1
        wait = 0.0 if allowed else (1 - tokens) / rate
        self._buckets[bucket] = (tokens - 1 if allowed else tokens, now)
        if len(self._buckets) > self.MAX_BUCKETS:
            self._forget_full(now)
        return Verdict(allowed, max(1, math.ceil(wait)))

    def _forget_full(self, now: float) -> None:
        """Drop buckets idle long enough to have refilled: they hold nothing."""
        self._buckets = {
            name: (tokens, at) for name, (tokens, at) in self._buckets.items() if now - at < 60
        }

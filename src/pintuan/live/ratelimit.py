"""Token buckets in the live layer, so a limit holds across every server process."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

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


class RateLimiter:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._take = redis.register_script(_TAKE)

    async def take(self, bucket: str, per_minute: int) -> Verdict:
        """Spend one request from ``bucket``, which refills ``per_minute`` tokens a minute."""
        now_ms = int(time.time() * 1000)
        allowed, wait_ms = await self._take(
            keys=[f"ratelimit:{bucket}"], args=[per_minute, per_minute / 60.0, now_ms, 1]
        )
        return Verdict(bool(int(allowed)), max(1, math.ceil(int(wait_ms) / 1000)))

"""Sign-in throttling: after a few failures, each further one doubles a lockout."""

from __future__ import annotations

from redis.asyncio import Redis

FAILURE_WINDOW_SECONDS = 3600


class SigninThrottle:
    def __init__(self, redis: Redis, free_failures: int, max_lockout_seconds: int) -> None:
        self.redis = redis
        self.free_failures = free_failures
        self.max_lockout_seconds = max_lockout_seconds

    async def locked_for(self, *subjects: str) -> int:
        """Seconds until every subject (account, client IP) may try again; 0 if none is locked."""
        waits = [await self.redis.ttl(f"signin:lock:{s}") for s in subjects]
        return max([0, *waits])

    async def failed(self, *subjects: str) -> None:
        for subject in subjects:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(f"signin:fail:{subject}")
                pipe.expire(f"signin:fail:{subject}", FAILURE_WINDOW_SECONDS)
                failures, _ = await pipe.execute()
            excess = int(failures) - self.free_failures
            if excess > 0:
                lockout = min(2 ** (excess - 1), self.max_lockout_seconds)
                await self.redis.set(f"signin:lock:{subject}", "1", ex=lockout)

    async def succeeded(self, subject: str) -> None:
        await self.redis.delete(f"signin:fail:{subject}", f"signin:lock:{subject}")

"""Sign-in throttling: after a few failures, each further one doubles a lockout.

Failures count per (account, client IP) pair, so an attacker guessing one
account's password locks out only themselves, not its owner elsewhere; and
per client IP with a higher ceiling, so one address cannot try many accounts,
while an office behind one address is not locked out by one person's typos.
"""

from __future__ import annotations

from redis.asyncio import Redis

FAILURE_WINDOW_SECONDS = 3600


class SigninThrottle:
    def __init__(
        self,
        redis: Redis,
        free_failures: int,
        ip_free_failures: int,
        max_lockout_seconds: int,
    ) -> None:
        self.redis = redis
        self.free_failures = free_failures
        self.ip_free_failures = ip_free_failures
        self.max_lockout_seconds = max_lockout_seconds

    def _subjects(self, account: str, client_ip: str) -> dict[str, int]:
        """Each counted subject and the failures it may have before back-off."""
        return {
            f"pair:{account}:{client_ip}": self.free_failures,
            f"ip:{client_ip}": self.ip_free_failures,
        }

    async def locked_for(self, account: str, client_ip: str) -> int:
        """Seconds until this account may be tried again from this IP; 0 if it may now."""
        subjects = self._subjects(account, client_ip)
        waits = [await self.redis.ttl(f"signin:lock:{s}") for s in subjects]
        return max([0, *waits])

    async def failed(self, account: str, client_ip: str) -> None:
        for subject, free in self._subjects(account, client_ip).items():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(f"signin:fail:{subject}")
                pipe.expire(f"signin:fail:{subject}", FAILURE_WINDOW_SECONDS)
                failures, _ = await pipe.execute()
            excess = int(failures) - free
            if excess > 0:
                lockout = min(2 ** (excess - 1), self.max_lockout_seconds)
                await self.redis.set(f"signin:lock:{subject}", "1", ex=lockout)

    async def succeeded(self, account: str, client_ip: str) -> None:
        """Clears the pair only: signing in to one's own account must not reset the
        count of an address that is trying others."""
        pair = next(iter(self._subjects(account, client_ip)))
        await self.redis.delete(f"signin:fail:{pair}", f"signin:lock:{pair}")

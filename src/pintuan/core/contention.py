"""Transactions that lost a race: deadlocks and serialization failures.

PostgreSQL answers either by rolling the whole transaction back (SQLSTATE class
40), so nothing of it was written and running it again is safe. Lock orders keep
them rare, not impossible (a lock order can be broken by code yet to be written,
or by an operator's statement); callers whose transaction is self-contained run
it again a few times, and whatever still loses is answered as ``TRY_AGAIN``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# deadlock_detected, serialization_failure
LOST_RACE = frozenset({"40P01", "40001"})
ATTEMPTS = 3


def lost_race(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) is a deadlock or a serialization failure."""
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "sqlstate", None) in LOST_RACE:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def retrying(transaction: Callable[[], Awaitable[T]]) -> T:
    """Run ``transaction`` (a whole transaction, nothing after its commit), again
    after a short random pause each time it loses a race, at most ``ATTEMPTS`` times."""
    for attempt in range(1, ATTEMPTS):
        try:
            return await transaction()
        except Exception as exc:
            if not lost_race(exc):
                raise
        # Apart at random, so the transactions that collided do not collide again.
        await asyncio.sleep(random.uniform(0, 0.02 * attempt))
    return await transaction()  # the last attempt: whatever it raises is the caller's

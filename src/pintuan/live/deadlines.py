"""Expiry deadlines in a sorted set, so that every process can work through the due ones.

Each item is a member (its id) scored by its deadline as a Unix timestamp.
Processes claim due items with one Lua script, which reads and removes them
atomically: each due id goes to exactly one claimer, however many poll at once.
The set is only a schedule; the database stays the truth, which is why
``restore`` refills it from there on start.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import islice

from redis.asyncio import Redis

# KEYS[1] deadlines; ARGV: now (Unix seconds), limit. Returns the claimed ids.
# ZREM goes in slices because unpack() of a huge table overflows the Lua stack.
_CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #ids, 1000 do
  redis.call('ZREM', KEYS[1], unpack(ids, i, math.min(i + 999, #ids)))
end
return ids
"""

_CHUNK = 1000


def _timestamp(at: datetime) -> float:
    # A naive datetime's timestamp() silently assumes the server's local zone.
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("deadlines need timezone-aware datetimes")
    return at.timestamp()


class Deadlines:
    def __init__(self, redis: Redis, key: str = "deadlines:groups") -> None:
        self.redis = redis
        self.key = key
        self._claim = redis.register_script(_CLAIM)

    async def schedule(self, item_id: int, at: datetime) -> None:
        """Set (or move) ``item_id``'s deadline to ``at``."""
        await self.redis.zadd(self.key, {str(item_id): _timestamp(at)})

    async def cancel(self, item_id: int) -> None:
        await self.redis.zrem(self.key, str(item_id))

    async def claim_due(self, now: datetime, limit: int = 100) -> list[int]:
        """Remove and return up to ``limit`` ids due at ``now``, earliest first.

        A claimed id is gone from the set, so a claimer that crashes before
        acting on it leaves it to the next rebuild from the database.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        ids = await self._claim(keys=[self.key], args=[_timestamp(now), limit])
        return [int(i) for i in ids]

    async def restore(self, items: Iterable[tuple[int, datetime]]) -> None:
        """Add ``items`` read from the database, keeping whatever the set already holds.

        Never clears first: another process may have scheduled a deadline after
        ``items`` were read, and wiping it would let that group run late. An item
        that was claimed or cancelled meanwhile comes back, which is harmless:
        handling it again is a conditional update that changes nothing.
        """
        pending = iter(items)
        async with self.redis.pipeline(transaction=False) as pipe:
            while chunk := list(islice(pending, _CHUNK)):
                pipe.zadd(self.key, {str(item_id): _timestamp(at) for item_id, at in chunk})
            await pipe.execute()

    async def next_due(self) -> datetime | None:
        """The earliest deadline, for sleeping until then; ``None`` if nothing is scheduled."""
        earliest = await self.redis.zrange(self.key, 0, 0, withscores=True)
        if not earliest:
            return None
        return datetime.fromtimestamp(float(earliest[0][1]), UTC)

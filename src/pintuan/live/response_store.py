"""Where cached responses live: in this process, or in Redis shared by every process.

An entry is stored with the tags of the objects it was built from; purging a tag
deletes every entry that carries it. A response computed while a write it read was
being purged must not be stored afterwards, or it would serve the old data until it
expired: each lookup returns the store's clock, and ``put`` refuses an entry when any
of its tags was purged since that lookup. Redis compares its own clock with itself, so
the check holds across hosts whatever their clocks say.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from pintuan.settings import Settings

log = logging.getLogger("pintuan.cache")

PURGE_MEMORY_SECONDS = 60  # longer than any response takes to compute


@dataclass(frozen=True, slots=True)
class Lookup:
    value: bytes | None
    clock_ms: int  # the store's time of the lookup, for ``put``'s since


class ResponseStore(Protocol):
    async def get(self, key: str) -> Lookup: ...

    async def put(
        self, key: str, value: bytes, ttl: int, tags: Iterable[str], since_ms: int
    ) -> bool: ...

    async def purge(self, tags: Iterable[str]) -> None: ...


class MemoryStore:
    """For one process: least recently used entries go first past ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[str, tuple[bytes, float, frozenset[str]]] = OrderedDict()
        self._tagged: dict[str, set[str]] = {}
        self._purged: dict[str, float] = {}

    @staticmethod
    def _now() -> float:
        return time.monotonic()

    async def get(self, key: str) -> Lookup:
        now = self._now()
        entry = self._entries.get(key)
        if entry is None:
            return Lookup(None, int(now * 1000))
        if entry[1] <= now:
            self._drop(key)
            return Lookup(None, int(now * 1000))
        self._entries.move_to_end(key)
        return Lookup(entry[0], int(now * 1000))

    async def put(
        self, key: str, value: bytes, ttl: int, tags: Iterable[str], since_ms: int
    ) -> bool:
        tagset = frozenset(tags)
        now = self._now()
        since = since_ms / 1000
        if any(self._purged.get(tag, -1.0) >= since for tag in tagset):
            return False
        if len(value) > self.max_bytes:
            return False
        self._drop(key)
        self._entries[key] = (value, now + ttl, tagset)
        self.size += len(value)
        for tag in tagset:
            self._tagged.setdefault(tag, set()).add(key)
        while self.size > self.max_bytes:
            self._drop(next(iter(self._entries)))
        return True

    async def purge(self, tags: Iterable[str]) -> None:
        now = self._now()
        for tag in tags:
            self._purged[tag] = now
            for key in self._tagged.pop(tag, set()):
                self._drop(key)
        if len(self._purged) > 10_000:
            cutoff = now - PURGE_MEMORY_SECONDS
            self._purged = {t: at for t, at in self._purged.items() if at >= cutoff}

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self.size -= len(entry[0])
        for tag in entry[2]:
            keys = self._tagged.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._tagged[tag]


# KEYS[1] entry. Returns {value or false, the server's time in ms}.
_GET = """
local t = redis.call('TIME')
return {redis.call('GET', KEYS[1]), t[1] * 1000 + math.floor(t[2] / 1000)}
"""

# KEYS[1] entry, then n tag sets, then n purge stamps; ARGV: value, ttl, since (ms).
_PUT = """
local n = (#KEYS - 1) / 2
local since = tonumber(ARGV[3])
for i = 1, n do
  local purged = redis.call('GET', KEYS[1 + n + i])
  if purged and tonumber(purged) >= since then return 0 end
end
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
for i = 1, n do
  redis.call('SADD', KEYS[1 + i], KEYS[1])
  if redis.call('TTL', KEYS[1 + i]) < ttl then redis.call('EXPIRE', KEYS[1 + i], ttl) end
end
return 1
"""

# n tag sets, then n purge stamps; ARGV: how long a stamp is kept (s).
_PURGE = """
local n = #KEYS / 2
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
for i = 1, n do
  local members = redis.call('SMEMBERS', KEYS[i])
  for _, key in ipairs(members) do redis.call('DEL', key) end
  redis.call('DEL', KEYS[i])
  redis.call('SET', KEYS[n + i], now, 'EX', tonumber(ARGV[1]))
end
return #KEYS
"""


class RedisStore:
    """Shared by every process; bound its memory with Redis's own ``maxmemory``
    and an LRU eviction policy (entries also expire at their age)."""

    def __init__(self, redis: Redis, prefix: str = "respcache") -> None:
        self.redis = redis
        self.prefix = prefix
        self._get = redis.register_script(_GET)
        self._put = redis.register_script(_PUT)
        self._purge = redis.register_script(_PURGE)

    def _tag_keys(self, tags: list[str]) -> list[str]:
        return [f"{self.prefix}:tag:{t}" for t in tags] + [
            f"{self.prefix}:purged:{t}" for t in tags
        ]

    async def get(self, key: str) -> Lookup:
        value, clock = await self._get(keys=[f"{self.prefix}:entry:{key}"])
        if isinstance(value, str):  # the live layer's client decodes replies
            value = value.encode()
        return Lookup(value or None, int(clock))

    async def put(
        self, key: str, value: bytes, ttl: int, tags: Iterable[str], since_ms: int
    ) -> bool:
        keys = [f"{self.prefix}:entry:{key}", *self._tag_keys(sorted(tags))]
        return bool(await self._put(keys=keys, args=[value, ttl, since_ms]))

    async def purge(self, tags: Iterable[str]) -> None:
        listed = sorted(tags)
        if listed:
            await self._purge(keys=self._tag_keys(listed), args=[PURGE_MEMORY_SECONDS])


def open_store(settings: Settings, redis: Redis) -> ResponseStore | None:
    """The process's one store, used by requests and background work alike: in Redis,
    shared by every process, when there is one; None when the cache is off."""
    if not settings.response_cache:
        return None
    if settings.redis_url:
        return RedisStore(redis)
    return MemoryStore(settings.response_cache_max_bytes)


async def purge_quietly(store: ResponseStore | None, tags: set[str]) -> None:
    """Purge, logging a failure instead of raising it: the write it follows stands."""
    if store is None or not tags:
        return
    try:
        await store.purge(tags)
    except Exception:
        log.warning("response cache purge of %s failed", sorted(tags), exc_info=True)
        return
    log.info("response cache purged %s", " ".join(sorted(tags)))

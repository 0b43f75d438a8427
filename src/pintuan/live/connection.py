"""One Redis client per process, real or in-process behind the same API."""

from __future__ import annotations

from fakeredis import FakeAsyncRedis, FakeServer
from redis.asyncio import Redis

from pintuan.settings import Settings


def connect(settings: Settings) -> Redis:
    """A client for PINTUAN_REDIS_URL, or an in-process server when it is unset.

    The embedded server lives as long as this process: live state is a mirror
    of the database, so nothing is lost when it goes away.
    """
    if settings.redis_url:
        return Redis.from_url(settings.redis_url, decode_responses=True)
    client: Redis = FakeAsyncRedis(server=FakeServer(), decode_responses=True)
    return client

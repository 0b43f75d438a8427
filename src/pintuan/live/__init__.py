"""The live layer over the redis.asyncio API: Redis in production, in-process when embedded."""

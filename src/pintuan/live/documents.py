"""Automatic persisted queries' documents by hash: in this process, or in Redis."""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from redis.asyncio import Redis

DOCUMENT_SECONDS = 7 * 24 * 3600  # a client re-registers a forgotten one on its next miss


class DocumentStore(Protocol):
    async def get(self, sha256: str) -> str | None: ...

    async def put(self, sha256: str, document: str) -> None: ...


class MemoryDocuments:
    def __init__(self, max_documents: int = 10_000) -> None:
        self.max_documents = max_documents
        self._documents: OrderedDict[str, str] = OrderedDict()

    async def get(self, sha256: str) -> str | None:
        document = self._documents.get(sha256)
        if document is not None:
            self._documents.move_to_end(sha256)
        return document

    async def put(self, sha256: str, document: str) -> None:
        self._documents[sha256] = document
        self._documents.move_to_end(sha256)
        while len(self._documents) > self.max_documents:
            self._documents.popitem(last=False)


class RedisDocuments:
    def __init__(self, redis: Redis, prefix: str = "apq") -> None:
        self.redis = redis
        self.prefix = prefix

    async def get(self, sha256: str) -> str | None:
        value = await self.redis.get(f"{self.prefix}:{sha256}")
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def put(self, sha256: str, document: str) -> None:
        await self.redis.set(f"{self.prefix}:{sha256}", document, ex=DOCUMENT_SECONDS)

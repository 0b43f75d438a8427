"""Automatic persisted queries, by Apollo's protocol, so GET URLs stay short.

A client sends ``extensions.persistedQuery = {version: 1, sha256Hash}`` without the
query; if the server does not know the hash it answers PERSISTED_QUERY_NOT_FOUND and
the client sends the query with the hash once, which registers it. A hash that does
not match its query is refused, so no one can register a document under another's.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

from strawberry.http import GraphQLRequestData

from pintuan.core.errors import ApiErrorCode
from pintuan.live.documents import DocumentStore

_SHA256 = re.compile(r"[0-9a-f]{64}")


class PersistedQueryRefusal(Exception):
    def __init__(self, code: ApiErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def resolve(
    store: DocumentStore, data: GraphQLRequestData
) -> tuple[GraphQLRequestData, str | None]:
    """The request with its document, and what APQ did: None, HIT or REGISTERED."""
    persisted = (data.extensions or {}).get("persistedQuery")
    if persisted is None:
        return data, None
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise PersistedQueryRefusal(
            ApiErrorCode.PERSISTED_QUERY_INVALID,
            "`extensions.persistedQuery` must be {version: 1, sha256Hash}.",
        )
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise PersistedQueryRefusal(
            ApiErrorCode.PERSISTED_QUERY_INVALID,
            "`sha256Hash` must be 64 lowercase hexadecimal digits.",
        )
    if data.query is None:
        document = await store.get(sha256)
        if document is None:
            raise PersistedQueryRefusal(
                ApiErrorCode.PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound"
            )
        return replace(data, query=document), "HIT"
    if hashlib.sha256(data.query.encode()).hexdigest() != sha256:
        raise PersistedQueryRefusal(
            ApiErrorCode.PERSISTED_QUERY_HASH_MISMATCH,
            "`sha256Hash` is not the SHA-256 of the query.",
        )
    await store.put(sha256, data.query)
    return data, "REGISTERED"

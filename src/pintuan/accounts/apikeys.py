"""API keys for storefronts: created once in full, then known by prefix and hash only."""

from __future__ import annotations

from dataclasses import dataclass

from pintuan.accounts.models import ApiKey, ApiKeyKind
from pintuan.accounts.tokens import digest, new_opaque_token
from pintuan.core import validation
from pintuan.core.clock import now_utc
from pintuan.core.errors import DomainError, ErrorCode

KEY_PREFIXES = {ApiKeyKind.PUBLISHABLE: "pk", ApiKeyKind.SECRET: "sk"}
SHOWN_PREFIX_LENGTH = 12
MAX_ORIGINS = 20


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: ApiKey
    secret: str


async def create_key(
    merchant_id: int, kind: ApiKeyKind, name: str, allowed_origins: list[str]
) -> CreatedKey:
    clean_name = validation.text(name, "name", max_length=100)
    if len(allowed_origins) > MAX_ORIGINS:
        raise DomainError(ErrorCode.INVALID, f"At most {MAX_ORIGINS} origins.", "allowedOrigins")
    origins = list(dict.fromkeys(validation.origin(o, "allowedOrigins") for o in allowed_origins))
    if kind == ApiKeyKind.PUBLISHABLE and not origins:
        raise DomainError(
            ErrorCode.INVALID,
            "A publishable key is used from browsers: list the origins it may be used from.",
            "allowedOrigins",
        )
    if kind == ApiKeyKind.SECRET and origins:
        raise DomainError(
            ErrorCode.INVALID,
            "Secret keys are for servers and never used from a browser origin.",
            "allowedOrigins",
        )
    secret = new_opaque_token(KEY_PREFIXES[kind])
    key = await ApiKey.create(
        merchant_id=merchant_id,
        kind=kind,
        name=clean_name,
        prefix=secret[:SHOWN_PREFIX_LENGTH],
        key_hash=digest(secret),
        allowed_origins=origins,
    )
    return CreatedKey(key, secret)


async def revoke_key(key: ApiKey) -> ApiKey:
    now = now_utc()
    changed = await ApiKey.filter(id=key.id, revoked_at=None).update(revoked_at=now)
    if changed != 1:
        raise DomainError(ErrorCode.ALREADY_REVOKED, "The key is already revoked.", "id")
    key.revoked_at = now
    return key


async def active_key(secret: str) -> ApiKey | None:
    return await ApiKey.get_or_none(key_hash=digest(secret), revoked_at=None)


async def key_by_id(key_id: int) -> ApiKey | None:
    return await ApiKey.get_or_none(id=key_id)


async def keys_of_merchant(merchant_id: int) -> list[ApiKey]:
    return await ApiKey.filter(merchant_id=merchant_id).order_by("-created_at", "-id")


async def origins_of_active_publishable_keys() -> set[str]:
    rows = await ApiKey.filter(kind=ApiKeyKind.PUBLISHABLE, revoked_at=None).values_list(
        "allowed_origins", flat=True
    )
    return {origin for origins in rows for origin in origins}

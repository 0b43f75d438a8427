"""Input rules shared by every domain; each failure names its field."""

from __future__ import annotations

import re
from typing import TypeVar
from urllib.parse import urlsplit

from tortoise.models import Model

from pintuan.core.errors import DomainError

M = TypeVar("M", bound=Model)

# Every integer the API takes or stores is 32-bit: GraphQL's Int, and the columns
# (keys, prices, counts, amounts). A larger one names nothing and fits nowhere.
MAX_INT = 2**31 - 1

HANDLE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


def storable(model: type[Model], field: str, value: str) -> bool:
    """Whether ``value`` fits the column (PostgreSQL refuses to store a longer one)."""
    max_length: int = model._meta.fields_map[field].max_length  # type: ignore[attr-defined]
    return len(value) <= max_length


async def find(model: type[M], **filters: str) -> M | None:
    """The row whose text columns equal ``filters``, or None.

    A value longer than its column names no row; Tortoise would refuse even to
    run the lookup, which ended requests as internal errors.
    """
    if not all(storable(model, name, value) for name, value in filters.items()):
        return None
    return await model.filter(**filters).first()


def text(value: str, field: str, *, min_length: int = 1, max_length: int) -> str:
    cleaned = value.strip()
    if not min_length <= len(cleaned) <= max_length:
        raise DomainError(
            "INVALID", f"Must be {min_length} to {max_length} characters long.", field
        )
    return cleaned


def handle(value: str, field: str = "handle") -> str:
    cleaned = value.strip()
    if not HANDLE.match(cleaned):
        raise DomainError(
            "INVALID",
            "Use 1 to 64 lower-case letters, digits and inner hyphens.",
            field,
        )
    return cleaned


def url(value: str, field: str) -> str:
    cleaned = value.strip()
    parts = urlsplit(cleaned)
    if parts.scheme not in ("https", "http") or not parts.netloc or len(cleaned) > 500:
        raise DomainError("INVALID", "Must be an http(s) URL of at most 500 characters.", field)
    return cleaned


def origin(value: str, field: str) -> str:
    """A browser origin, normalised: scheme://host[:port], lower-case, no path."""
    parts = urlsplit(value.strip().lower())
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.path not in ("", "/"):
        raise DomainError(
            "INVALID", f"{value[:80]!r} is not an origin like https://shop.example.", field
        )
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise DomainError("INVALID", f"{value[:80]!r} is not an origin.", field)
    return f"{parts.scheme}://{parts.netloc}"

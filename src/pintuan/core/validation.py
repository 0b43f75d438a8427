"""Input rules shared by every domain; each failure names its field."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from tortoise.models import Model

from pintuan.core.errors import DomainError, ErrorCode

M = TypeVar("M", bound=Model)

# Every integer the API takes or stores is 32-bit: GraphQL's Int, and the columns
# (keys, prices, counts, amounts). A larger one names nothing and fits nowhere.
MAX_INT = 2**31 - 1

# What no backend can store: NUL (PostgreSQL refuses it) and lone UTF-16
# surrogates (no UTF-8 encoder accepts them; JSON can carry them as "\ud800").
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = (
    "Text may not contain the NUL character (U+0000) or a lone surrogate (U+D800-U+DFFF)."
)


def unstorable(value: object) -> bool:
    """Whether any string in a decoded JSON value holds a character no backend stores."""
    if isinstance(value, str):
        return UNSTORABLE.search(value) is not None
    if isinstance(value, dict):
        return any(unstorable(key) or unstorable(item) for key, item in value.items())
    if isinstance(value, list):
        return any(unstorable(item) for item in value)
    return False


# Control characters (C0, DEL, C1), bidi embeddings, overrides and isolates, and
# lone surrogates; long text may hold newlines and tabs.
_BIDI = "\u202a-\u202e\u2066-\u2069"
REFUSED_IN_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}\ud800-\udfff]")
REFUSED_IN_TEXT = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}\ud800-\udfff]")
HANDLE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
# An origin as browsers send it, with at most a trailing slash people paste along.
ORIGIN = re.compile(
    r"(?P<scheme>https?)://(?P<host>\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(?P<port>[0-9]{1,5}))?/?",
    re.ASCII,
)
DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
IPV4_LIKE = re.compile(r"[0-9.]+", re.ASCII)
DEFAULT_PORTS = {"http": 80, "https": 443}


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


def in_utc(moment: datetime) -> datetime:
    """An aware time as UTC; ValueError when UTC has no such time (before year 1
    or after 9999, as ``9999-12-31T23:59:59-14:00`` is), which nothing can store."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time falls outside the years 1 to 9999 in UTC") from None


def text(
    value: str, field: str, *, min_length: int = 1, max_length: int, multiline: bool = False
) -> str:
    """Text as stored: NFC-normalised and trimmed, so that equal-looking text is
    equal; refusing control characters (newline and tab are allowed where
    ``multiline``) and bidi controls, which can make a name display as another."""
    cleaned = unicodedata.normalize("NFC", value).strip()
    if multiline:
        cleaned = cleaned.replace("\r\n", "\n")
    refused = (REFUSED_IN_TEXT if multiline else REFUSED_IN_LINE).search(cleaned)
    if refused is not None:
        raise DomainError(
            ErrorCode.INVALID,
            "May not contain control or bidirectional formatting characters"
            f" (found U+{ord(refused.group()):04X}).",
            field,
        )
    if not min_length <= len(cleaned) <= max_length:
        raise DomainError(
            ErrorCode.INVALID, f"Must be {min_length} to {max_length} characters long.", field
        )
    return cleaned


def email(value: str, field: str = "email") -> str:
    """An address as stored: its syntax checked by email-validator (which also
    refuses bidi and control characters), no DNS lookup, then lower-cased."""
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise DomainError(ErrorCode.INVALID, f"Enter a valid email address. {exc}", field) from None
    return checked.normalized.lower()


def handle(value: str, field: str = "handle") -> str:
    cleaned = value.strip()
    if not HANDLE.fullmatch(cleaned):
        raise DomainError(
            ErrorCode.INVALID,
            "Use 1 to 64 lower-case letters, digits and inner hyphens.",
            field,
        )
    return cleaned


def url(value: str, field: str) -> str:
    cleaned = value.strip()
    try:
        parts = urlsplit(cleaned)
    except ValueError:  # an unbalanced IPv6 bracket, e.g. "http://["
        parts = urlsplit("")
    if parts.scheme not in ("https", "http") or not parts.netloc or len(cleaned) > 500:
        raise DomainError(
            ErrorCode.INVALID, "Must be an http(s) URL of at most 500 characters.", field
        )
    return cleaned


def origin(value: str, field: str) -> str:
    """A browser origin, normalised: lower-case ``scheme://host[:port]``, default port dropped.

    Checked strictly, since an origin is compared as a string: anything a browser
    would never send (a path, userinfo, a bad host or port, stray characters) is
    refused rather than guessed at.
    """
    match = ORIGIN.fullmatch(value.strip().lower())
    host = None if match is None else _host(match["host"])
    if match is None or host is None:
        raise DomainError(
            ErrorCode.INVALID, f"{value[:80]!r} is not an origin like https://shop.example.", field
        )
    scheme, port = match["scheme"], match["port"]
    if port is not None and not 1 <= int(port) <= 65535:
        raise DomainError(ErrorCode.INVALID, f"{value[:80]!r} has no valid port.", field)
    if port is None or int(port) == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{int(port)}"


def _host(host: str) -> str | None:
    """The host in the form browsers send (IPv6 compressed), or None if invalid."""
    try:
        if host.startswith("["):
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        if IPV4_LIKE.fullmatch(host):
            return str(ipaddress.IPv4Address(host))
    except ValueError:
        return None
    labels = host.split(".")
    return host if len(host) <= 253 and all(map(DNS_LABEL.fullmatch, labels)) else None

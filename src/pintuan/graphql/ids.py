"""Relay global IDs: opaque base64 of ``Type:pk``, and the names of the types that have them.

``NodeType`` is the one list of those names, so a misspelt one is a type error.
Its values are the GraphQL type names and are part of every ID clients store.
"""

from __future__ import annotations

from enum import StrEnum

from pintuan.core import b64url
from pintuan.core.errors import ApiErrorCode
from pintuan.core.validation import MAX_INT
from pintuan.graphql.errors import ApiError

MAX_ID_LENGTH = 200


class NodeType(StrEnum):
    """The GraphQL types that implement Node, by name."""

    API_KEY = "ApiKey"
    GROUP = "Group"
    GROUP_BUY = "GroupBuy"
    MERCHANT = "Merchant"
    ORDER = "Order"
    PRODUCT = "Product"
    USER = "User"
    VARIANT = "Variant"


def to_global_id(type_name: NodeType, pk: int) -> str:
    return b64url.encode(f"{type_name}:{pk}".encode())


def from_global_id(global_id: str, field: str = "id") -> tuple[str, int]:
    """Decode any node ID; a malformed one is an INVALID_ID error."""
    invalid = ApiError(ApiErrorCode.INVALID_ID, f"{global_id[:40]!r} is not a valid ID.", field)
    if not global_id or len(global_id) > MAX_ID_LENGTH:
        raise invalid
    try:
        decoded = b64url.decode(global_id).decode("utf-8")
    except ValueError:
        raise invalid from None
    type_name, sep, raw_pk = decoded.partition(":")
    digits = raw_pk.isascii() and raw_pk.isdigit()  # isdigit() alone admits "²"
    if not sep or not type_name.isidentifier() or not digits or int(raw_pk) > MAX_INT:
        raise invalid
    return type_name, int(raw_pk)


def decode_id(global_id: str, expected: NodeType, field: str = "id") -> int:
    """Decode an ID that must name an ``expected`` object; a foreign one is WRONG_ID_TYPE."""
    type_name, pk = from_global_id(global_id, field)
    if type_name != expected:
        raise ApiError(
            ApiErrorCode.WRONG_ID_TYPE,
            f"Expected the ID of a {expected}, got the ID of a {type_name}.",
            field,
        )
    return pk

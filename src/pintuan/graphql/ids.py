"""Relay global IDs as GraphQL arguments: a malformed or foreign one is a coded error."""

from __future__ import annotations

from pintuan.core.errors import ApiErrorCode
from pintuan.core.ids import NodeType as NodeType
from pintuan.core.ids import parse_global_id
from pintuan.core.ids import to_global_id as to_global_id
from pintuan.graphql.errors import ApiError


def from_global_id(global_id: str, field: str = "id") -> tuple[str, int]:
    """Decode any node ID; a malformed one is an INVALID_ID error."""
    parsed = parse_global_id(global_id)
    if parsed is None:
        raise ApiError(ApiErrorCode.INVALID_ID, f"{global_id[:40]!r} is not a valid ID.", field)
    return parsed


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

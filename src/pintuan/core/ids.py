"""Relay global IDs: opaque base64url of ``Type:pk``, readable without GraphQL.

``NodeType`` is the one list of the type names IDs carry, so a misspelt one is a
type error; its values are the GraphQL type names and part of every ID clients
store. The webhook route names orders the way clients see them, and decodes
their IDs here, where a malformed one is simply None rather than a GraphQL error.
"""

from __future__ import annotations

from enum import StrEnum

from pintuan.core import b64url
from pintuan.core.validation import MAX_INT

MAX_ID_LENGTH = 200


class NodeType(StrEnum):
    """The GraphQL types that implement Node, by name."""

    API_KEY = "ApiKey"
    COMMENT = "Comment"
    COMMISSION_PLAN = "CommissionPlan"
    COMMUNITY = "Community"
    COMMUNITY_MEMBER = "CommunityMember"
    GROUP = "Group"
    GROUP_BUY = "GroupBuy"
    MERCHANT = "Merchant"
    ORDER = "Order"
    POST = "Post"
    PRODUCT = "Product"
    REPORT = "Report"
    USER = "User"
    VARIANT = "Variant"
    WITHDRAWAL = "Withdrawal"


def to_global_id(type_name: NodeType, pk: int) -> str:
    return b64url.encode(f"{type_name}:{pk}".encode())


def parse_global_id(global_id: str) -> tuple[str, int] | None:
    """The type name and primary key an ID names; None for a malformed one."""
    if not global_id or len(global_id) > MAX_ID_LENGTH:
        return None
    try:
        decoded = b64url.decode(global_id).decode("utf-8")
    except ValueError:
        return None
    type_name, sep, raw_pk = decoded.partition(":")
    digits = raw_pk.isascii() and raw_pk.isdigit()  # isdigit() alone admits "²"
    if not sep or not type_name.isidentifier() or not digits or int(raw_pk) > MAX_INT:
        return None
    return type_name, int(raw_pk)

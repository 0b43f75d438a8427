"""Top-level GraphQL errors, each with a stable ``extensions.code``.

Queries report refused input here; mutations report business failures as
``userErrors`` in their payloads instead.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError

from pintuan.core.errors import DomainError, ErrorCode


class ApiError(GraphQLError):
    """An error meant for the client: its message and code are shown as they are."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        extensions: dict[str, Any] = {"code": code}
        if field is not None:
            extensions["field"] = field
        super().__init__(message, extensions=extensions)


def from_domain(error: DomainError) -> ApiError:
    return ApiError(error.code, error.message, error.field)


def is_unexpected(error: GraphQLError) -> bool:
    """Errors raised by our own code that were not meant for clients get masked."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


strawberry.enum(ErrorCode, name="ErrorCode", description="Stable codes for every refusal.")


@strawberry.type(description="Why a mutation changed nothing; `field` names the input at fault.")
class UserError:
    field: str | None
    code: ErrorCode
    message: str


def user_errors(error: DomainError) -> list[UserError]:
    return [UserError(field=error.field, code=error.code, message=error.message)]

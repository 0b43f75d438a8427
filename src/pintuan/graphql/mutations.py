"""Mutations: their payloads, and the one place a refusal becomes ``userErrors``.

Where a refusal goes:

- **Top-level** ``errors``, with ``extensions.code`` from ``ApiErrorCode``: the
  request cannot run as sent. A malformed request (HTTP body, document,
  variables, a malformed ID or the ID of another type), an authentication or
  permission failure (``UNAUTHENTICATED``, ``FORBIDDEN``), a limit (rate,
  depth, aliases, tokens, cost), a collision with concurrent requests that
  rolled everything back (``TRY_AGAIN``) or a fault of ours. Queries and subscriptions
  have no payload, so their refusals come here too: arguments that exclude each
  other are ``INVALID_ARGUMENTS``, a bad cursor ``INVALID_CURSOR``, and so on.
- **userErrors** in the payload, with ``code`` from the SDL enum ``ErrorCode``:
  a mutation that was understood and allowed, refused by a business rule. That
  includes input values a rule refuses, arguments that exclude each other
  (``INVALID``), and a well-formed ID that names nothing the viewer can see
  (``NOT_FOUND``); ``field`` names the input at fault. A refused mutation
  changes nothing.

A mutation declares itself with ``mutation(...)``, returns a ``MutationPayload``
and raises ``DomainError`` to refuse; ``UserErrors`` turns that error into the
payload, so no resolver builds an error payload by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

import strawberry
from strawberry.extensions.field_extension import AsyncExtensionResolver, FieldExtension
from strawberry.permission import BasePermission
from strawberry.types.field import StrawberryField

from pintuan.core.contention import lost_race
from pintuan.core.errors import ApiErrorCode, DomainError, ErrorCode
from pintuan.graphql.errors import ApiError
from pintuan.graphql.permissions import allow

T = TypeVar("T")

strawberry.enum(ErrorCode, name="ErrorCode", description="Stable codes for every refusal.")


@strawberry.type(description="Why a mutation changed nothing; `field` names the input at fault.")
class UserError:
    field: str | None
    code: ErrorCode
    message: str


@strawberry.interface(description="What every mutation returns: its result, or why it refused.")
class MutationPayload:
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def user_errors(errors: Iterable[DomainError]) -> list[UserError]:
    return [UserError(field=e.field, code=e.code, message=e.message) for e in errors]


class UserErrors(FieldExtension):
    """Answers a ``DomainError`` raised by the mutation with its payload type, empty
    but for ``userErrors``; a transaction that lost a race (see ``core.contention``)
    is a top-level ``TRY_AGAIN``; any other exception stays a top-level error."""

    payload: type[MutationPayload]

    def apply(self, field: StrawberryField) -> None:
        payload = field.type
        if not (isinstance(payload, type) and issubclass(payload, MutationPayload)):
            raise TypeError(f"mutation {field.python_name} must return a MutationPayload")
        self.payload = payload

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: Any, **kwargs: Any
    ) -> Any:
        try:
            return await next_(source, info, **kwargs)
        except DomainError as exc:
            return self.payload(user_errors=user_errors([exc]))
        except Exception as exc:
            if lost_race(exc):  # rolled back whole: safe to send again, and no SQL to show
                raise ApiError(
                    ApiErrorCode.TRY_AGAIN,
                    "This collided with concurrent requests and changed nothing; send it again.",
                ) from None
            raise


def mutation(*permissions: BasePermission, description: str | None = None) -> Any:
    """``strawberry.mutation`` guarded by ``permissions``, reporting refusals as userErrors."""
    guards = allow(*permissions) if permissions else []
    return strawberry.mutation(description=description, extensions=[UserErrors(), *guards])


def found(row: T | None, what: str, field: str) -> T:
    """The row an argument's ID named; none is a NOT_FOUND refusal of ``field``."""
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"No such {what}.", field)
    return row

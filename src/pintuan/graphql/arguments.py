"""Rules on arguments that GraphQL's types cannot state."""

from __future__ import annotations

from collections.abc import Mapping

from graphql import OperationType

from pintuan.core.errors import ApiErrorCode, DomainError, ErrorCode
from pintuan.graphql.context import Info
from pintuan.graphql.errors import ApiError


def exactly_one(info: Info, arguments: Mapping[str, object]) -> str:
    """The name of the one argument given (not null) among ``arguments``, keyed by
    their names in the schema.

    Otherwise the request is refused naming the first: by a mutation as an
    ``INVALID`` userError, by a query or subscription as a top-level
    ``INVALID_ARGUMENTS`` (see ``pintuan.graphql.mutations``).
    """
    given = [name for name, value in arguments.items() if value is not None]
    if len(given) == 1:
        return given[0]
    names = list(arguments)
    message = f"Give exactly one of {', '.join(f'`{n}`' for n in names[:-1])} and `{names[-1]}`."
    if info.operation.operation is OperationType.MUTATION and info.path.prev is None:
        raise DomainError(ErrorCode.INVALID, message, names[0])
    raise ApiError(ApiErrorCode.INVALID_ARGUMENTS, message, names[0])

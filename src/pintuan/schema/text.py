"""Text inputs: refusing the one character no backend can store.

PostgreSQL refuses the NUL character in text, so a NUL sent in a share code,
an idempotency key or a name used to fail deep inside a query as an internal
error (SQLite stored it). Refusing it while the request is validated gives one
clear error on every backend, for queries, mutations and subscriptions alike,
before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, StringValueNode, ValidationRule
from strawberry.extensions import SchemaExtension

from pintuan.resolvers.errors import ApiErrorCode

NUL = "\x00"
MESSAGE = "Text may not contain the NUL character (U+0000)."


def _refusal(node: StringValueNode | None = None) -> GraphQLError:
    return GraphQLError(MESSAGE, node, extensions={"code": ApiErrorCode.INVALID_TEXT})


class NoNulInLiterals(ValidationRule):
    """Strings written into the document; cached with the rest of its validation."""

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        if NUL in node.value:
            self.report_error(_refusal(node))


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_holds_nul(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


class NoNulInVariables(SchemaExtension):
    """Strings sent as variables, which differ per request. Register it after
    ValidationCache: an error set here stands in for the document's validation."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if _holds_nul(context.variables):
            context.pre_execution_errors = [*(context.pre_execution_errors or []), _refusal()]
        yield

"""Text inputs: refusing the characters no backend can store.

PostgreSQL refuses the NUL character in text, and no backend can encode a lone
UTF-16 surrogate (JSON lets a client send one as ``"\\ud800"``), so such text used
to fail deep inside a query as an internal error. Refusing it while the request
is validated gives one clear error on every backend, for queries, mutations and
subscriptions alike, before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, StringValueNode, ValidationRule
from strawberry.extensions import SchemaExtension

from pintuan.core.errors import ApiErrorCode
from pintuan.core.validation import UNSTORABLE, UNSTORABLE_MESSAGE, unstorable


def refusal(node: StringValueNode | None = None) -> GraphQLError:
    return GraphQLError(
        UNSTORABLE_MESSAGE, node, extensions={"code": ApiErrorCode.INVALID_TEXT.value}
    )


class StorableTextLiterals(ValidationRule):
    """Strings written into the document; cached with the rest of its validation."""

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        if UNSTORABLE.search(node.value):
            self.report_error(refusal(node))


class StorableTextVariables(SchemaExtension):
    """Strings sent as variables, which differ per request, and such characters
    written raw into the document, which the GraphQL lexer reports as a bare
    syntax error (and Strawberry, over WebSocket, as nothing at all). Register
    it after ValidationCache: an error set here stands in for the document's
    validation."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        self.in_document = context.query is not None and unstorable(context.query)
        if context.query is not None and self.in_document:
            # Replaced only so that the document parses; validation refuses it.
            context.query = UNSTORABLE.sub("\ufffd", context.query)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if self.in_document or unstorable(context.variables):
            context.pre_execution_errors = [*(context.pre_execution_errors or []), refusal()]
        yield

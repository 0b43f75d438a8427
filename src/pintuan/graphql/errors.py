"""Top-level GraphQL errors, each with a stable ``extensions.code`` from ``ApiErrorCode``.

Which refusals come here and which go to a mutation's ``userErrors`` is written
in ``pintuan.graphql.mutations``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from http import HTTPStatus
from typing import Any, cast

from cross_web import HTTPException
from graphql import GraphQLError
from graphql.validation import ASTValidationRule, ValidationContext
from starlette.responses import Response
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from pintuan.core.errors import ApiErrorCode, DomainError
from pintuan.http.responses import error_response

# graphql-core raises the token limit as a plain syntax error with this ending.
_TOKEN_LIMIT = "tokens. Parsing aborted."


class ApiError(GraphQLError):
    """An error meant for the client: its message and code are shown as they are."""

    def __init__(self, code: ApiErrorCode, message: str, field: str | None = None) -> None:
        extensions: dict[str, Any] = {"code": code}
        if field is not None:
            extensions["field"] = field
        super().__init__(message, extensions=extensions)


def from_domain(error: DomainError) -> ApiError:
    """A domain refusal of a query or subscription, which has no payload to carry it.

    Only refusals whose code is also an ``ApiErrorCode`` member may reach a query;
    any other is a fault of ours and fails here, as one.
    """
    return ApiError(ApiErrorCode(error.code), error.message, error.field)


def is_unexpected(error: GraphQLError) -> bool:
    """Errors raised by our own code that were not meant for clients get masked."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def code_of(error: GraphQLError) -> str | None:
    code = (error.extensions or {}).get("code")
    return code if isinstance(code, str) else None


def with_code(error: GraphQLError, code: ApiErrorCode) -> GraphQLError:
    """Gives ``error`` a code unless it has one; errors built by graphql-core have none."""
    if code_of(error) is None:
        error.extensions = {**(error.extensions or {}), "code": code}
    return error


class _CodingContext:
    """A validation context that gives each error reported through it a code."""

    def __init__(self, context: ValidationContext, code: ApiErrorCode) -> None:
        self._context = context
        self._code = code

    def report_error(self, error: GraphQLError) -> None:
        self._context.report_error(with_code(error, self._code))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def coded_rule(rule: type[ASTValidationRule], code: ApiErrorCode) -> type[ASTValidationRule]:
    """``rule`` reporting its errors with ``code``, so that a client can tell limits apart."""

    class CodedRule(rule):  # type: ignore[valid-type, misc]
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(cast(ValidationContext, _CodingContext(context, code)))

    CodedRule.__name__ = rule.__name__
    return CodedRule


class ErrorCodes(SchemaExtension):
    """Codes the errors graphql-core and Strawberry build without one, by the stage
    that refused: parsing, validation, or execution (where an error without a code
    is a fault of ours, masked or not).

    The coding happens in ``get_results``: Strawberry calls it once for every
    result, after MaskErrors and with the final errors in ``pre_execution_errors``,
    whereas ``on_operation`` does not see a parse error (raised, not returned).
    """

    executing = False

    def on_execute(self) -> Iterator[None]:
        self.executing = True
        yield

    def get_results(self) -> dict[str, Any]:
        for error in self.execution_context.pre_execution_errors or ():
            with_code(error, self._stage_code(error))
        return {}

    def _stage_code(self, error: GraphQLError) -> ApiErrorCode:
        if self.execution_context.graphql_document is None:
            if error.message.endswith(_TOKEN_LIMIT):
                return ApiErrorCode.TOO_MANY_TOKENS
            return ApiErrorCode.GRAPHQL_PARSE_FAILED
        if not self.executing:
            return ApiErrorCode.GRAPHQL_VALIDATION_FAILED
        return ApiErrorCode.INTERNAL_SERVER_ERROR


class SyntaxReportingParserCache(ParserCache):
    """Leaves a document that does not parse to Strawberry's own parse, which
    reports the syntax error as a result: raised from this hook it escaped the
    WebSocket transport, which answered with a bare ``complete``."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        with suppress(GraphQLError):
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        yield


def view_refusal(exc: HTTPException) -> Response:
    """Strawberry's view refuses malformed requests in plain text; clients get the
    same JSON error shape, with a code, as for every other refusal."""
    cause = exc.__cause__
    code = ApiErrorCode.BAD_REQUEST
    if isinstance(cause, InvalidOperationTypeError):
        code = ApiErrorCode.OPERATION_NOT_ALLOWED
    elif isinstance(cause, CannotGetOperationTypeError):
        code = ApiErrorCode.UNKNOWN_OPERATION
    elif isinstance(cause, MissingQueryError) or exc.status_code == HTTPStatus.NOT_FOUND:
        code = ApiErrorCode.MISSING_QUERY
    elif exc.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        code = ApiErrorCode.METHOD_NOT_ALLOWED
    return error_response(exc.status_code, code, exc.reason)

"""Which operation of a document runs, as the GraphQL spec says, and coded refusals.

Strawberry falls back to a document's first operation when no ``operationName``
is sent, so a document with several operations ran its first one; the spec
(GetOperation) refuses such a request. graphql-core does refuse it, and builds
that error, an unknown operation name and every variable coercion error in
``Executor.build``, where they get their codes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, OperationDefinitionNode
from graphql.execution.executor import Executor
from strawberry.types import ExecutionContext

from pintuan.core.errors import ApiErrorCode
from pintuan.graphql.errors import with_code
from pintuan.graphql.fanout import EventExecutor
from pintuan.graphql.plain import PlainFields


def operations_of(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


def selected_operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation a request runs; None when the document does not say which."""
    operations = operations_of(document)
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


@dataclasses.dataclass
class SpecExecutionContext(ExecutionContext):
    """Names only the operation the client named, or the document's only one."""

    @property
    def operation_name(self) -> str | None:
        if self._provided_operation_name is not None:
            return self._provided_operation_name
        if self.graphql_document is None:
            return None
        operation = selected_operation(self.graphql_document, None)
        return operation.name.value if operation is not None and operation.name else None


class CodedExecutor(PlainFields, EventExecutor):
    @classmethod
    def build(
        cls, schema: GraphQLSchema, document: DocumentNode, *args: Any, **kwargs: Any
    ) -> list[GraphQLError] | Executor[Any]:
        built = super().build(schema, document, *args, **kwargs)
        if isinstance(built, list):
            name = kwargs.get("operation_name", args[3] if len(args) > 3 else None)
            code = ApiErrorCode.INVALID_VARIABLES
            if selected_operation(document, name) is None:
                code = (
                    ApiErrorCode.OPERATION_NAME_REQUIRED
                    if name is None
                    else ApiErrorCode.UNKNOWN_OPERATION
                )
            built = [with_code(error, code) for error in built]
        return built

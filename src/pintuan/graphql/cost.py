"""A static cost limit: what an operation may ask for, computed before it runs.

Depth, alias and token limits leave a 700-byte query free to ask for 15 pages
of 100 products, each with 100 products of its merchant: megabytes of output
and seconds of work. The cost bounds the number of objects an operation can
return, read from the schema's types: a field returning an object costs 1, a
leaf 0; a field taking ``first`` multiplies what its selection costs by the
page size asked for (the default page size when omitted), and the list
directly inside it (a connection's ``edges``) is that page; any other list of
objects counts as a default page. Introspection is free, as it is for the depth
limit: its size is the schema's.

The document is compiled to a tree of terms once per (query, operation); a
request then evaluates it with its own variables, since they may set ``first``.
The check runs in ``on_execute``, after validation and before any resolver; it
has no ``resolve`` hook, which would wrap every field.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    parse,
)
from graphql.language import OperationType
from strawberry.extensions import SchemaExtension

from pintuan.core.errors import ApiErrorCode
from pintuan.graphql.errors import ApiError
from pintuan.graphql.operations import selected_operation

PAGE_ARGUMENT = "first"
COMPILED_DOCUMENTS = 512


@dataclass(frozen=True, slots=True)
class PageVariable:
    """A page size set by a variable; ``fallback`` when the request leaves it unset:
    the variable's default in the document, else the default page size."""

    name: str
    fallback: int


@dataclass(frozen=True, slots=True)
class Term:
    """One field: its own cost, its page size (1 when it is no list) and its selection."""

    own: int
    size: int | PageVariable
    children: tuple[Term, ...]

    def cost(self, variables: Mapping[str, Any]) -> int:
        size = self.size
        if isinstance(size, PageVariable):
            given = variables.get(size.name)
            # A bad value is refused when variables are coerced, right after this.
            size = given if isinstance(given, int) and given >= 0 else size.fallback
        return self.own + size * sum(child.cost(variables) for child in self.children)


class Compiler:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        default_size: int,
    ) -> None:
        self.schema = schema
        self.default_size = default_size
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variable_defaults = {
            v.variable.name.value: max(0, int(v.default_value.value))
            for v in operation.variable_definitions or ()
            if isinstance(v.default_value, IntValueNode)
        }

    def selection(
        self, selection_set: SelectionSetNode | None, parent: Any, paged: bool
    ) -> Iterator[Term]:
        """Terms of a selection on ``parent``; ``paged`` when it is a page's own selection."""
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, FieldNode):
                term = self.field(node, parent, paged)
                if term is not None:
                    yield term
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                on = self.schema.get_type(condition.name.value) if condition else parent
                yield from self.selection(node.selection_set, on, paged)
            elif isinstance(node, FragmentSpreadNode):
                fragment = self.fragments[node.name.value]
                on = self.schema.get_type(fragment.type_condition.name.value)
                yield from self.selection(fragment.selection_set, on, paged)

    def field(self, node: FieldNode, parent: Any, paged: bool) -> Term | None:
        if node.name.value.startswith("__"):
            return None
        fields = (
            parent.fields if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) else {}
        )
        definition: GraphQLField | None = fields.get(node.name.value)
        if definition is None:
            return None
        named = get_named_type(definition.type)
        if not is_composite_type(named):
            return Term(0, 1, ())
        pages = PAGE_ARGUMENT in definition.args
        size: int | PageVariable = 1
        if pages:
            size = self.page_size(node, definition)
        elif isinstance(get_nullable_type(definition.type), GraphQLList) and not paged:
            size = self.default_size
        children = tuple(self.selection(node.selection_set, named, pages))
        return Term(1, size, children)

    def page_size(self, node: FieldNode, definition: GraphQLField) -> int | PageVariable:
        for argument in node.arguments or ():
            if argument.name.value != PAGE_ARGUMENT:
                continue
            if isinstance(argument.value, IntValueNode):
                return max(0, int(argument.value.value))
            if isinstance(argument.value, VariableNode):
                name = argument.value.name.value
                return PageVariable(name, self.variable_defaults.get(name, self.default_size))
            break
        default = definition.args[PAGE_ARGUMENT].default_value
        return default if isinstance(default, int) else self.default_size


class CostEstimator:
    """Compiles each document once and prices each request."""

    def __init__(self, limit: int, default_size: int) -> None:
        self.limit = limit
        self.default_size = default_size
        self.compile = lru_cache(maxsize=COMPILED_DOCUMENTS)(self._compile)

    def _compile(
        self, schema: GraphQLSchema, query: str, operation_name: str | None
    ) -> tuple[Term, ...]:
        # Keyed by the text (documents are not hashable), so parsed again here,
        # once per compiled entry.
        document = parse(query)
        operation = selected_operation(document, operation_name)
        if operation is None:
            return ()  # execution refuses it, with its own code
        root = {
            OperationType.QUERY: schema.query_type,
            OperationType.MUTATION: schema.mutation_type,
            OperationType.SUBSCRIPTION: schema.subscription_type,
        }[operation.operation]
        compiler = Compiler(schema, document, operation, self.default_size)
        return tuple(compiler.selection(operation.selection_set, root, False))

    def cost(
        self,
        schema: GraphQLSchema,
        query: str,
        operation_name: str | None,
        variables: Mapping[str, Any],
    ) -> int:
        terms = self.compile(schema, query, operation_name)
        return sum(term.cost(variables) for term in terms)


class QueryCost(SchemaExtension):
    """Refuses an operation above the limit before it runs; reports every cost."""

    def __init__(self, estimator: CostEstimator) -> None:
        self.estimator = estimator
        self.requested = 0

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None:
            self.requested = self.estimator.cost(
                context.schema._schema,
                context.query,
                context.operation_name,
                context.variables or {},
            )
        limit = self.estimator.limit
        if self.requested > limit:
            raise ApiError(
                ApiErrorCode.QUERY_TOO_COSTLY,
                f"The query's cost is {self.requested}, above the limit of {limit}; "
                "ask for smaller pages or fewer fields.",
            )
        yield

    def get_results(self) -> dict[str, Any]:
        return {"cost": {"requested": self.requested, "limit": self.estimator.limit}}

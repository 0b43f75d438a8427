"""Plain fields completed without graphql-core's per-field machinery.

Most fields of a catalog page are read straight off an object: scalars (a variant's
``sku``, a price's ``amount``) and plain objects (a variant's ``price``). Strawberry
calls such a field "basic" and skips its ``Info``, but graphql-core still builds a
resolve info, calls the attribute read through two wrappers and walks the type's
wrappers to complete the value: most of the CPU of a page of 500 fields.
``PlainFields`` reads such a value itself, then coerces a scalar or runs an
object's selection. A selection made only of plain fields (a variant's ``sku price
{ amount currency } available``) is compiled once per request into a list of reads
and answered by one loop with no per-field call into graphql-core at all. Anything
out of the ordinary (a null where the type forbids it, a value the scalar refuses,
an awaitable, an object type with an ``is_type_of`` check, resolver middleware)
takes graphql-core's path, which reports it as before: a compiled selection that
meets one is answered again by that path, which reads the same plain attributes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from graphql import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLString,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

_MEMO = "pintuan-plain-field"


@dataclass(frozen=True, slots=True)
class PlainField:
    """How to answer one basic field: read the attribute, then coerce it (a scalar
    or enum) or run the selection on it (an object type without ``is_type_of``)."""

    attribute: str
    read: Callable[[Any, str], Any]
    type: GraphQLScalarType | GraphQLEnumType | GraphQLObjectType
    nullable: bool


def plain_field(field: GraphQLField) -> PlainField | None:
    """The field as a plain one, or None when it has a resolver or an extension, or
    its type is a list or abstract; worked out on first use, kept in its extensions."""
    extensions = field.extensions
    try:
        found: PlainField | None = extensions[_MEMO]
    except KeyError:
        found = extensions[_MEMO] = _as_plain_field(field)
    return found


def _as_plain_field(field: GraphQLField) -> PlainField | None:
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    # Strawberry marks the resolver it gives a basic field (no resolver, extension,
    # permission or exception handler) as the default one.
    basic = getattr(field.resolve, "_is_default", False)
    if not isinstance(definition, StrawberryField) or not basic:
        return None
    nullable = not isinstance(field.type, GraphQLNonNull)
    named = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    if isinstance(named, GraphQLObjectType) and named.is_type_of is not None:
        return None
    if not isinstance(named, GraphQLScalarType | GraphQLEnumType | GraphQLObjectType):
        return None
    return PlainField(definition.python_name, definition.default_resolver, named, nullable)


class _NotPlain(Exception):
    """A compiled selection met a value only graphql-core's path may answer."""


# One selected field of a compiled selection: its response name, how to read it,
# and either how to coerce it (a leaf) or the compiled selection on it (an object).
_Step = tuple[str, PlainField | None, "_Plan | None"]
_Plan = list[_Step]


def _leaf(leaf: GraphQLScalarType | GraphQLEnumType, value: Any) -> Any:
    """The value as the scalar writes it, the commonest cases first."""
    kind = type(value)
    if kind is str and (leaf is GraphQLString or leaf is GraphQLID):
        return value
    if kind is int and leaf is GraphQLInt and GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT:
        return value
    coerced = _coerced(leaf, value)
    if coerced is None:
        raise _NotPlain
    return coerced


def _answer(plan: _Plan, source: Any, type_name: str) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    for name, field, nested in plan:
        if field is None:  # __typename
            answer[name] = type_name
            continue
        value = field.read(source, field.attribute)
        if value is None:
            if not field.nullable:
                raise _NotPlain
            answer[name] = None
        elif nested is not None:
            answer[name] = _answer(nested, value, field.type.name)
        else:  # compiled without a nested selection only when it is a leaf
            answer[name] = _leaf(cast(GraphQLScalarType | GraphQLEnumType, field.type), value)
    return answer


class PlainFields(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Resolver middleware (a schema extension's ``resolve`` hook) must see every field.
        manager = self.middleware_manager
        self.plain_allowed = manager is None or not manager.middlewares
        # By the identity of graphql-core's memoized field sets, kept alive with them.
        self._plans: dict[int, tuple[GroupedFieldSet, _Plan | None]] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        plan = self._plan(parent_type, grouped_field_set) if self.plain_allowed else None
        if plan is not None:
            try:
                return _answer(plan, source_value, parent_type.name)
            except Exception:  # any surprise: graphql-core's path reads and reports it
                pass
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )

    def _plan(self, parent_type: GraphQLObjectType, fields: GroupedFieldSet) -> _Plan | None:
        known = self._plans.get(id(fields))
        if known is not None and known[0] is fields:
            return known[1]
        plan = self._compiled(parent_type, fields)
        self._plans[id(fields)] = (fields, plan)
        return plan

    def _compiled(self, parent_type: GraphQLObjectType, fields: GroupedFieldSet) -> _Plan | None:
        """The selection as steps, or None when any field in it is not plain."""
        plan: _Plan = []
        for name, details in fields.items():
            field_name = details[0].node.name.value
            if field_name == "__typename":
                plan.append((name, None, None))
                continue
            field = self.schema.get_field(parent_type, field_name)
            plain = plain_field(field) if field is not None else None
            if plain is None:
                return None
            nested = None
            if isinstance(plain.type, GraphQLObjectType):
                subfields = self.collect_subfields(plain.type, details)[0]
                nested = self._plan(plain.type, subfields)
                if nested is None:
                    return None
            plan.append((name, plain, nested))
        return plan

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        field = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        plain = plain_field(field) if field is not None and self.plain_allowed else None
        if field is not None and plain is not None:
            value = plain.read(source, plain.attribute)
            if value is None:
                if plain.nullable:
                    return None
            elif not isinstance(value, Exception) and not self.is_awaitable(value):
                if isinstance(plain.type, GraphQLObjectType):
                    return self._selection_on(
                        plain.type, field.type, field_details_list, path, value, position_context
                    )
                coerced = _coerced(plain.type, value)
                if coerced is not None:
                    return coerced
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def _selection_on(
        self,
        object_type: GraphQLObjectType,
        field_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        path: Path,
        value: Any,
        position_context: Any,
    ) -> Any:
        """The object's selection, its errors handled as ``execute_field`` handles them."""
        try:
            completed = self.collect_and_execute_subfields(
                object_type, field_details_list, path, value, position_context
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, field_type, field_details_list, path)
            return None
        if self.is_awaitable(completed):
            return self._awaited(completed, field_type, field_details_list, path)
        return completed

    async def _awaited(
        self,
        completed: Awaitable[Any],
        field_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, field_type, field_details_list, path)
            return None


def _coerced(leaf: GraphQLScalarType | GraphQLEnumType, value: Any) -> Any:
    """The value as the scalar writes it; None when it refuses (graphql-core's path
    then raises the error it always raised)."""
    try:
        coerced = leaf.coerce_output_value(value)
    except Exception:
        return None
    return None if coerced is Undefined else coerced

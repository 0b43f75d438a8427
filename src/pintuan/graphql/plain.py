"""Plain fields completed without graphql-core's per-field machinery.

Most fields of a catalog page are read straight off an object: scalars (a variant's
``sku``, a price's ``amount``) and plain objects (a variant's ``price``). Strawberry
calls such a field "basic" and skips its ``Info``, but graphql-core still builds a
resolve info, calls the attribute read through two wrappers and walks the type's
wrappers to complete the value: most of the CPU of a page of 500 fields.
``PlainFields`` reads such a value itself, then coerces a scalar or runs an
object's selection. A selection made only of plain fields (a variant's ``sku price
{ amount currency } available``) is compiled once per request into a list of reads
and answered by one loop with no per-field call into graphql-core at all.

A resolver marked ``@plain_resolver`` (synchronous, no arguments, reading nothing of
its ``info`` but the context) is plain too: a post's ``author`` read from a loader
the page has filled, a post's ``attachment`` (a union: the value's own type is the
one answered). So is an object type whose ``is_type_of`` is Strawberry's own class
check (a ``Node``'s), which is asked as graphql-core would ask it.

Anything out of the ordinary (a null where the type forbids it, a value the scalar
refuses, an awaitable, a failed ``is_type_of``, a resolver that raises or reads more
of its ``info``, resolver middleware) takes graphql-core's path, which reports it as
before: a compiled selection that meets one is answered again by that path, which
reads the same attributes and calls the same resolvers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from inspect import iscoroutine
from typing import Any, TypeVar, cast

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
    GraphQLUnionType,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

_MEMO = "pintuan-plain-field"
_MARK = "_pintuan_plain_resolver"
F = TypeVar("F", bound=Callable[..., Any])


def plain_resolver(resolver: F) -> F:
    """Mark a field's resolver as plain: synchronous, without arguments, reading only
    ``info.context`` (anything else it reads of ``info`` sends the field down
    graphql-core's path). Put it below ``@strawberry.field``."""
    setattr(resolver, _MARK, True)
    return resolver


class _ContextOnly:
    """The ``info`` a plain resolver gets: its context, and nothing else to read."""

    __slots__ = ("context",)

    def __init__(self, context: Any) -> None:
        self.context = context


@dataclass(frozen=True, slots=True)
class PlainField:
    """How to answer one plain field: read the attribute (or call the plain resolver
    with the source and the context), then coerce it (a scalar or enum) or run the
    selection on it (an object type, or the value's own type of a union)."""

    attribute: str
    read: Callable[[Any, str], Any]
    type: GraphQLScalarType | GraphQLEnumType | GraphQLObjectType | GraphQLUnionType
    nullable: bool
    resolve: Callable[[Any, Any], Any] | None = None
    is_type_of: Callable[[Any, Any], Any] | None = None

    def value(self, source: Any, context: Any) -> Any:
        if self.resolve is not None:
            return self.resolve(source, context)
        return self.read(source, self.attribute)


def plain_field(field: GraphQLField) -> PlainField | None:
    """The field as a plain one, or None when it has a resolver that is not plain or
    an extension, or its type is a list or an interface; worked out on first use,
    kept in its extensions."""
    extensions = field.extensions
    try:
        found: PlainField | None = extensions[_MEMO]
    except KeyError:
        found = extensions[_MEMO] = _as_plain_field(field)
    return found


def _as_plain_field(field: GraphQLField) -> PlainField | None:
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField):
        return None
    # Strawberry marks the resolver it gives a basic field (no resolver, extension,
    # permission or exception handler) as the default one.
    basic = getattr(field.resolve, "_is_default", False)
    resolve = None if basic else _plain_resolve(definition)
    if not basic and resolve is None:
        return None
    nullable = not isinstance(field.type, GraphQLNonNull)
    named = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    is_type_of = None
    if isinstance(named, GraphQLObjectType) and named.is_type_of is not None:
        if not _strawberry_class_check(named):
            return None
        is_type_of = named.is_type_of
    if not isinstance(
        named, GraphQLScalarType | GraphQLEnumType | GraphQLObjectType | GraphQLUnionType
    ):
        return None
    read = definition.default_resolver
    return PlainField(definition.python_name, read, named, nullable, resolve, is_type_of)


def _plain_resolve(definition: StrawberryField) -> Callable[[Any, Any], Any] | None:
    """``(source, context) -> value`` for a resolver marked plain, if it is one."""
    resolver = definition.base_resolver
    if resolver is None or definition.extensions or resolver.is_async or resolver.arguments:
        return None
    if not getattr(resolver.wrapped_func, _MARK, False) or resolver.self_parameter is None:
        return None
    if resolver.root_parameter is not None or resolver.parent_parameter is not None:
        return None
    func, info = cast(Callable[..., Any], resolver.wrapped_func), resolver.info_parameter
    if info is None:
        return lambda source, _context: func(source)
    name = info.name
    return lambda source, context: func(source, **{name: _ContextOnly(context)})


def _strawberry_class_check(object_type: GraphQLObjectType) -> bool:
    """Whether the type's ``is_type_of`` is the one Strawberry gives a type with
    interfaces (an ``isinstance`` check, which reads nothing of its ``info``)."""
    definition = object_type.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return isinstance(definition, StrawberryObjectDefinition) and definition.is_type_of is None


class _NotPlain(Exception):
    """A compiled selection met a value only graphql-core's path may answer."""


class _Union:
    """A union's selection, compiled for each type its values turn out to have."""

    __slots__ = ("details", "plans")

    def __init__(self, details: FieldDetailsList) -> None:
        self.details = details
        self.plans: dict[str, tuple[GraphQLObjectType, _Plan]] = {}


# One selected field of a compiled selection: its response name, how to read it,
# and either how to coerce it (a leaf) or the compiled selection on it (an object).
_Step = tuple[str, PlainField | None, "_Plan | _Union | None"]
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


def _discarded(value: Any) -> None:
    """A plain resolver's awaitable that graphql-core's path will ask for again."""
    if iscoroutine(value):
        value.close()


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
                return self._answer(plan, source_value, parent_type.name)
            except Exception:  # any surprise: graphql-core's path reads and reports it
                pass
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )

    def _answer(self, plan: _Plan, source: Any, type_name: str) -> dict[str, Any]:
        context = self.context_value
        answer: dict[str, Any] = {}
        for name, field, nested in plan:
            if field is None:  # __typename
                answer[name] = type_name
                continue
            value = field.value(source, context)
            if value is None:
                if not field.nullable:
                    raise _NotPlain
                answer[name] = None
            elif field.resolve is not None and self.is_awaitable(value):
                _discarded(value)
                raise _NotPlain
            elif isinstance(nested, _Union):
                own_type, own_plan = self._union_plan(
                    cast(GraphQLUnionType, field.type), nested, value
                )
                answer[name] = self._answer(own_plan, value, own_type.name)
            elif nested is not None:
                if field.is_type_of is not None and not field.is_type_of(value, None):
                    raise _NotPlain
                answer[name] = self._answer(nested, value, field.type.name)
            else:  # compiled without a nested selection only when it is a leaf
                answer[name] = _leaf(cast(GraphQLScalarType | GraphQLEnumType, field.type), value)
        return answer

    def _union_plan(
        self, union: GraphQLUnionType, nested: _Union, value: Any
    ) -> tuple[GraphQLObjectType, _Plan]:
        """The value's own type of the union, as Strawberry names it, and the
        selection compiled for it."""
        definition = getattr(value, "__strawberry_definition__", None)
        if not isinstance(definition, StrawberryObjectDefinition):
            raise _NotPlain
        known = nested.plans.get(definition.name)
        if known is not None:
            return known
        own = self.schema.get_type(definition.name)
        if not isinstance(own, GraphQLObjectType) or not self.schema.is_sub_type(union, own):
            raise _NotPlain
        if own.is_type_of is not None and not _strawberry_class_check(own):
            raise _NotPlain
        plan = self._plan(own, self.collect_subfields(own, nested.details)[0])
        if plan is None:
            raise _NotPlain
        nested.plans[definition.name] = (own, plan)
        return own, plan

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
            nested: _Plan | _Union | None = None
            if isinstance(plain.type, GraphQLUnionType):
                nested = _Union(details)
            elif isinstance(plain.type, GraphQLObjectType):
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
        # A union is answered here only within a compiled selection.
        if field is not None and plain is not None and not isinstance(plain.type, GraphQLUnionType):
            try:
                value = plain.value(source, self.context_value)
            except Exception:  # graphql-core's path calls it again and reports it
                value = _NotPlain
            if value is None:
                if plain.nullable:
                    return None
            elif self.is_awaitable(value):
                _discarded(value)
            elif value is not _NotPlain and not isinstance(value, Exception):
                if isinstance(plain.type, GraphQLObjectType):
                    if plain.is_type_of is None or plain.is_type_of(value, None):
                        return self._selection_on(
                            plain.type,
                            field.type,
                            field_details_list,
                            path,
                            value,
                            position_context,
                        )
                else:
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

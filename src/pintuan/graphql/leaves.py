"""Plain scalar fields completed without graphql-core's per-field machinery.

Most fields of a catalog page are scalars read straight off an object (a variant's
``sku``, a price's ``amount``). Strawberry calls such a field "basic" and skips its
``Info``, but graphql-core still builds a resolve info, calls the attribute read
through two wrappers and walks the type's wrappers to complete the value: most of the
CPU of a page of 500 fields. ``PlainLeaves`` reads and coerces such a value itself.
Anything out of the ordinary (a null where the type forbids it, a value the scalar
refuses, resolver middleware) takes graphql-core's path, which reports it as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

_MEMO = "pintuan-plain-leaf"


@dataclass(frozen=True, slots=True)
class PlainLeaf:
    """How to answer one basic scalar field: read the attribute, coerce it."""

    attribute: str
    read: Callable[[Any, str], Any]
    leaf: GraphQLLeafType
    nullable: bool


def plain_leaf(field: GraphQLField) -> PlainLeaf | None:
    """The field as a plain leaf, or None when it has a resolver, an extension or a
    composite type; worked out on first use and kept in the field's extensions."""
    extensions = field.extensions
    try:
        found: PlainLeaf | None = extensions[_MEMO]
    except KeyError:
        found = extensions[_MEMO] = _as_plain_leaf(field)
    return found


def _as_plain_leaf(field: GraphQLField) -> PlainLeaf | None:
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    # Strawberry marks the resolver it gives a basic field (no resolver, extension,
    # permission or exception handler) as the default one.
    basic = getattr(field.resolve, "_is_default", False)
    if not isinstance(definition, StrawberryField) or not basic:
        return None
    nullable = not isinstance(field.type, GraphQLNonNull)
    leaf = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    if not isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
        return None
    return PlainLeaf(definition.python_name, definition.default_resolver, leaf, nullable)


class PlainLeaves(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Resolver middleware (a schema extension's ``resolve`` hook) must see every field.
        manager = self.middleware_manager
        self.plain_allowed = manager is None or not manager.middlewares

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        field = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        plain = plain_leaf(field) if field is not None and self.plain_allowed else None
        if plain is not None:
            value = plain.read(source, plain.attribute)
            if value is None:
                if plain.nullable:
                    return None
            elif not isinstance(value, Exception) and not self.is_awaitable(value):
                coerced = _coerced(plain.leaf, value)
                if coerced is not None:
                    return coerced
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )


def _coerced(leaf: GraphQLLeafType, value: Any) -> Any:
    """The value as the scalar writes it; None when it refuses (graphql-core's path
    then raises the error it always raised)."""
    try:
        coerced = leaf.coerce_output_value(value)
    except Exception:
        return None
    return None if coerced is Undefined else coerced

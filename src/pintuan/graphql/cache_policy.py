"""How long a query's response may be cached, and by whom, read from its document.

The policy is worked out once per document, from the hints in ``cache_hints`` and the
schema's types, before anything executes: the smallest age of any selected field wins,
and one PRIVATE field makes the whole response private. Fields of an abstract type
count the hints of every type that could answer them, so a policy never promises more
than the loosest answer allows. Anything that is not a single named query, or does not
parse, has no policy and is never cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
    parse,
)

from pintuan.graphql.cache_hints import CacheScope, Hint, field_hint, type_hint

DOCUMENTS_REMEMBERED = 1024


@dataclass(frozen=True, slots=True)
class Policy:
    max_age: int
    scope: CacheScope


class Policies:
    """Policies by document text and operation name, for one schema."""

    def __init__(self, schema: GraphQLSchema, max_tokens: int) -> None:
        self.schema = schema
        self.max_tokens = max_tokens
        self.of = lru_cache(maxsize=DOCUMENTS_REMEMBERED)(self._policy)

    def _policy(self, query: str, operation_name: str | None) -> Policy | None:
        try:
            document = parse(query, max_tokens=self.max_tokens, no_location=True)
        except GraphQLError:
            return None
        operation = _operation(document, operation_name)
        if operation is None or operation.operation is not OperationType.QUERY:
            return None
        root = self.schema.query_type
        if root is None:
            return None
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        walk = _Walk(self.schema, fragments)
        walk.selections(operation.selection_set, root, None, frozenset())
        if walk.max_age is None or walk.max_age <= 0:
            return None
        return Policy(walk.max_age, CacheScope.PRIVATE if walk.private else CacheScope.PUBLIC)


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    named = [o for o in operations if o.name is not None and o.name.value == name]
    return named[0] if len(named) == 1 else None


def _origin(named: GraphQLNamedType) -> type | None:
    definition = named.extensions.get("strawberry-definition")
    if definition is None:
        return None
    concrete_of = getattr(definition, "concrete_of", None)
    origin: type = (concrete_of or definition).origin
    return origin


class _Walk:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.schema = schema
        self.fragments = fragments
        self.max_age: int | None = None
        self.private = False

    def _lower(self, age: int | None) -> None:
        age = 0 if age is None else age
        self.max_age = age if self.max_age is None else min(self.max_age, age)

    def selections(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType,
        parent_age: int | None,
        spread: frozenset[str],
    ) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                self.field(selection, parent, parent_age, spread)
                continue
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in spread:
                    self._lower(0)
                    continue
                condition = fragment.type_condition.name.value
                nested = fragment.selection_set
                spread = spread | {name}
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition.name.value if selection.type_condition else ""
                nested = selection.selection_set
            else:
                continue
            narrowed = self.schema.get_type(condition) if condition else parent
            if narrowed is None:
                self._lower(0)
                continue
            self.selections(nested, narrowed, parent_age, spread)

    def field(
        self,
        node: FieldNode,
        parent: GraphQLNamedType,
        parent_age: int | None,
        spread: frozenset[str],
    ) -> None:
        name = node.name.value
        if name == "__typename":
            return
        answers = [owner.fields[name] for owner in self._concrete(parent) if name in owner.fields]
        if not answers:  # introspection, or a field validation will refuse
            self._lower(0)
            return
        ages = [self._age(field, parent_age) for field in answers]
        age = None if any(a is None for a in ages) else min(a for a in ages if a is not None)
        self._lower(age)
        if node.selection_set is not None:
            returned = get_named_type(answers[0].type)
            self.selections(node.selection_set, returned, age, spread)

    def _concrete(self, parent: GraphQLNamedType) -> list[GraphQLObjectType]:
        if isinstance(parent, GraphQLObjectType):
            return [parent]
        if is_abstract_type(parent):
            return list(self.schema.get_possible_types(parent))
        return []

    def _age(self, field: GraphQLField, parent_age: int | None) -> int | None:
        """This field's age by the rules of ``cache_hints``; notes a private one."""
        definition = field.extensions.get("strawberry-definition")
        own = None
        if definition is not None and definition.origin is not None:
            own = field_hint(definition.origin, definition.python_name)
        returned = get_named_type(field.type)
        typed = self._type_hints(returned)
        if any(h is not None and h.scope is CacheScope.PRIVATE for h in (own, *typed)):
            self.private = True
        if own is not None and own.max_age is not None:
            return own.max_age
        ages = [h.max_age for h in typed if h is not None and h.max_age is not None]
        if typed and len(ages) == len(typed):
            return min(ages)
        inherits = (own is not None and own.inherit) or (
            bool(typed) and all(h is not None and h.inherit for h in typed)
        )
        return parent_age if is_leaf_type(returned) or inherits else 0

    def _type_hints(self, named: GraphQLNamedType) -> list[Hint | None]:
        """The hints of the object types a field of this type can return."""
        if is_leaf_type(named):
            return []
        types: list[GraphQLNamedType] = list(self._concrete(named)) or [named]
        return [type_hint(origin) if (origin := _origin(t)) else None for t in types]

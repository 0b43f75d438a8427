"""Cache hints, declared next to the types they describe.

As in Apollo's response cache: a field's age is its own hint, else its type's hint,
else its parent's when it is a leaf or its type inherits; with none of these it is 0,
so a response is cacheable only where every field says so. Hints are read by
``cache_policy`` from the document, never by a directive or a field extension: either
would wrap every resolver of every request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

T = TypeVar("T", bound=type)


class CacheScope(Enum):
    PUBLIC = "PUBLIC"
    PRIVATE = "PRIVATE"  # one viewer's: never shared, never cached for the anonymous


@dataclass(frozen=True, slots=True)
class Hint:
    max_age: int | None = None  # seconds; None leaves the age to the rules above
    scope: CacheScope = CacheScope.PUBLIC
    inherit: bool = False  # take the parent field's age (connections, edges, wrappers)


_types: dict[type, Hint] = {}
_fields: dict[tuple[type, str], Hint] = {}


def cache_hint(
    max_age: int | None = None,
    scope: CacheScope = CacheScope.PUBLIC,
    *,
    inherit: bool = False,
    fields: Mapping[str, Hint] | None = None,
) -> Callable[[T], T]:
    """Hint a Strawberry type (put it above ``@strawberry.type``); ``fields`` hints its
    fields by Python name, overriding the type's."""

    def register(cls: T) -> T:
        if max_age is not None or inherit or scope is CacheScope.PRIVATE:
            _types[cls] = Hint(max_age, scope, inherit)
        for name, hint in (fields or {}).items():
            _fields[cls, name] = hint
        return cls

    return register


def type_hint(origin: type) -> Hint | None:
    return _types.get(origin)


def field_hint(origin: type, python_name: str) -> Hint | None:
    return _fields.get((origin, python_name))

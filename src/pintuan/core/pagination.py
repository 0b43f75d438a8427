"""Keyset pagination: pages are fetched by "after this key", never by OFFSET."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from pintuan.core.errors import DomainError, ErrorCode
from pintuan.core.validation import MAX_INT, UNSTORABLE, in_utc

M = TypeVar("M", bound=Model)
R = TypeVar("R")
KeyValue = int | str | datetime


@dataclass(frozen=True, slots=True)
class SortKey:
    """An ordering whose last field is unique, so every row has a distinct key."""

    fields: tuple[str, ...]
    descending: bool
    parsers: tuple[Callable[[Any], KeyValue], ...]

    def key_of(self, row: Model) -> list[Any]:
        return [_to_json(getattr(row, name)) for name in self.fields]

    def key_of_values(self, row: Mapping[str, Any]) -> list[Any]:
        return [_to_json(row[name]) for name in self.fields]

    def parse(self, raw: Sequence[Any]) -> tuple[KeyValue, ...]:
        if len(raw) != len(self.fields):
            raise ValueError("key has the wrong length")
        return tuple(parse(value) for parse, value in zip(self.parsers, raw, strict=True))

    def after(self, key: tuple[KeyValue, ...]) -> Q:
        """Rows strictly after ``key`` in this ordering."""
        op = "lt" if self.descending else "gt"
        clauses: list[Q] = []
        for i, name in enumerate(self.fields):
            conditions: dict[str, Any] = {f: key[j] for j, f in enumerate(self.fields[:i])}
            conditions[f"{name}__{op}"] = key[i]
            clauses.append(Q(**conditions))
        return Q(*clauses, join_type=Q.OR)

    def ordering(self) -> list[str]:
        prefix = "-" if self.descending else ""
        return [prefix + name for name in self.fields]


def parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("expected a timestamp")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("timestamp lacks a timezone")
    return in_utc(parsed)


def parse_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("expected an integer")
    if not -MAX_INT - 1 <= value <= MAX_INT:  # a forged cursor may hold anything
        raise ValueError("integer out of range")
    return value


def parse_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    if UNSTORABLE.search(value):
        raise ValueError("text holds a character no backend stores")
    return value


def _to_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@dataclass(frozen=True, slots=True)
class Page(Generic[R]):
    items: list[R]
    keys: list[list[Any]]
    has_next: bool
    has_previous: bool


def check_page_size(first: int, maximum: int) -> None:
    if first < 0:
        raise DomainError(ErrorCode.INVALID_PAGE_SIZE, "`first` must not be negative.", "first")
    if first > maximum:
        raise DomainError(
            ErrorCode.PAGE_SIZE_EXCEEDED, f"`first` may be at most {maximum}; got {first}.", "first"
        )


async def keyset_page(
    query: QuerySet[M], sort: SortKey, first: int, after: Sequence[Any] | None
) -> Page[M]:
    rows = await _window(query, sort, first, after)
    return _page(rows, first, after, sort.key_of)


async def keyset_values_page(
    query: QuerySet[M],
    sort: SortKey,
    first: int,
    after: Sequence[Any] | None,
    fields: Sequence[str],
) -> Page[dict[str, Any]]:
    """As ``keyset_page``, each row as the values of ``fields`` (the sort's among them)
    rather than a model: for lists that show a few columns of many rows."""
    rows = await _window(query, sort, first, after).values(*fields)
    return _page(rows, first, after, sort.key_of_values)


def _window(
    query: QuerySet[M], sort: SortKey, first: int, after: Sequence[Any] | None
) -> QuerySet[M]:
    """The rows after ``after`` in ``sort`` order, one more than a page (to tell whether
    another page follows)."""
    key = after_key(sort, after)
    if key is not None:
        query = query.filter(sort.after(key))
    return query.order_by(*sort.ordering()).limit(first + 1)


def after_key(sort: SortKey, after: Sequence[Any] | None) -> tuple[KeyValue, ...] | None:
    """A cursor's key parsed for ``sort``; INVALID_CURSOR when it is not one of its keys."""
    if after is None:
        return None
    try:
        return sort.parse(after)
    except ValueError as exc:
        raise DomainError(
            ErrorCode.INVALID_CURSOR, f"The cursor is not valid: {exc}.", "after"
        ) from exc


def window_page(rows: list[M], sort: SortKey, first: int, after: Sequence[Any] | None) -> Page[M]:
    """A page of models from a window of up to ``first + 1`` rows read after ``after``."""
    return _page(rows, first, after, sort.key_of)


def _page(
    rows: list[R], first: int, after: Sequence[Any] | None, key_of: Callable[[R], list[Any]]
) -> Page[R]:
    items = rows[:first]
    return Page(
        items=items,
        keys=[key_of(row) for row in items],
        has_next=len(rows) > first,
        has_previous=after is not None,
    )

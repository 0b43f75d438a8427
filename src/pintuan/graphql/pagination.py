"""Relay cursor connections over keyset pages."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.dataloader import DataLoader
from tortoise.models import Model
from tortoise.queryset import QuerySet

from pintuan.core import b64url
from pintuan.core.errors import ApiErrorCode, DomainError
from pintuan.core.pagination import (
    Page,
    SortKey,
    check_page_size,
    keyset_page,
    keyset_values_page,
)
from pintuan.graphql.cache_hints import cache_hint
from pintuan.graphql.context import Info
from pintuan.graphql.errors import ApiError, from_domain

T = TypeVar("T")
M = TypeVar("M", bound=Model)
MAX_CURSOR_LENGTH = 500


@cache_hint(inherit=True)
@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@cache_hint(inherit=True)
@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@cache_hint(inherit=True)
@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    counter: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Total matches; counted only when asked for.")
    async def total_count(self) -> int:
        return await self.counter()


def encode_cursor(ordering: str, key: Sequence[Any]) -> str:
    raw = json.dumps([ordering, list(key)], separators=(",", ":"), ensure_ascii=False)
    return b64url.encode(raw.encode())


def decode_cursor(cursor: str | None, ordering: str) -> list[Any] | None:
    """The key a cursor points after; INVALID_CURSOR unless it came from this ordering."""
    if cursor is None:
        return None
    invalid = ApiError(
        ApiErrorCode.INVALID_CURSOR, "The `after` cursor is not valid here.", "after"
    )
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise invalid
    try:
        decoded = json.loads(b64url.decode(cursor))
    except ValueError:
        raise invalid from None
    if (
        not isinstance(decoded, list)
        or len(decoded) != 2
        or decoded[0] != ordering
        or not isinstance(decoded[1], list)
    ):
        raise invalid
    return decoded[1]


def page_size(info: Info, first: int | None) -> int:
    settings = info.context.settings
    size = settings.default_page_size if first is None else first
    try:
        check_page_size(size, settings.max_page_size)
    except DomainError as exc:
        raise from_domain(exc) from None
    return size


def build_connection(
    page: Page[Any],
    ordering: str,
    convert: Callable[[Any], T],
    counter: Callable[[], Awaitable[int]],
) -> Connection[T]:
    edges = [
        Edge(cursor=encode_cursor(ordering, key), node=convert(item))
        for item, key in zip(page.items, page.keys, strict=True)
    ]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        counter=counter,
    )


@dataclass(eq=False)
class _PageRead:
    """One connection's page, to be read; keyed by identity, so never shared."""

    read: Callable[[], Awaitable[Page[Any]]]


async def _read_pages(reads: list[_PageRead]) -> list[Page[Any] | BaseException]:
    pages: list[Page[Any] | BaseException] = []
    for request in reads:
        try:
            pages.append(await request.read())
        except DomainError as exc:
            pages.append(from_domain(exc))
    return pages


@dataclass
class PageLoaders:
    """The connections of one response read their pages in one batch. Sibling lists
    (a tree's levels, each post's comments) then resume together, so the loaders
    below them batch across all of them: what a response costs in statements does
    not depend on when each page's read happened to finish."""

    pages: DataLoader[_PageRead, Page[Any]] = field(
        default_factory=lambda: DataLoader(_read_pages, cache=False)
    )


async def _page(info: Info, read: Callable[[], Awaitable[Page[Any]]]) -> Page[Any]:
    return await info.context.loaders.of(PageLoaders).pages.load(_PageRead(read))


async def paginate(
    info: Info,
    query: QuerySet[M],
    sort: SortKey,
    ordering: str,
    convert: Callable[[M], T],
    first: int | None,
    after: str | None,
) -> Connection[T]:
    """One page of ``query`` in ``sort`` order; cursors are tagged with ``ordering``."""
    size, key = page_size(info, first), decode_cursor(after, ordering)
    page = await _page(info, lambda: keyset_page(query, sort, size, key))
    return build_connection(page, ordering, convert, _counter(query))


async def paginate_read(
    info: Info,
    read: Callable[[int, list[Any] | None], Awaitable[Page[M]]],
    ordering: str,
    convert: Callable[[M], T],
    first: int | None,
    after: str | None,
    counted: QuerySet[M],
) -> Connection[T]:
    """As ``paginate``, the page read by ``read(size, key after)``, a hand-written
    statement; ``counted`` is what ``totalCount`` counts."""
    size, key = page_size(info, first), decode_cursor(after, ordering)
    page = await _page(info, lambda: read(size, key))
    return build_connection(page, ordering, convert, _counter(counted))


async def paginate_values(
    info: Info,
    query: QuerySet[M],
    sort: SortKey,
    ordering: str,
    fields: Sequence[str],
    convert: Callable[[dict[str, Any]], T],
    first: int | None,
    after: str | None,
) -> Connection[T]:
    """As ``paginate``, reading only ``fields`` of each row, without building models."""
    size, key = page_size(info, first), decode_cursor(after, ordering)
    page = await _page(info, lambda: keyset_values_page(query, sort, size, key, fields))
    return build_connection(page, ordering, convert, _counter(query))


def _counter(query: QuerySet[M]) -> Callable[[], Awaitable[int]]:
    """Counts the rows of ``query`` when called: ``totalCount`` is paid for only when asked."""

    async def count() -> int:
        return await query.count()

    return count

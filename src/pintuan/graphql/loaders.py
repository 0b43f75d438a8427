"""Per-request DataLoaders, made on first use by the domain that declares them.

Each domain keeps its loaders beside its types; the context holds one set of
each kind per request (and per live event), so this machinery knows no domain.
"""

from __future__ import annotations

from asyncio import Future
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar, cast

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from pintuan.core import batch
from pintuan.core.errors import ApiErrorCode
from pintuan.graphql.errors import ApiError

T = TypeVar("T")
K = TypeVar("K")
R = TypeVar("R")
M = TypeVar("M", bound=Model)


class Loaders:
    def __init__(self) -> None:
        self._sets: dict[type[Any], Any] = {}

    def of(self, kind: type[T]) -> T:
        """This request's set of ``kind``; made with no arguments on first use."""
        found = self._sets.get(kind)
        if found is None:
            found = self._sets[kind] = kind()
        return cast(T, found)


def rows(model: type[M]) -> DataLoader[int, M | None]:
    """Rows of ``model`` by primary key, in the order asked; None where missing."""
    return DataLoader(partial(batch.by_ids, model))


async def required(loader: DataLoader[int, T | None], pk: int, what: str) -> T:
    """Load a row another one refers to; a missing one is a top-level NOT_FOUND naming ``what``."""
    return present(await loader.load(pk), what)


def present(found: T | None, what: str) -> T:
    """A row another one refers to, which must exist: NOT_FOUND naming ``what`` otherwise."""
    if found is None:
        raise ApiError(ApiErrorCode.NOT_FOUND, f"No such {what}.")
    return found


def loaded(loader: DataLoader[K, T], key: K, convert: Callable[[T], R]) -> R | Awaitable[R]:
    """``convert`` of what ``loader`` holds for ``key``: at once when a list's resolver
    has loaded it already (``lookahead``), else an awaitable for when its batch arrives.
    A value returned at once spares graphql-core a task for the field."""
    future = loader.load(key)
    if isinstance(future, Future) and _settled(future):
        return convert(future.result())
    return _converted(future, convert)


def _settled(future: Future[Any]) -> bool:
    """Done with a value (not cancelled, no exception: those are raised when awaited)."""
    return future.done() and not future.cancelled() and future.exception() is None


async def _converted(pending: Awaitable[T], convert: Callable[[T], R]) -> R:
    return convert(await pending)

"""Per-request DataLoaders, made on first use by the domain that declares them.

Each domain keeps its loaders beside its types; the context holds one set of
each kind per request (and per live event), so this machinery knows no domain.
"""

from __future__ import annotations

from functools import partial
from typing import Any, TypeVar, cast

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from pintuan.core import batch
from pintuan.core.errors import ApiErrorCode
from pintuan.graphql.errors import ApiError

T = TypeVar("T")
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
    found = await loader.load(pk)
    if found is None:
        raise ApiError(ApiErrorCode.NOT_FOUND, f"No such {what}.")
    return found

"""Batch reads for DataLoaders: one query per batch, answers in the order asked."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

M = TypeVar("M", bound=Model)


async def by_ids(source: type[M] | QuerySet[M], ids: Sequence[int]) -> list[M | None]:
    """The rows of a model (or of a narrower query) with these ids; None where there is none."""
    found = {row.pk: row for row in await source.filter(id__in=list(ids))}
    return [found.get(i) for i in ids]


async def grouped_by(query: QuerySet[M], key: str, ids: Sequence[int]) -> list[list[M]]:
    """The rows of ``query`` whose ``key`` is each of these ids, in the query's order."""
    grouped: dict[int, list[M]] = defaultdict(list)
    for row in await query.filter(**{f"{key}__in": list(ids)}):
        grouped[getattr(row, key)].append(row)
    return [grouped.get(i, []) for i in ids]

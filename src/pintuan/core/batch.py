"""Batch reads for DataLoaders: one query per batch, answers in the order asked."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

M = TypeVar("M", bound=Model)


async def by_ids(source: type[M] | QuerySet[M], ids: Sequence[int]) -> list[M | None]:
    """The rows of a model (or of a narrower query) with these ids; None where there is none."""
    found = {row.pk: row for row in await source.filter(id__in=list(ids))}
    return [found.get(i) for i in ids]


async def values_by_ids(
    query: QuerySet[M], ids: Sequence[int], fields: Sequence[str]
) -> list[dict[str, Any] | None]:
    """As ``by_ids``, but each row as the values of ``fields`` (``id`` among them),
    without building a model."""
    found = {row["id"]: row for row in await query.filter(id__in=list(ids)).values(*fields)}
    return [found.get(i) for i in ids]


async def grouped_by(query: QuerySet[M], key: str, ids: Sequence[int]) -> list[list[M]]:
    """The rows of ``query`` whose ``key`` is each of these ids, in the query's order."""
    grouped: dict[int, list[M]] = defaultdict(list)
    for row in await query.filter(**{f"{key}__in": list(ids)}):
        grouped[getattr(row, key)].append(row)
    return [grouped.get(i, []) for i in ids]


async def grouped_values(
    query: QuerySet[M], key: str, ids: Sequence[int], fields: Sequence[str]
) -> list[list[dict[str, Any]]]:
    """As ``grouped_by``, but each row as the values of ``fields`` (``key`` among them),
    without building a model."""
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in await query.filter(**{f"{key}__in": list(ids)}).values(*fields):
        grouped[row[key]].append(row)
    return [grouped.get(i, []) for i in ids]

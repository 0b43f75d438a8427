"""Batch reads for DataLoaders: one query per batch, answers in the order asked."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

import orjson
from tortoise.models import Model
from tortoise.queryset import QuerySet

from pintuan.core import sql

M = TypeVar("M", bound=Model)


async def by_ids(source: type[M] | QuerySet[M], ids: Sequence[int]) -> list[M | None]:
    """The rows of a model (or of a narrower query) with these ids; None where there is
    none. A model's are read by a hand-written statement: every DataLoader of rows by id
    runs this, on every page and live event."""
    if isinstance(source, QuerySet):
        rows = await source.filter(id__in=list(ids))
    else:
        meta = source._meta
        columns = tuple(meta.fields_db_projection.values())
        statement = _select_in(meta.db_table, meta.db_pk_column, columns, (), len(ids))
        rows = await sql.instances(source, statement, *ids)
    found = {row.pk: row for row in rows}
    return [found.get(i) for i in ids]


async def grouped_by(query: QuerySet[M], key: str, ids: Sequence[int]) -> list[list[M]]:
    """The rows of ``query`` whose ``key`` is each of these ids, in the query's order."""
    grouped: dict[int, list[M]] = defaultdict(list)
    for row in await query.filter(**{f"{key}__in": list(ids)}):
        grouped[getattr(row, key)].append(row)
    return [grouped.get(i, []) for i in ids]


@cache
def _select_in(
    table: str, key: str, columns: tuple[str, ...], order_by: tuple[str, ...], count: int
) -> str:
    marks = ", ".join(f"${n}" for n in range(1, count + 1))
    listed = ", ".join(f'"{c}"' for c in columns)
    order = " ORDER BY " + ", ".join(f'"{c}"' for c in order_by) if order_by else ""
    return f'SELECT {listed} FROM "{table}" WHERE "{key}" IN ({marks}){order}'


async def rows_in(
    table: str,
    key: str,
    ids: Sequence[int],
    columns: tuple[str, ...],
    *,
    order_by: tuple[str, ...] = (),
    json_columns: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """The ``columns`` of the rows whose ``key`` is one of ``ids``, by hand-written SQL
    (kept per shape): building the same query with the ORM costs more CPU than running
    it, on the hottest batches of a catalog page. ``json_columns`` are decoded."""
    if not ids:
        return []
    found = await sql.rows(_select_in(table, key, columns, order_by, len(ids)), *ids)
    for row in found:
        for column in json_columns:
            if isinstance(row[column], str | bytes):
                row[column] = orjson.loads(row[column])
    return found

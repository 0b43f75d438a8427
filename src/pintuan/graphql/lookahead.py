"""What a query asks for below the current field, so that a list's resolver can load
its items' relations before returning them.

A relation read through a DataLoader is an awaitable per item, and graphql-core runs
each item with an awaitable field as a task of its own: on a catalog page of twenty
products with their merchants and variants, the tasks cost more than the fields.
A list resolver that loads the relations its selection names (one batch per relation,
through the same loaders, so the statements are those the items would have sent) lets
each item's field find its value already loaded (``loaders.loaded``), and the page
completes without another await.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from strawberry.types.nodes import SelectedField, Selection

from pintuan.graphql.context import Info


def selected_below(info: Info, *path: str) -> frozenset[str]:
    """Names of the fields selected at ``path`` under the current field, fragments
    included (a field under ``@skip`` counts too: loading it costs a batch, not a
    wrong answer)."""
    level = _below(_fields(info.selected_fields))
    for name in path:
        level = _below(field for field in level if field.name == name)
    return frozenset(field.name for field in level)


def _below(fields: Iterable[SelectedField]) -> list[SelectedField]:
    return [child for field in fields for child in _fields(field.selections)]


def _fields(selections: Iterable[Selection]) -> Iterator[SelectedField]:
    """The fields among ``selections``, those inside fragments included."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        else:
            yield from _fields(selection.selections)

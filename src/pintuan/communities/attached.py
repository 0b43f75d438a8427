"""The rows a page of posts refers to, read in a fixed number of statements.

A feed page shows each post's author and attachment: a product card's product,
a group share's group with its offer (whose product decides whether it is
visible), an order showcase's order with its variant and product. Read through
one DataLoader each, in the order the fields resolve, that is seven or eight
statements; joining each row with the row it is always read with (a group with
its offer, an order with its variant) makes it four, run at once, then one for
every product the page names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from tortoise.models import Model

from pintuan.catalog.models import Variant
from pintuan.communities.models import AttachmentKind, Post
from pintuan.core import sql
from pintuan.groupbuys.models import Group, GroupBuy
from pintuan.groupbuys.order_models import Order


@dataclass
class Attached:
    groups: dict[int, tuple[Group, GroupBuy]] = field(default_factory=dict)
    orders: dict[int, tuple[Order, Variant]] = field(default_factory=dict)

    def product_ids(self, posts: Sequence[Post]) -> set[int]:
        """Every product the page names: cards, the groups' offers, the orders' variants."""
        ids = {p.attachment_id for p in posts if p.attachment_kind == AttachmentKind.PRODUCT}
        ids.update(offer.product_id for _, offer in self.groups.values())
        ids.update(variant.product_id for _, variant in self.orders.values())
        return {i for i in ids if i is not None}


def targets(posts: Sequence[Post], kind: AttachmentKind) -> list[int]:
    return sorted({p.attachment_id for p in posts if p.attachment_kind == kind and p.attachment_id})


async def groups_with_offers(ids: Sequence[int]) -> dict[int, tuple[Group, GroupBuy]]:
    """Groups by id, each with its offer: one statement."""
    rows = await _joined(Group, "g", GroupBuy, "o", "g.group_buy_id = o.id", "g", ids)
    return {group.id: (group, offer) for group, offer in rows}


async def orders_with_variants(ids: Sequence[int]) -> dict[int, tuple[Order, Variant]]:
    """Orders by id, each with its variant: one statement."""
    rows = await _joined(Order, "r", Variant, "v", "r.variant_id = v.id", "r", ids)
    return {order.id: (order, variant) for order, variant in rows}


async def _joined(
    left: type[Model], a: str, right: type[Model], b: str, on: str, keyed: str, ids: Sequence[int]
) -> list[tuple[Any, Any]]:
    if not ids:
        return []
    marks = ", ".join(f"${n}" for n in range(1, len(ids) + 1))
    statement = (
        f"SELECT {_columns(left, a)}, {_columns(right, b)} "
        f'FROM "{left._meta.db_table}" {a} JOIN "{right._meta.db_table}" {b} ON {on} '
        f"WHERE {keyed}.id IN ({marks})"
    )
    pairs = []
    for row in await sql.rows(statement, *ids):
        pairs.append((sql.instance(left, _part(row, a)), sql.instance(right, _part(row, b))))
    return pairs


@cache
def _columns(model: type[Model], alias: str) -> str:
    names = model._meta.fields_db_projection.values()
    return ", ".join(f'{alias}."{name}" AS "{alias}__{name}"' for name in names)


def _part(row: dict[str, Any], alias: str) -> dict[str, Any]:
    prefix = f"{alias}__"
    return {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}

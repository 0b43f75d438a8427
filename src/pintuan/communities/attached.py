"""The rows a page of posts refers to, read in a fixed number of statements.

A feed page shows each post's author, its community and the viewer's standing
there (``viewerCanComment``), the viewer's reaction, and its attachment: a
product card's product, a group share's group with its offer (whose product
decides whether it is visible), an order showcase's order with its variant and
product. Read through one DataLoader each, in the order the fields resolve,
that is ten statements or more; ``page_rows`` reads all but the products in one
statement, each post's row joined with the rows it names, and one more reads
every product the page names (through the catalog's own visibility rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from tortoise.models import Model

from pintuan.accounts.models import User
from pintuan.catalog.models import Variant
from pintuan.communities.models import (
    AttachmentKind,
    Community,
    Member,
    Post,
    Reaction,
    ReactionKind,
)
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


@dataclass
class PageRows:
    """What ``page_rows`` read for a page: by user, community and post id."""

    authors: dict[int, User] = field(default_factory=dict)
    communities: dict[int, Community] = field(default_factory=dict)
    memberships: dict[int, Member | None] = field(default_factory=dict)
    reactions: dict[int, ReactionKind | None] = field(default_factory=dict)
    attached: Attached = field(default_factory=Attached)


_PAGE_JOINS = (
    ("u", User, 'JOIN "{table}" u ON u.id = p.author_id'),
    ("c", Community, 'JOIN "{table}" c ON c.id = p.community_id'),
    ("m", Member, 'LEFT JOIN "{table}" m ON m.community_id = p.community_id AND m.user_id = $1'),
    (
        "g",
        Group,
        """LEFT JOIN "{table}" g ON p.attachment_kind = 'GROUP' AND g.id = p.attachment_id""",
    ),
    ("o", GroupBuy, 'LEFT JOIN "{table}" o ON o.id = g.group_buy_id'),
    (
        "r",
        Order,
        """LEFT JOIN "{table}" r ON p.attachment_kind = 'ORDER' AND r.id = p.attachment_id""",
    ),
    ("v", Variant, 'LEFT JOIN "{table}" v ON v.id = r.variant_id'),
)


@cache
def _page_statement(count: int) -> str:
    columns = ", ".join(_columns(model, alias) for alias, model, _ in _PAGE_JOINS)
    joins = " ".join(join.format(table=model._meta.db_table) for _, model, join in _PAGE_JOINS)
    marks = ", ".join(f"${n}" for n in range(2, count + 2))
    return (
        f"SELECT p.id AS post_id, x.kind AS viewer_reaction, {columns} "
        f'FROM "{Post._meta.db_table}" p {joins} '
        f'LEFT JOIN "{Reaction._meta.db_table}" x ON x.post_id = p.id AND x.user_id = $1 '
        f"WHERE p.id IN ({marks})"
    )


async def page_rows(viewer_id: int | None, posts: Sequence[Post]) -> PageRows:
    """Everything a page of posts names but its products, and the viewer's membership of
    each post's community and reaction to each post: one statement."""
    found = PageRows()
    ids = sorted({post.id for post in posts})
    if not ids:
        return found
    for row in await sql.rows(_page_statement(len(ids)), viewer_id, *ids):
        part = {alias: _part(row, alias) for alias, _, _ in _PAGE_JOINS}
        author = sql.instance(User, part["u"])
        community = sql.instance(Community, part["c"])
        found.authors[author.id] = author
        found.communities[community.id] = community
        member = part["m"]
        found.memberships[community.id] = (
            None if member["id"] is None else sql.instance(Member, member)
        )
        kind = row["viewer_reaction"]
        found.reactions[int(row["post_id"])] = None if kind is None else ReactionKind(kind)
        if part["g"]["id"] is not None:
            group = sql.instance(Group, part["g"])
            found.attached.groups[group.id] = (group, sql.instance(GroupBuy, part["o"]))
        if part["r"]["id"] is not None:
            order = sql.instance(Order, part["r"])
            found.attached.orders[order.id] = (order, sql.instance(Variant, part["v"]))
    return found


@cache
def _columns(model: type[Model], alias: str) -> str:
    names = model._meta.fields_db_projection.values()
    return ", ".join(f'{alias}."{name}" AS "{alias}__{name}"' for name in names)


def _part(row: dict[str, Any], alias: str) -> dict[str, Any]:
    prefix = f"{alias}__"
    return {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}

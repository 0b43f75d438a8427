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
    columns = ", ".join(sql.aliased_columns(model, alias) for alias, model, _ in _PAGE_JOINS)
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
    each post's community and reaction to each post: one statement. A row named by
    several posts (an author, a community) becomes one instance."""
    found = PageRows()
    ids = sorted({post.id for post in posts})
    if not ids:
        return found
    authors, communities, memberships = found.authors, found.communities, found.memberships
    groups, orders = found.attached.groups, found.attached.orders
    built = sql.aliased_instance
    for row in await sql.rows(_page_statement(len(ids)), viewer_id, *ids):
        found.reactions[row["post_id"]] = _reaction(row["viewer_reaction"])
        author_id, community_id = row["u__id"], row["c__id"]
        if author_id not in authors:
            authors[author_id] = built(User, "u", row)
        if community_id not in communities:
            communities[community_id] = built(Community, "c", row)
            memberships[community_id] = None if row["m__id"] is None else built(Member, "m", row)
        group_id, order_id = row["g__id"], row["r__id"]
        if group_id is not None and group_id not in groups:
            groups[group_id] = (built(Group, "g", row), built(GroupBuy, "o", row))
        if order_id is not None and order_id not in orders:
            orders[order_id] = (built(Order, "r", row), built(Variant, "v", row))
    return found


def _reaction(kind: str | None) -> ReactionKind | None:
    return None if kind is None else ReactionKind(kind)

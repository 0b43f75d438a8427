"""The community feed's keyset: pinned posts first, then newest, each row's key unique.

One index, ``(community_id, pinned, created_at, id)``, read backwards serves it:
every field sorts descending, so a page is a range scan after the cursor's key. The
page is read by a hand-written statement: building the same query with the ORM cost
more CPU than the rest of the page's reads together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tortoise.queryset import QuerySet

from pintuan.communities.home_feed import END_OF_TIME, MAX_KEY
from pintuan.communities.models import Post
from pintuan.core import sql
from pintuan.core.pagination import (
    Page,
    SortKey,
    after_key,
    parse_datetime,
    parse_int,
    window_page,
)

MAX_PAGE = 50


def parse_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected a boolean")
    return value


PINNED_THEN_NEWEST = SortKey(
    ("pinned", "created_at", "id"), True, (parse_bool, parse_datetime, parse_int)
)


def community_posts(community_id: int) -> QuerySet[Post]:
    """The posts a member sees in the community's feed: all but the deleted."""
    return Post.filter(community_id=community_id, deleted_at__isnull=True)


_PAGE = """SELECT * FROM community_post
WHERE community_id = $1 AND deleted_at IS NULL AND (pinned, created_at, id) < ($2, $3, $4)
ORDER BY pinned DESC, created_at DESC, id DESC LIMIT $5"""
PAST_EVERY_KEY = (True, END_OF_TIME, MAX_KEY)  # the first page is "after" it


async def page(community_id: int, first: int, after: Sequence[Any] | None) -> Page[Post]:
    """Up to ``first`` of the community's feed after the cursor's key: one statement."""
    key = after_key(PINNED_THEN_NEWEST, after) or PAST_EVERY_KEY
    rows = await sql.instances(Post, _PAGE, community_id, *key, first + 1)
    return window_page(rows, PINNED_THEN_NEWEST, first, after)

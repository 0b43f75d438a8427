"""The community feed's keyset: pinned posts first, then newest, each row's key unique.

One index, ``(community_id, pinned, created_at, id)``, read backwards serves it:
every field sorts descending, so a page is a range scan after the cursor's key.
"""

from __future__ import annotations

from typing import Any

from tortoise.queryset import QuerySet

from pintuan.communities.models import Post
from pintuan.core.pagination import SortKey, parse_datetime, parse_int

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

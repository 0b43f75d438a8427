"""The home feed: posts of the communities I belong to and of the people I follow.

Pulled at read time from the database, the only copy: nothing to rebuild when
Redis is flushed, nothing to fan out when a community of thousands gets a post,
and a removed member stops seeing a private community's posts on the next read.

On PostgreSQL one statement merges the sources the way an index can serve it:
for each joined community (``LATERAL``) the newest rows after the cursor by
``(community_id, created_at, id)``, at most a page each; the newest page of
those sets a floor, and each followed author's newest rows above that floor
(``(author_id, created_at, id)``) are merged in. A followed author's post shows
only from a community open to all, unless that community is one of mine (then
it came in through the first branch). ``bench/feeds.py`` measures it; a plain
``community_id IN (...) OR author_id IN (...)`` with ORDER BY took 640-760 ms on
the benchmark's data (PostgreSQL sorts every matching row) where this took 2-50.

SQLite (the embedded default, one process, small data) runs the plain form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import connections
from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from pintuan.communities.models import (
    AttachmentKind,
    Community,
    CommunityKind,
    Follow,
    Member,
    MemberState,
    Post,
    Visibility,
)
from pintuan.communities.ranking import Candidate, GroupSignal
from pintuan.core import sql
from pintuan.groupbuys.models import Group

# A key past every real one: the first page is "after" it.
END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)
MAX_KEY = 2**31 - 1
HOT_WINDOW = 300  # candidates a HOT page ranks: the newest posts of the last MAX_AGE

FeedKey = tuple[datetime, int]

# The page of a home feed, by (created_at, id); bench.feed_floor runs it too.
PULL = """
WITH mine AS (
  SELECT community_id FROM community_member
  WHERE user_id = $1 AND state = 'ACTIVE' AND (term_ends_at IS NULL OR term_ends_at > $2)
),
joined AS (
  SELECT p.id, p.created_at FROM mine CROSS JOIN LATERAL (
    SELECT id, created_at FROM community_post
    WHERE community_id = mine.community_id AND deleted_at IS NULL
      AND (created_at, id) < ($3, $4) AND created_at >= $6
    ORDER BY created_at DESC, id DESC LIMIT $5
  ) p
  ORDER BY p.created_at DESC, p.id DESC LIMIT $5
),
floor AS (
  SELECT CASE WHEN count(*) < $5 THEN $6 ELSE min(created_at) END AS at FROM joined
),
followed AS (
  SELECT p.id, p.created_at FROM user_follow f CROSS JOIN LATERAL (
    SELECT q.id, q.created_at FROM community_post q
    JOIN community c ON c.id = q.community_id
    WHERE q.author_id = f.followee_id AND q.deleted_at IS NULL
      AND (q.created_at, q.id) < ($3, $4) AND q.created_at >= (SELECT at FROM floor)
      AND c.visibility = 'PUBLIC' AND c.kind <> 'PREMIUM'
    ORDER BY q.created_at DESC, q.id DESC LIMIT $5
  ) p
  WHERE f.follower_id = $1
),
page AS (
  SELECT id, created_at FROM joined UNION SELECT id, created_at FROM followed
  ORDER BY created_at DESC, id DESC LIMIT $5
)
"""

_NEWEST = (
    PULL
    + """SELECT community_post.* FROM community_post JOIN page ON page.id = community_post.id
ORDER BY community_post.created_at DESC, community_post.id DESC"""
)

_CANDIDATES = (
    PULL
    + """SELECT p.*, g.status AS group_status, g.slots_taken AS group_members, g.size AS group_size,
  g.expires_at AS group_expires_at
FROM community_post p JOIN page ON page.id = p.id
LEFT JOIN buy_group g ON p.attachment_kind = 'GROUP' AND g.id = p.attachment_id"""
)


def _is_postgres() -> bool:
    return bool(connections.get("default").capabilities.dialect == "postgres")


async def newest(
    user_id: int, limit: int, after: FeedKey | None, now: datetime, since: datetime | None = None
) -> list[Post]:
    """Up to ``limit`` posts of the viewer's home feed after ``after``, newest first,
    none older than ``since``; one statement."""
    before = after or (END_OF_TIME, MAX_KEY)
    floor = since or datetime(1970, 1, 1, tzinfo=UTC)
    if _is_postgres():
        return await sql.instances(Post, _NEWEST, user_id, now, *before, limit, floor)
    query = _portable(user_id, now, before, floor)
    return await query.order_by("-created_at", "-id").limit(limit)


@dataclass(frozen=True, slots=True)
class HotWindow:
    """What a HOT page ranks: its candidates, and their posts, of which a page shows
    a few: those are the only ones built (the rest stay columns of the window's rows)."""

    candidates: list[Candidate]
    post: Callable[[int], Post]  # by id, a candidate's


async def hot_candidates(user_id: int, as_of: datetime, window: timedelta) -> HotWindow:
    """The newest ``HOT_WINDOW`` posts of the feed created in ``window`` before ``as_of``,
    each with its shared group's live state: one statement on PostgreSQL."""
    before = (as_of, MAX_KEY)
    floor = as_of - window
    if _is_postgres():
        found = await sql.rows(_CANDIDATES, user_id, as_of, *before, HOT_WINDOW, floor)
        rows = {row["id"]: row for row in found}
        candidates = [_candidate(row) for row in found]
        return HotWindow(candidates, lambda pk: sql.instance(Post, rows[pk]))
    query = _portable(user_id, as_of, before, floor).filter(created_at__lte=as_of)
    posts = await query.order_by("-created_at", "-id").limit(HOT_WINDOW)
    by_id = {post.id: post for post in posts}
    return HotWindow(await _with_groups(posts), by_id.__getitem__)


def _portable(user_id: int, now: datetime, before: FeedKey, floor: datetime) -> QuerySet[Post]:
    mine = Member.filter(user_id=user_id, state=MemberState.ACTIVE).filter(
        Q(term_ends_at__isnull=True) | Q(term_ends_at__gt=now)
    )
    followed = Follow.filter(follower_id=user_id)
    open_to_all = Community.filter(visibility=Visibility.PUBLIC).exclude(kind=CommunityKind.PREMIUM)
    at, pk = before
    return Post.filter(
        Q(community_id__in=Subquery(mine.values("community_id")))
        | Q(
            author_id__in=Subquery(followed.values("followee_id")),
            community_id__in=Subquery(open_to_all.values("id")),
        ),
        Q(created_at__lt=at) | Q(created_at=at, id__lt=pk),
        deleted_at__isnull=True,
        created_at__gte=floor,
    )


def _candidate(row: dict[str, Any]) -> Candidate:
    group = None
    if row["group_status"] is not None:
        group = GroupSignal(
            str(row["group_status"]),
            int(row["group_members"]),
            int(row["group_size"]),
            row["group_expires_at"],
        )
    return Candidate(
        post_id=int(row["id"]),
        created_at=row["created_at"],
        reactions=int(row["reaction_count"]),
        comments=int(row["comment_count"]),
        group_id=int(row["attachment_id"]) if group is not None else None,
        group=group,
    )


async def _with_groups(posts: list[Post]) -> list[Candidate]:
    """The posts as candidates, their groups read in one query."""
    shared = {p.id: p.attachment_id for p in posts if p.attachment_kind == AttachmentKind.GROUP}
    groups = {g.id: g for g in await Group.filter(id__in=set(shared.values()))} if shared else {}
    candidates = []
    for post in posts:
        group = groups.get(shared.get(post.id) or 0)
        signal = None
        if group is not None:
            signal = GroupSignal(
                group.status.value, group.slots_taken, group.size, group.expires_at
            )
        candidate = Candidate(
            post.id,
            post.created_at,
            post.reaction_count,
            post.comment_count,
            group.id if group is not None else None,
            signal,
        )
        candidates.append(candidate)
    return candidates

"""The home feed's one statement (PostgreSQL) and its plain form (SQLite) pick the same posts."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.applications import Starlette

from pintuan.communities import home_feed, ranking
from tests import factories
from tests.feed_ops import community, follow, join, post


async def test_sources_are_my_communities_and_followed_authors_in_open_ones(
    app: Starlette,
) -> None:
    me, friend, stranger = [await factories.user() for _ in range(3)]
    mine_private = await community("a", private=True)
    mine_public = await community("b")
    open_to_all = await community("c")
    closed = await community("d", private=True)
    await join(me, mine_private)
    await join(me, mine_public)
    await follow(me, friend)
    await post(mine_private, stranger, "a1", 1)
    await post(open_to_all, friend, "c-friend", 2)
    await post(closed, friend, "d-friend", 3)
    await post(mine_public, friend, "b-friend", 4)
    await post(mine_public, stranger, "b2", 5, deleted_at=datetime.now(UTC))
    await post(mine_public, stranger, "b3", 6)
    now = datetime.now(UTC)

    rows = await home_feed.newest(me.id, 10, None, now)
    after_second = await home_feed.newest(me.id, 2, (rows[1].created_at, rows[1].id), now)
    found = await home_feed.hot_candidates(me.id, now, ranking.MAX_AGE)

    assert [r.text for r in rows] == ["b3", "b-friend", "c-friend", "a1"]
    assert rows[0].media_urls == []
    assert [r.text for r in after_second] == ["c-friend", "a1"]
    posts = [found.post(c.post_id) for c in found.candidates]
    assert sorted(p.text for p in posts) == sorted(r.text for r in rows)
    assert all(
        c.post_id == p.id and c.group is None for c, p in zip(found.candidates, posts, strict=True)
    )

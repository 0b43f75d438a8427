"""The home feed (newest first, or HOT) and the live feed of one community."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from pintuan.communities import home_feed, ranking
from pintuan.communities.graphql import access
from pintuan.communities.graphql.live import community_live
from pintuan.communities.graphql.loaders import community_loaders
from pintuan.communities.graphql.page import prime_page
from pintuan.communities.graphql.types import Post
from pintuan.communities.live_feed import FeedEvent, FeedEventKind, newest_key, replay_after
from pintuan.core.clock import now_utc
from pintuan.core.errors import ApiErrorCode, DomainError
from pintuan.core.ids import NodeType
from pintuan.core.pagination import Page, SortKey, check_page_size, parse_datetime, parse_int
from pintuan.graphql.context import Info
from pintuan.graphql.errors import ApiError, from_domain
from pintuan.graphql.fanout import watch
from pintuan.graphql.ids import decode_id
from pintuan.graphql.pagination import (
    Connection,
    build_connection,
    decode_cursor,
    encode_cursor,
    page_size,
)

MAX_PAGE = 50
HOME_NEW = "HOME_FEED"
HOME_HOT = "HOME_FEED_HOT"
LIVE = "COMMUNITY_LIVE"
NEWEST = SortKey(("created_at", "id"), True, (parse_datetime, parse_int))


@strawberry.enum(description="How a home feed is ordered.")
class FeedRanking(Enum):
    NEW = "NEW"
    HOT = "HOT"


strawberry.enum(
    FeedEventKind,
    name="CommunityFeedEventKind",
    description=(
        "SUBSCRIBED: first, once the subscription is live (its cursor resumes from there); "
        "POST_CREATED: a new post; REACTIONS_CHANGED: a post's reaction count moved."
    ),
)


def _size(info: Info, first: int | None) -> int:
    if first is not None:
        try:
            check_page_size(first, MAX_PAGE)
        except DomainError as exc:
            raise from_domain(exc) from None
    return page_size(info, first)


def _invalid_cursor() -> ApiError:
    return ApiError(ApiErrorCode.INVALID_CURSOR, "The `after` cursor is not valid here.", "after")


def _newest_key(raw: list[Any] | None) -> home_feed.FeedKey | None:
    if raw is None:
        return None
    try:
        at, pk = NEWEST.parse(raw)
    except ValueError:
        raise _invalid_cursor() from None
    assert isinstance(at, datetime) and isinstance(pk, int)
    return at, pk


def _hot_key(raw: list[Any] | None) -> tuple[datetime | None, ranking.RankKey | None]:
    """A HOT cursor holds the moment its first page ranked at, and the last item's key."""
    if raw is None:
        return None, None
    try:
        as_of, score, pk = raw
        parsed = parse_datetime(as_of)
        if not isinstance(score, int | float) or isinstance(score, bool) or score < 0:
            raise ValueError("bad score")
        return parsed, (float(score), parse_int(pk))
    except (TypeError, ValueError):
        raise _invalid_cursor() from None


def _uncounted() -> Callable[[], Awaitable[int]]:
    async def count() -> int:
        raise ApiError(
            ApiErrorCode.INVALID_ARGUMENTS, "A home feed has no total count.", "totalCount"
        )

    return count


async def _newest_page(info: Info, user_id: int, size: int, after: str | None) -> Connection[Post]:
    key = _newest_key(decode_cursor(after, HOME_NEW))
    rows = await home_feed.newest(user_id, size + 1, key, now_utc())
    items = rows[:size]
    await prime_page(info, items)
    page = Page(items, [NEWEST.key_of(row) for row in items], len(rows) > size, key is not None)
    return build_connection(page, HOME_NEW, Post.of, _uncounted())


async def _hot_page(info: Info, user_id: int, size: int, after: str | None) -> Connection[Post]:
    as_of, key = _hot_key(decode_cursor(after, HOME_HOT))
    moment = as_of or now_utc()
    found = await home_feed.hot_candidates(user_id, moment, ranking.MAX_AGE)
    ranked = ranking.rank(found.candidates, moment)
    chosen = ranking.page_after(ranked, key, size)
    shown = [(item, found.post(item.candidate.post_id)) for item in chosen[:size]]
    await prime_page(info, [post for _, post in shown])
    page = Page(
        [post for _, post in shown],
        [[moment.isoformat(), item.score, item.candidate.post_id] for item, _ in shown],
        len(chosen) > size,
        key is not None,
    )
    return build_connection(page, HOME_HOT, Post.of, _uncounted())


@strawberry.type(description="A change in a community's feed, as it happens.")
class CommunityFeedEvent:
    kind: FeedEventKind
    reaction_count: int
    changed_at: datetime = strawberry.field(
        description="When the change was committed; for a replayed post, when it was posted."
    )
    cursor: str | None = strawberry.field(
        description=(
            "On SUBSCRIBED and POST_CREATED: subscribe again with the last one as `after` "
            "to resume from there, missing no post (null: the community has none yet)."
        )
    )
    source: strawberry.Private[FeedEvent]

    @classmethod
    def of(cls, event: FeedEvent) -> CommunityFeedEvent:
        created = event.kind == FeedEventKind.POST_CREATED
        key = [event.created_at.isoformat(), event.post_id]
        return cls(
            kind=event.kind,
            reaction_count=event.reaction_count,
            changed_at=event.changed_at,
            cursor=encode_cursor(LIVE, key) if created else None,
            source=event,
        )

    @classmethod
    def subscribed(cls, event: FeedEvent, resume: home_feed.FeedKey | None) -> CommunityFeedEvent:
        cursor = None if resume is None else [resume[0].isoformat(), resume[1]]
        return cls(
            kind=FeedEventKind.SUBSCRIBED,
            reaction_count=0,
            changed_at=event.changed_at,
            cursor=None if cursor is None else encode_cursor(LIVE, cursor),
            source=event,
        )

    @staticmethod
    def decode(message: dict[str, Any]) -> CommunityFeedEvent:
        return CommunityFeedEvent.of(FeedEvent.from_json(message))

    @strawberry.field(description="The post as it is now; null once deleted, and on SUBSCRIBED.")
    async def post(self, info: Info) -> Post | None:
        if self.kind == FeedEventKind.SUBSCRIBED:
            return None
        found = await community_loaders(info).post.load(self.source.post_id)
        return Post.of(found) if found is not None and found.deleted_at is None else None


@strawberry.type
class FeedQuery:
    @strawberry.field(
        description=(
            "Posts of the communities you belong to and of the people you follow: "
            "newest first, or HOT (recent, engaging, and live group buys about to fill or "
            "close; each group once however often it was shared). At most 50 a page."
        )
    )
    async def home_feed(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        ranking: FeedRanking = FeedRanking.NEW,
    ) -> Connection[Post]:
        user = info.context.viewer.user
        if user is None:
            raise ApiError(ApiErrorCode.UNAUTHENTICATED, "Sign in to read your home feed.")
        size = _size(info, first)
        if ranking == FeedRanking.HOT:
            return await _hot_page(info, user.id, size, after)
        return await _newest_page(info, user.id, size, after)


@strawberry.type
class FeedSubscription:
    @strawberry.subscription(
        description=(
            "New posts and reaction counts of one community as they happen. With `after` "
            "(an event's cursor) the posts since are sent first. Ends with NOT_FOUND when "
            "you may no longer see the community."
        )
    )
    async def community_feed(
        self, info: Info, community_id: strawberry.ID, after: str | None = None
    ) -> AsyncGenerator[CommunityFeedEvent, None]:
        pk = decode_id(community_id, NodeType.COMMUNITY, "communityId")
        resume = _newest_key(decode_cursor(after, LIVE))
        if await access.visible_community(info, pk) is None:
            raise ApiError(ApiErrorCode.NOT_FOUND, "No such community.", "communityId")
        user = info.context.viewer.user
        viewer = user.id if user is not None else None
        live = community_live(info)
        with live.gate.watching(pk, viewer):
            channel, decode = live.channel(pk), CommunityFeedEvent.decode
            gate = live.gate

            async def prepare(event: CommunityFeedEvent) -> None:
                await gate.ask_for_watchers(event.source)

            async with watch(info, live.rooms, channel, decode, prepare) as feed:
                replayed: set[int] = set()
                if resume is not None:
                    async for event in replay_after(pk, resume):
                        replayed.add(event.post_id)
                        resume = (event.created_at, event.post_id)
                        yield CommunityFeedEvent.of(event)
                else:
                    resume = await newest_key(pk)
                now = now_utc()
                marker = FeedEvent(FeedEventKind.SUBSCRIBED, pk, 0, now, 0, now)
                yield CommunityFeedEvent.subscribed(marker, resume)
                async for delivery in feed:
                    event = delivery.event.source
                    if not await live.gate.admits(event, viewer):
                        raise ApiError(ApiErrorCode.NOT_FOUND, "No such community.", "communityId")
                    if event.kind == FeedEventKind.POST_CREATED and event.post_id in replayed:
                        continue
                    if not await feed.push(delivery):
                        yield delivery.event

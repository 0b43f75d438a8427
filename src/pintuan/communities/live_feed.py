"""A community's live feed: new posts and reaction counts, published after commit.

Events travel on the live bus (Redis pub/sub across processes, in-process when
embedded), one channel per community, and may be lost like every live event: a
subscriber that reconnects with the cursor it last saw is replayed from the
database, which is the truth.

Who may receive an event is decided when it is delivered, not when the
subscription began: a member removed, banned or whose paid term ended gets
nothing more. Asking the database once per subscriber would cost a thousand
queries per post in a busy community, so a ``Gate`` asks once per event and
process for every viewer that process has watching the community.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from redis.exceptions import RedisError
from tortoise import connections
from tortoise.expressions import Q

from pintuan.communities.models import Community, MemberState, Post
from pintuan.communities.visibility import is_open_to_all
from pintuan.core import sql
from pintuan.core.clock import now_utc
from pintuan.live.bus import Event, EventBus
from pintuan.live.rooms import Rooms

log = logging.getLogger("pintuan.communities.live")

Viewer = int | None  # a user id; None for an anonymous viewer
Admit = Callable[[int, frozenset[Viewer]], Awaitable[frozenset[Viewer]]]
REPLAY_OVERLAP = timedelta(seconds=5)
REPLAY_BATCH = 100


class FeedEventKind(StrEnum):
    SUBSCRIBED = "SUBSCRIBED"  # sent first, to this subscriber only: live from here on
    POST_CREATED = "POST_CREATED"
    REACTIONS_CHANGED = "REACTIONS_CHANGED"


@dataclass(eq=False, slots=True)
class FeedEvent:
    """One message on a community's channel. Decoded once per process and shared by
    every subscriber there, so the gate's answer rides along with it."""

    kind: FeedEventKind
    community_id: int
    post_id: int
    created_at: datetime  # the post's, which orders posts and makes the resume cursor
    reaction_count: int
    changed_at: datetime  # when the change was committed (announced right after)
    admitted: asyncio.Future[tuple[frozenset[Viewer], frozenset[Viewer]]] | None = field(
        default=None, repr=False
    )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "community_id": self.community_id,
            "post_id": self.post_id,
            "created_at": self.created_at.isoformat(),
            "reaction_count": self.reaction_count,
            "changed_at": self.changed_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Event) -> FeedEvent:
        return cls(
            kind=FeedEventKind(data["kind"]),
            community_id=int(data["community_id"]),
            post_id=int(data["post_id"]),
            created_at=datetime.fromisoformat(str(data["created_at"])),
            reaction_count=int(data["reaction_count"]),
            changed_at=datetime.fromisoformat(str(data["changed_at"])),
        )


class Gate:
    """Which viewers may still see a community, asked once per event and process."""

    def __init__(self, admit: Admit) -> None:
        self._admit = admit
        self._watching: dict[int, Counter[Viewer]] = {}

    @contextmanager
    def watching(self, community_id: int, viewer: Viewer) -> Iterator[None]:
        """Count ``viewer`` among this process's watchers of the community meanwhile."""
        watchers = self._watching.setdefault(community_id, Counter())
        watchers[viewer] += 1
        try:
            yield
        finally:
            watchers[viewer] -= 1
            if watchers[viewer] <= 0:
                del watchers[viewer]
            if not watchers and self._watching.get(community_id) is watchers:
                del self._watching[community_id]

    async def ask_for_watchers(self, event: FeedEvent) -> None:
        """Ask for every viewer watching now, once per event and before any of them is
        given it (``Rooms.seat``'s ``prepare``): each then reads the answer at once."""
        await asyncio.shield(self._answer(event))

    async def admits(self, event: FeedEvent, viewer: Viewer) -> bool:
        """Whether ``viewer`` may receive ``event`` now. The first subscriber to ask
        asks for all of them; one who started watching after that asks alone."""
        answer = self._answer(event)
        # Once answered, the answer is read without a wait; before, each waiter is
        # shielded so that one cancelled subscriber does not cancel the others' answer.
        asked, allowed = answer.result() if answer.done() else await asyncio.shield(answer)
        if viewer in asked:
            return viewer in allowed
        return viewer in await self._admit(event.community_id, frozenset([viewer]))

    def _answer(
        self, event: FeedEvent
    ) -> asyncio.Future[tuple[frozenset[Viewer], frozenset[Viewer]]]:
        """The event's one answer for the viewers watching when it was first asked for."""
        if event.admitted is None:
            asked = frozenset(self._watching.get(event.community_id, ()))
            event.admitted = asyncio.ensure_future(self._ask(event.community_id, asked))
        return event.admitted

    async def _ask(
        self, community_id: int, viewers: frozenset[Viewer]
    ) -> tuple[frozenset[Viewer], frozenset[Viewer]]:
        return viewers, await self._admit(community_id, viewers)


class CommunityLive:
    """The live layer of community feeds in one process: its rooms, its gate, publishing."""

    def __init__(self, bus: EventBus, namespace: str, admit: Admit) -> None:
        self.bus = bus
        self.rooms = Rooms(bus)
        self.gate = Gate(admit)
        self.namespace = namespace

    def channel(self, community_id: int) -> str:
        return f"{self.namespace}:community:{community_id}"

    async def publish(
        self,
        kind: FeedEventKind,
        community_id: int,
        post_id: int,
        created_at: datetime,
        reaction_count: int,
    ) -> None:
        """Announce a committed change; call after its commit. A live layer that cannot
        be reached never fails the change: subscribers resume from the database."""
        event = FeedEvent(kind, community_id, post_id, created_at, reaction_count, now_utc())
        try:
            await self.bus.publish(self.channel(community_id), event.to_json())
        except (RedisError, OSError):
            log.warning("could not publish %s for post %s", kind, post_id, exc_info=True)


# Those of a set of users (an array on PostgreSQL, a JSON list on SQLite: one statement
# text whatever their number) who are active members of the community, or admins.
_ADMITTED = """SELECT user_id AS id FROM community_member
WHERE community_id = $1 AND state = $2 AND (term_ends_at IS NULL OR term_ends_at > $3)
  AND user_id {users}
UNION SELECT id FROM app_user WHERE is_admin AND id {users}"""
_USERS = {"postgres": "= ANY($4::int[])", "sqlite": "IN (SELECT value FROM json_each($4))"}


async def admit(community_id: int, viewers: frozenset[Viewer]) -> frozenset[Viewer]:
    """Those of ``viewers`` who may see the community now: everyone when it is open to
    all, else its active members (within their term) and admins. Two statements at most,
    however many viewers: every subscriber of a busy community waits for them."""
    community = await sql.by_id(Community, community_id)
    if community is None:
        return frozenset()
    if is_open_to_all(community):
        return viewers
    users = sorted(v for v in viewers if v is not None)
    if not users:
        return frozenset()
    dialect = connections.get("default").capabilities.dialect
    listed: object = users if dialect == "postgres" else json.dumps(users)
    statement = _ADMITTED.format(users=_USERS.get(dialect, _USERS["sqlite"]))
    found = await sql.rows(statement, community_id, MemberState.ACTIVE.value, now_utc(), listed)
    return frozenset(int(row["id"]) for row in found)


async def newest_key(community_id: int) -> tuple[datetime, int] | None:
    """The key of the community's newest post, where a resume starting now would begin."""
    newest = (
        await Post.filter(community_id=community_id, deleted_at__isnull=True)
        .order_by("-created_at", "-id")
        .first()
        .values("created_at", "id")
    )
    return (newest["created_at"], newest["id"]) if newest else None


async def replay_after(community_id: int, after: tuple[datetime, int]) -> AsyncIterator[FeedEvent]:
    """The community's posts after a resume cursor, oldest first, as POST_CREATED events.

    A post's time is taken before its transaction commits, so a post committed after
    the cursor's may carry an earlier time: posts up to ``REPLAY_OVERLAP`` before the
    cursor are sent again, and a client drops those it holds by id.
    """
    at, pk = after
    floor = at - REPLAY_OVERLAP
    while True:
        batch = (
            await Post.filter(community_id=community_id, deleted_at__isnull=True)
            .filter(Q(created_at__gt=floor) | Q(created_at=floor, id__gt=pk))
            .exclude(id=pk)
            .order_by("created_at", "id")
            .limit(REPLAY_BATCH)
        )
        for post in batch:
            yield FeedEvent(
                FeedEventKind.POST_CREATED,
                community_id,
                post.id,
                post.created_at,
                post.reaction_count,
                post.created_at,
            )
        if len(batch) < REPLAY_BATCH:
            return
        floor, pk = batch[-1].created_at, batch[-1].id

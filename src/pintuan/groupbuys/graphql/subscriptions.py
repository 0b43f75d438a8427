"""Live group progress over graphql-transport-ws: a snapshot, then one event per change."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry

from pintuan.core.clock import now_utc
from pintuan.core.errors import ApiErrorCode
from pintuan.graphql.context import Info
from pintuan.graphql.errors import ApiError
from pintuan.graphql.fanout import watch
from pintuan.graphql.ids import NodeType, decode_id
from pintuan.groupbuys import lookups
from pintuan.groupbuys.announce import group_state
from pintuan.groupbuys.graphql.loaders import groupbuy_loaders
from pintuan.groupbuys.graphql.queries import find_group
from pintuan.groupbuys.graphql.runtime import runtime_of
from pintuan.groupbuys.graphql.types import Group, seconds_left
from pintuan.groupbuys.graphql.visibility import visible_offer
from pintuan.groupbuys.models import GroupStatus
from pintuan.groupbuys.progress import GroupChange, GroupEvent, GroupState
from pintuan.live.bus import Event

strawberry.enum(
    GroupEvent,
    description=(
        "Why a message was sent: SNAPSHOT is the state on subscribing, the others a "
        "change. EXTENDED: the offer was extended, so a group whose timer its old end "
        "cut short runs on (see expiresAt)."
    ),
)


@strawberry.type(
    description="Count down locally from expiresAt, using serverTime to correct the clock."
)
class GroupProgress:
    event: GroupEvent
    member_count: int
    size: int
    slots_left: int
    status: GroupStatus
    expires_at: datetime
    seconds_left: int
    server_time: datetime
    changed_at: datetime = strawberry.field(
        description=(
            "When the change was committed (announced right after its commit); "
            "for SNAPSHOT, when the state was read."
        )
    )
    group_pk: strawberry.Private[int]
    version: strawberry.Private[int]

    @classmethod
    def of(
        cls, event: GroupEvent, state: GroupState, changed_at: datetime | None = None
    ) -> GroupProgress:
        now = now_utc()
        open_ = state.status == GroupStatus.OPEN.value
        return cls(
            event=event,
            member_count=state.member_count,
            size=state.size,
            slots_left=state.size - state.member_count,
            status=GroupStatus(state.status),
            expires_at=state.expires_at,
            seconds_left=seconds_left(state.expires_at, now) if open_ else 0,
            server_time=now,
            changed_at=changed_at or now,
            group_pk=state.group_id,
            version=state.version,
        )

    @strawberry.field(description="The group as it is when this message is delivered.")
    async def group(self, info: Info) -> Group:
        group = await groupbuy_loaders(info).group.load(self.group_pk)
        if group is None:
            raise ApiError(ApiErrorCode.NOT_FOUND, "The group no longer exists.")
        return Group.of(group)


async def _snapshot(info: Info, group_id: int) -> GroupState:
    """The group's state now, from the database, which the mirror can only trail.

    The mirror trails when an announcement was lost (a crash or a Redis outage
    between a commit and its publish) and is empty after Redis lost its data;
    writing it here repairs both (it only ever accepts a newer version). Read
    after entering ``listen()``: any later change is still to arrive as an event.
    """
    group = await lookups.group_row(group_id)
    if group is None:
        raise ApiError(ApiErrorCode.NOT_FOUND, "No such group.")
    state = group_state(group)
    await runtime_of(info).progress.mirror(state)
    return state


def _event_for(event: GroupEvent, state: GroupState) -> GroupEvent:
    """The event a subscriber sees: a closing state is always named after how it closed.

    (An announcement that reads the group after its commit, such as "LEFT", may
    find it closed by a later change.)
    """
    return GroupEvent(state.status) if _closed(state.status) else event


def _closed(status: str) -> bool:
    return status != GroupStatus.OPEN.value


def _change(message: Event) -> GroupProgress:
    """A published change as its subscribers see it (group and offer channels alike)."""
    change = GroupChange.from_json(message)
    return GroupProgress.of(_event_for(change.event, change.state), change.state, change.changed_at)


@strawberry.type
class LiveSubscription:
    @strawberry.subscription(
        description="Snapshot first, then every change; ends when the group closes."
    )
    async def group_progress(
        self, info: Info, group_id: strawberry.ID | None = None, share_code: str | None = None
    ) -> AsyncGenerator[GroupProgress, None]:
        group = await find_group(info, group_id, share_code)
        if group is None:
            raise ApiError(ApiErrorCode.NOT_FOUND, "No such group.")
        channel = runtime_of(info).progress.group_channel(group.pk)
        async with watch(info, runtime_of(info).progress.rooms, channel, _change) as feed:
            state = await _snapshot(info, group.pk)
            yield GroupProgress.of(GroupEvent.SNAPSHOT, state)
            if _closed(state.status):
                return
            seen = state.version
            async for delivery in feed:
                change = delivery.event
                if change.version <= seen:
                    continue  # already reflected in what this subscriber was sent
                seen = change.version
                if not await feed.push(delivery):
                    yield change
                if _closed(change.status.value):
                    return

    @strawberry.subscription(description="Groups of one offer opening, filling and failing.")
    async def group_buy_activity(
        self, info: Info, group_buy_id: strawberry.ID
    ) -> AsyncGenerator[GroupProgress, None]:
        offer_id = decode_id(group_buy_id, NodeType.GROUP_BUY, "groupBuyId")
        if await visible_offer(info, offer_id) is None:
            raise ApiError(ApiErrorCode.NOT_FOUND, "No such group buy.")
        channel = runtime_of(info).progress.offer_channel(offer_id)
        async with watch(info, runtime_of(info).progress.rooms, channel, _change) as feed:
            async for delivery in feed:
                if not await feed.push(delivery):
                    yield delivery.event

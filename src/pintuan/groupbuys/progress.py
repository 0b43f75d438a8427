"""Each open group's live state, mirrored in Redis and published on every change.

The database stays the source of truth: a missing mirror is rebuilt from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis

from pintuan.core.clock import now_utc
from pintuan.live.bus import EventBus, encode
from pintuan.live.rooms import Rooms

MIRROR_GRACE_SECONDS = 3600

# KEYS[1] mirror; ARGV[1] version, ARGV[2] expire-at (unix s), ARGV[3] message,
# ARGV[4] how many channels, then the channels, then field/value pairs.
# Writes only a newer version, so a late writer cannot roll the mirror back; then
# publishes the message on each channel. One command: a pipeline of three cost
# the announcing request more CPU in the client than anything else it sent.
_ANNOUNCE = """
local channels = tonumber(ARGV[4])
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '-1')
if current < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], unpack(ARGV, 5 + channels))
  redis.call('EXPIREAT', KEYS[1], ARGV[2])
end
for i = 5, 4 + channels do
  redis.call('PUBLISH', ARGV[i], ARGV[3])
end
return 1
"""


class GroupEvent(StrEnum):
    """Why a group's subscribers hear from it: SNAPSHOT on subscribing, then a change each."""

    SNAPSHOT = "SNAPSHOT"
    JOINED = "JOINED"
    PAID = "PAID"
    LEFT = "LEFT"
    FILLED = "FILLED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXTENDED = "EXTENDED"


@dataclass(frozen=True, slots=True)
class GroupState:
    group_id: int
    group_buy_id: int
    member_count: int
    paid_count: int
    size: int
    status: str
    expires_at: datetime
    version: int

    def to_json(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "group_buy_id": self.group_buy_id,
            "member_count": self.member_count,
            "paid_count": self.paid_count,
            "size": self.size,
            "status": self.status,
            "expires_at": self.expires_at.isoformat(),
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GroupState:
        return cls(
            group_id=int(data["group_id"]),
            group_buy_id=int(data["group_buy_id"]),
            member_count=int(data["member_count"]),
            paid_count=int(data["paid_count"]),
            size=int(data["size"]),
            status=str(data["status"]),
            expires_at=datetime.fromisoformat(str(data["expires_at"])),
            version=int(data["version"]),
        )


@dataclass(frozen=True, slots=True)
class GroupChange:
    """One message on a group's or an offer's channel: what happened, and the state it left.

    Publisher and subscribers share this codec, so an event name is a ``GroupEvent`` at
    both ends; a message naming no member fails to decode (ValueError) and is dropped.
    """

    event: GroupEvent
    state: GroupState
    changed_at: datetime | None  # when the change committed, if the message says

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"event": self.event.value, "state": self.state.to_json()}
        if self.changed_at is not None:
            data["changed_at"] = self.changed_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GroupChange:
        changed_at = data.get("changed_at")
        return cls(
            event=GroupEvent(data["event"]),
            state=GroupState.from_json(data["state"]),
            changed_at=None if changed_at is None else datetime.fromisoformat(str(changed_at)),
        )


class GroupProgress:
    def __init__(self, redis: Redis, bus: EventBus) -> None:
        self.redis = redis
        self.bus = bus
        self.rooms = Rooms(bus)
        # Pub/sub ignores database numbers: channels carry the database so that
        # deployments (or test runs) sharing one Redis server never hear each other.
        self.namespace = f"pintuan:{redis.connection_pool.connection_kwargs.get('db', 0)}"
        self._script = redis.register_script(_ANNOUNCE)

    def group_channel(self, group_id: int) -> str:
        return f"{self.namespace}:group:{group_id}"

    def offer_channel(self, group_buy_id: int) -> str:
        return f"{self.namespace}:offer:{group_buy_id}"

    async def mirror(self, state: GroupState) -> None:
        await self._announce(state, "")

    async def _announce(self, state: GroupState, message: str, *channels: str) -> None:
        pairs = [str(item) for pair in state.to_json().items() for item in pair]
        expire_at = int(state.expires_at.timestamp()) + MIRROR_GRACE_SECONDS
        args: list[str | int] = [state.version, expire_at, message, len(channels)]
        args += [*channels, *pairs]
        await self._script(keys=[f"groupstate:{state.group_id}"], args=args)

    async def read(self, group_id: int) -> GroupState | None:
        data: dict[str, Any] = await self.redis.hgetall(f"groupstate:{group_id}")  # type: ignore[assignment]
        return GroupState.from_json(data) if data else None

    async def changed(self, event: GroupEvent, state: GroupState) -> None:
        """Mirror the new state, then tell the group's and the offer's listeners: one round trip.

        Called right after the change commits; the message carries that moment.
        """
        message = encode(GroupChange(event, state, now_utc()).to_json())
        channels = (self.group_channel(state.group_id), self.offer_channel(state.group_buy_id))
        await self._announce(state, message, *channels)

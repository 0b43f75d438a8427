"""Live notice of ledger changes, one channel per beneficiary (``myEarnings``).

Published after the change commits, as every live notification is: one lost to a
crash or a Redis outage in between loses nothing, since the ledger itself is read
by ``me { commissions balance }``. Each message carries the entry as the change
left it, so a subscriber needs no read of the database.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.exceptions import RedisError

from pintuan.live.bus import Event, EventBus
from pintuan.referrals.ledger import EntryChange
from pintuan.referrals.ledger_models import EntryState, EntryType

log = logging.getLogger("pintuan.referrals.earnings")


def channel(user_id: int) -> str:
    return f"earnings:{user_id}"


@dataclass(frozen=True, slots=True)
class EntryNotice:
    """What a subscriber hears: one entry as a committed change left it."""

    created: bool
    beneficiary_id: int
    order_id: int
    kind: str
    entry_type: EntryType
    amount: int
    currency: str
    state: EntryState
    plan_version: int
    rule: str
    created_at: datetime
    available_at: datetime | None
    reversed_at: datetime | None

    @classmethod
    def of(cls, change: EntryChange) -> EntryNotice:
        e = change.entry
        return cls(
            created=change.created,
            beneficiary_id=e.beneficiary_id,
            order_id=e.order_id,
            kind=e.kind,
            entry_type=EntryType(e.entry_type),
            amount=e.amount,
            currency=e.currency,
            state=EntryState(e.state),
            plan_version=e.plan_version,
            rule=e.rule,
            created_at=e.created_at,
            available_at=e.available_at,
            reversed_at=e.reversed_at,
        )

    @property
    def changed_at(self) -> datetime:
        """When the change happened: the latest of the entry's moments."""
        return max(t for t in (self.created_at, self.available_at, self.reversed_at) if t)

    def to_json(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "beneficiary_id": self.beneficiary_id,
            "order_id": self.order_id,
            "kind": self.kind,
            "entry_type": self.entry_type.value,
            "amount": self.amount,
            "currency": self.currency,
            "state": self.state.value,
            "plan_version": self.plan_version,
            "rule": self.rule,
            "created_at": self.created_at.isoformat(),
            "available_at": _iso(self.available_at),
            "reversed_at": _iso(self.reversed_at),
        }

    @classmethod
    def from_json(cls, data: Event) -> EntryNotice:
        return cls(
            created=bool(data["created"]),
            beneficiary_id=int(data["beneficiary_id"]),
            order_id=int(data["order_id"]),
            kind=str(data["kind"]),
            entry_type=EntryType(data["entry_type"]),
            amount=int(data["amount"]),
            currency=str(data["currency"]),
            state=EntryState(data["state"]),
            plan_version=int(data["plan_version"]),
            rule=str(data["rule"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            available_at=_time(data["available_at"]),
            reversed_at=_time(data["reversed_at"]),
        )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class EarningsFeed:
    """Publishes ledger changes to their beneficiaries' channels in every process."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    async def announce(self, changes: Sequence[EntryChange]) -> None:
        """Call after the changes committed; a live-layer failure is logged, never raised."""
        for change in changes:
            notice = EntryNotice.of(change)
            try:
                await self.bus.publish(channel(notice.beneficiary_id), notice.to_json())
            except (RedisError, OSError):
                log.warning("could not announce a ledger change", exc_info=True)
                return

"""Earnings as users see them: ``me { commissions balance withdrawals }``, asking for
a withdrawal, and admins paying or rejecting withdrawals."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import strawberry
from strawberry.dataloader import DataLoader

from pintuan.accounts.graphql.loaders import account_loaders
from pintuan.accounts.graphql.users import User
from pintuan.core.errors import ApiErrorCode
from pintuan.core.money import is_supported_currency
from pintuan.core.pagination import SortKey, parse_int
from pintuan.graphql import provided
from pintuan.graphql.context import Info
from pintuan.graphql.errors import ApiError
from pintuan.graphql.fanout import watch
from pintuan.graphql.ids import NodeType, decode_id, to_global_id
from pintuan.graphql.loaders import required, rows
from pintuan.graphql.money import Money
from pintuan.graphql.mutations import MutationPayload, found, mutation
from pintuan.graphql.node import Node, register_node
from pintuan.graphql.pagination import Connection, paginate
from pintuan.graphql.permissions import Admin, SignedIn, allow, unauthenticated
from pintuan.groupbuys.graphql.runtime import runtime_of
from pintuan.live.bus import Event
from pintuan.live.rooms import Rooms
from pintuan.referrals import earnings_feed, withdrawals
from pintuan.referrals.balances import balance_of
from pintuan.referrals.earnings_feed import EntryNotice
from pintuan.referrals.ledger_models import (
    CommissionEntry,
    EntryState,
    EntryType,
    WithdrawalStatus,
)
from pintuan.referrals.ledger_models import Withdrawal as WithdrawalRow

NEWEST_FIRST = SortKey(("id",), True, (parse_int,))
OLDEST_FIRST = SortKey(("id",), False, (parse_int,))

strawberry.enum(
    EntryState,
    name="CommissionStatus",
    description=(
        "PENDING until the order completes and its freeze window passes; then AVAILABLE; "
        "REVERSED when the order was refunded before that."
    ),
)
strawberry.enum(
    EntryType,
    name="CommissionEntryType",
    description="An EARNING, or the REVERSAL of one refunded after it became available.",
)
strawberry.enum(
    WithdrawalStatus, description="REQUESTED, then PAID or REJECTED (which returns the money)."
)


@strawberry.type(description="One ledger entry: what one order earned you, by one rule.")
class Commission:
    order_id: strawberry.ID
    kind: str
    entry_type: EntryType
    amount: Money = strawberry.field(description="Negative for a reversal.")
    status: EntryState
    plan_version: int
    rule: str
    created_at: datetime
    available_at: datetime | None
    reversed_at: datetime | None

    @classmethod
    def of(cls, e: CommissionEntry) -> Commission:
        return cls(
            order_id=strawberry.ID(to_global_id(NodeType.ORDER, e.order_id)),
            kind=e.kind,
            entry_type=e.entry_type,
            amount=Money.of(e.amount, e.currency),
            status=e.state,
            plan_version=e.plan_version,
            rule=e.rule,
            created_at=e.created_at,
            available_at=e.available_at,
            reversed_at=e.reversed_at,
        )


class CommissionChange(StrEnum):
    CREATED = "CREATED"
    AVAILABLE = "AVAILABLE"
    REVERSED = "REVERSED"


strawberry.enum(
    CommissionChange,
    description=(
        "CREATED: a new entry (an earning, or the REVERSAL of one already available); "
        "AVAILABLE: a pending earning became withdrawable; REVERSED: a pending earning "
        "was cancelled by a refund."
    ),
)


@strawberry.type(description="One of your ledger entries, as a committed change left it.")
class CommissionEvent:
    change: CommissionChange
    commission: Commission
    changed_at: datetime

    @classmethod
    def of(cls, notice: EntryNotice) -> CommissionEvent:
        change = CommissionChange.CREATED if notice.created else CommissionChange(notice.state)
        commission = Commission(
            order_id=strawberry.ID(to_global_id(NodeType.ORDER, notice.order_id)),
            kind=notice.kind,
            entry_type=notice.entry_type,
            amount=Money.of(notice.amount, notice.currency),
            status=notice.state,
            plan_version=notice.plan_version,
            rule=notice.rule,
            created_at=notice.created_at,
            available_at=notice.available_at,
            reversed_at=notice.reversed_at,
        )
        return cls(change=change, commission=commission, changed_at=notice.changed_at)


def _event_of(message: Event) -> CommissionEvent:
    return CommissionEvent.of(EntryNotice.from_json(message))


@strawberry.type(
    description=(
        "Sums of your ledger. `available` is what you may withdraw, less withdrawals "
        "requested or paid; it may be negative after a refund, until later earnings net it."
    )
)
class Balance:
    pending: Money
    available: Money


@strawberry.type(description="A payout of available commissions, decided by an admin.")
class Withdrawal(Node):
    amount: Money
    status: WithdrawalStatus
    reason: str | None = strawberry.field(description="Why it was rejected.")
    requested_at: datetime
    decided_at: datetime | None
    user_pk: strawberry.Private[int]

    @classmethod
    def of(cls, w: WithdrawalRow) -> Withdrawal:
        return cls(
            id=strawberry.ID(to_global_id(NodeType.WITHDRAWAL, w.id)),
            amount=Money.of(w.amount, w.currency),
            status=w.status,
            reason=w.reason,
            requested_at=w.requested_at,
            decided_at=w.decided_at,
            user_pk=w.user_id,
        )

    @strawberry.field
    async def user(self, info: Info) -> User:
        return User.of(await required(account_loaders(info).user, self.user_pk, "user"))


@strawberry.type
class WithdrawalPayload(MutationPayload):
    withdrawal: Withdrawal | None = None


@provided.provide("User.commissions")
async def user_commissions(
    info: Info, user_id: int, status: EntryState | None, first: int | None, after: str | None
) -> Connection[Commission]:
    query = CommissionEntry.filter(beneficiary_id=user_id)
    if status is not None:
        query = query.filter(state=status)
    ordering = f"COMMISSIONS:{status or ''}"
    return await paginate(info, query, NEWEST_FIRST, ordering, Commission.of, first, after)


@provided.provide("User.balance")
async def user_balance(info: Info, user_id: int, currency: str | None) -> Balance:
    code = currency or info.context.settings.commission_currency
    if not is_supported_currency(code):
        raise ApiError(ApiErrorCode.INVALID, f"Unknown currency {code[:8]!r}.", "currency")
    sums = await balance_of(user_id, code)
    return Balance(pending=Money.of(sums.pending, code), available=Money.of(sums.available, code))


@provided.provide("User.withdrawals")
async def user_withdrawals(
    info: Info, user_id: int, first: int | None, after: str | None
) -> Connection[Withdrawal]:
    query = WithdrawalRow.filter(user_id=user_id)
    return await paginate(info, query, NEWEST_FIRST, "WITHDRAWALS", Withdrawal.of, first, after)


@dataclass
class EarningsLoaders:
    withdrawal: DataLoader[int, WithdrawalRow | None] = field(
        default_factory=lambda: rows(WithdrawalRow)
    )


def _loaders(info: Info) -> EarningsLoaders:
    return info.context.loaders.of(EarningsLoaders)


async def _withdrawal(info: Info, id: strawberry.ID) -> WithdrawalRow:
    row = await _loaders(info).withdrawal.load(decode_id(id, NodeType.WITHDRAWAL))
    return found(row, "withdrawal", "id")


def _viewer_id(info: Info) -> int:
    user = info.context.viewer.user
    if user is None:
        raise unauthenticated()
    return user.id


@strawberry.type
class EarningsQuery:
    @strawberry.field(
        description="Every user's withdrawals, oldest first (admins).", extensions=allow(Admin())
    )
    async def withdrawals(
        self,
        info: Info,
        status: WithdrawalStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Withdrawal]:
        query = WithdrawalRow.all()
        if status is not None:
            query = query.filter(status=status)
        ordering = f"ALL_WITHDRAWALS:{status or ''}"
        return await paginate(info, query, OLDEST_FIRST, ordering, Withdrawal.of, first, after)


@strawberry.type
class EarningsMutation:
    @mutation(
        SignedIn(),
        description=(
            "Withdraw available commissions. A repeat with the same idempotencyKey returns "
            "the first withdrawal; currency defaults to the platform's."
        ),
    )
    async def withdrawal_request(
        self, info: Info, amount: int, idempotency_key: str, currency: str | None = None
    ) -> WithdrawalPayload:
        settings = info.context.settings
        request = withdrawals.WithdrawalRequest(
            user_id=_viewer_id(info),
            amount=amount,
            currency=currency or settings.commission_currency,
            idempotency_key=idempotency_key,
        )
        created = await withdrawals.request_withdrawal(request, settings.withdrawal_minimum)
        return WithdrawalPayload(withdrawal=Withdrawal.of(created))

    @mutation(Admin(), description="The money reached the user.")
    async def withdrawal_mark_paid(self, info: Info, id: strawberry.ID) -> WithdrawalPayload:
        row = await _withdrawal(info, id)
        paid = await withdrawals.mark_paid(row, _viewer_id(info))
        return WithdrawalPayload(withdrawal=Withdrawal.of(paid))

    @mutation(Admin(), description="Refuse the payout; its amount is available again.")
    async def withdrawal_reject(
        self, info: Info, id: strawberry.ID, reason: str
    ) -> WithdrawalPayload:
        row = await _withdrawal(info, id)
        rejected = await withdrawals.reject(row, _viewer_id(info), reason)
        return WithdrawalPayload(withdrawal=Withdrawal.of(rejected))


@strawberry.type
class EarningsSubscription:
    @strawberry.subscription(
        description=(
            "Your ledger entries as they are created or change state, from any server "
            "process (signed in). Sent after each change commits; a message lost to an "
            "outage is not resent: read `me { commissions balance }` on reconnecting."
        )
    )
    async def my_earnings(self, info: Info) -> AsyncGenerator[CommissionEvent, None]:
        channel = earnings_feed.channel(_viewer_id(info))
        rooms: Rooms = runtime_of(info).progress.rooms
        async with watch(info, rooms, channel, _event_of) as feed:
            async for delivery in feed:
                if not await feed.push(delivery):
                    yield delivery.event


async def _withdrawal_node(info: Info, pk: int) -> Withdrawal | None:
    row = await _loaders(info).withdrawal.load(pk)
    viewer = info.context.viewer
    if row is None or not (viewer.is_admin or (viewer.user and viewer.user.id == row.user_id)):
        return None
    return Withdrawal.of(row)


register_node(NodeType.WITHDRAWAL, _withdrawal_node)

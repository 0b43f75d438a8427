"""Withdrawals: a user takes available money out; an admin pays or rejects it.

A request runs in one transaction holding the user's account row locked, so one
user's requests run one at a time: each reads the balance with every earlier
withdrawal counted, and its withdrawal row is what takes the money. However
many arrive at once, the withdrawals never add up to more than was available.
The database also holds at most one open (REQUESTED) withdrawal per user and
one withdrawal per (user, idempotency key).

REQUESTED -> PAID, or REQUESTED -> REJECTED, which gives the money back: a
rejected withdrawal no longer counts against the balance.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from pintuan.core import sql, validation
from pintuan.core.clock import now_utc
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.core.money import format_money, is_supported_currency
from pintuan.core.validation import MAX_INT
from pintuan.referrals.balances import balance_of
from pintuan.referrals.ledger_models import CommissionAccount, Withdrawal, WithdrawalStatus

MAX_KEY_LENGTH = 100
MAX_REASON_LENGTH = 500


@dataclass(frozen=True, slots=True)
class WithdrawalRequest:
    user_id: int
    amount: int
    currency: str
    idempotency_key: str

    def check(self, minimum: int) -> None:
        if not 1 <= len(self.idempotency_key) <= MAX_KEY_LENGTH:
            raise DomainError(
                ErrorCode.INVALID,
                f"Give an idempotency key of 1 to {MAX_KEY_LENGTH} characters.",
                "idempotencyKey",
            )
        if not is_supported_currency(self.currency):
            raise DomainError(
                ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {self.currency!r}.", "currency"
            )
        if not 0 < self.amount <= MAX_INT:
            raise DomainError(ErrorCode.INVALID, "Give a positive amount.", "amount")
        if self.amount < minimum:
            raise DomainError(
                ErrorCode.BELOW_MINIMUM,
                f"The smallest withdrawal is {format_money(minimum, self.currency)}.",
                "amount",
            )


async def request_withdrawal(request: WithdrawalRequest, minimum: int) -> Withdrawal:
    """Reserve ``amount`` of the available balance for a payout.

    A repeat with the same key returns the first withdrawal, whatever has happened
    to it since; the same key with another amount or currency is refused.
    """
    request.check(minimum)
    async with in_transaction():
        await _lock_account(request.user_id)
        earlier = await Withdrawal.get_or_none(
            user_id=request.user_id, idempotency_key=request.idempotency_key
        )
        if earlier is not None:
            if (earlier.amount, earlier.currency) != (request.amount, request.currency):
                raise DomainError(
                    ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    "This idempotency key was used for a different request.",
                    "idempotencyKey",
                )
            return earlier
        if await Withdrawal.exists(open_user_id=request.user_id):
            raise DomainError(
                ErrorCode.WITHDRAWAL_OPEN,
                "A withdrawal of yours is waiting for a decision; wait for it first.",
                "amount",
            )
        available = (await balance_of(request.user_id, request.currency)).available
        if available < 0:
            raise DomainError(
                ErrorCode.NEGATIVE_BALANCE,
                "Your available balance is negative after a refund; later earnings will "
                "restore it.",
                "amount",
            )
        if available < request.amount:
            raise DomainError(
                ErrorCode.INSUFFICIENT_BALANCE,
                f"Only {format_money(available, request.currency)} is available.",
                "amount",
            )
        return await Withdrawal.create(
            user_id=request.user_id,
            amount=request.amount,
            currency=request.currency,
            status=WithdrawalStatus.REQUESTED,
            idempotency_key=request.idempotency_key,
            open_user_id=request.user_id,
            requested_at=now_utc(),
        )


async def _lock_account(user_id: int) -> None:
    """Hold the user's account row until the transaction ends (SQLite, which runs
    one transaction at a time, needs no lock)."""
    await sql.execute(
        'INSERT INTO "commission_account" ("id") VALUES ($1) ON CONFLICT DO NOTHING',
        user_id,
    )
    await CommissionAccount.filter(id=user_id).select_for_update(no_key=True).first()


async def mark_paid(withdrawal: Withdrawal, admin_id: int) -> Withdrawal:
    """The money reached the user."""
    return await _decide(withdrawal, admin_id, WithdrawalStatus.PAID, None)


async def reject(withdrawal: Withdrawal, admin_id: int, reason: str) -> Withdrawal:
    """Refuse the payout; the amount is available again."""
    cleaned = validation.text(reason, "reason", max_length=MAX_REASON_LENGTH)
    return await _decide(withdrawal, admin_id, WithdrawalStatus.REJECTED, cleaned)


async def _decide(
    withdrawal: Withdrawal, admin_id: int, status: WithdrawalStatus, reason: str | None
) -> Withdrawal:
    changed = await sql.execute(
        'UPDATE "withdrawal" SET "status" = $1, "reason" = $2, "decided_by_id" = $3, '
        '"decided_at" = $4, "open_user_id" = NULL WHERE "id" = $5 AND "status" = $6',
        status.value,
        reason,
        admin_id,
        now_utc(),
        withdrawal.id,
        WithdrawalStatus.REQUESTED.value,
    )
    if not changed:
        raise DomainError(
            ErrorCode.ALREADY_DECIDED, "This withdrawal was already paid or rejected.", "id"
        )
    return await Withdrawal.get(id=withdrawal.id)

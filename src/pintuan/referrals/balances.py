"""Balances, derived from the ledger every time: there is no stored balance to drift.

``pending`` is the sum of a user's PENDING entries; ``available`` the sum of their
AVAILABLE entries (reversals included, as negative amounts) less every withdrawal
requested or paid (a rejected one gives its money back by no longer counting).

A reversal of money already available can leave ``available`` negative. It stays
negative until later earnings, as they become available, net it out; until it is
positive again no withdrawal is possible, so a clawback is never lost and never
taken from anyone else.
"""

from __future__ import annotations

from dataclasses import dataclass

from pintuan.core import sql
from pintuan.referrals.ledger_models import EntryState, WithdrawalStatus


@dataclass(frozen=True, slots=True)
class Balance:
    pending: int
    available: int


async def balance_of(user_id: int, currency: str) -> Balance:
    """The user's balance in ``currency``, from two indexed sums."""
    sums = await sql.rows(
        'SELECT "state", SUM("amount") AS "total" FROM "commission_entry" '
        'WHERE "beneficiary_id" = $1 AND "state" IN ($2, $3) AND "currency" = $4 '
        'GROUP BY "state"',
        user_id,
        EntryState.PENDING.value,
        EntryState.AVAILABLE.value,
        currency,
    )
    by_state = {row["state"]: int(row["total"]) for row in sums}
    [withdrawn] = await sql.rows(
        'SELECT COALESCE(SUM("amount"), 0) AS "total" FROM "withdrawal" '
        'WHERE "user_id" = $1 AND "status" IN ($2, $3) AND "currency" = $4',
        user_id,
        WithdrawalStatus.REQUESTED.value,
        WithdrawalStatus.PAID.value,
        currency,
    )
    return Balance(
        pending=by_state.get(EntryState.PENDING, 0),
        available=by_state.get(EntryState.AVAILABLE, 0) - int(withdrawn["total"]),
    )

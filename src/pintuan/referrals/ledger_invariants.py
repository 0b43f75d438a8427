"""Rules the commission ledger keeps whatever ran at once, checked after load.

Tests and benchmarks call ``ledger_violations`` after firing concurrent requests;
an empty list means the books are right.
"""

from __future__ import annotations

from pintuan.core import sql
from pintuan.referrals.ledger_models import EntryState, EntryType, WithdrawalStatus


async def ledger_violations() -> list[str]:
    found: list[str] = []
    # Each withdrawal was checked against the balance with every earlier one
    # counted, so together they never exceed what was ever made available.
    for row in await sql.rows(
        'SELECT w."user_id", w."currency", SUM(w."amount") AS "taken", '
        '(SELECT COALESCE(SUM(e."amount"), 0) FROM "commission_entry" e '
        'WHERE e."beneficiary_id" = w."user_id" AND e."currency" = w."currency" '
        'AND e."state" = $1 AND e."entry_type" = $2) AS "released" '
        'FROM "withdrawal" w WHERE w."status" IN ($3, $4) GROUP BY w."user_id", w."currency"',
        EntryState.AVAILABLE.value,
        EntryType.EARNING.value,
        WithdrawalStatus.REQUESTED.value,
        WithdrawalStatus.PAID.value,
    ):
        if int(row["taken"]) > int(row["released"]):
            found.append(f"user {row['user_id']} withdrew {row['taken']} of {row['released']}")
    # A reversal answers an available earning of the same key, with its negative amount.
    for row in await sql.rows(
        'SELECT r."id" FROM "commission_entry" r LEFT JOIN "commission_entry" e '
        'ON e."order_id" = r."order_id" AND e."beneficiary_id" = r."beneficiary_id" '
        'AND e."kind" = r."kind" AND e."entry_type" = $1 '
        'WHERE r."entry_type" = $2 AND (e."id" IS NULL OR e."state" != $3 '
        'OR e."amount" != -r."amount")',
        EntryType.EARNING.value,
        EntryType.REVERSAL.value,
        EntryState.AVAILABLE.value,
    ):
        found.append(f"reversal {row['id']} answers no available earning")
    for row in await sql.rows(
        'SELECT "user_id", COUNT(*) AS "open" FROM "withdrawal" WHERE "status" = $1 '
        'GROUP BY "user_id" HAVING COUNT(*) > 1',
        WithdrawalStatus.REQUESTED.value,
    ):
        found.append(f"user {row['user_id']} has {row['open']} open withdrawals")
    return found

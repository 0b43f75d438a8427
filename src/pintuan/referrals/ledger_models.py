"""The commission ledger's tables: entries, withdrawals, and each earner's lock row."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from pintuan.accounts.models import User
from pintuan.groupbuys.order_models import Order


class EntryState(StrEnum):
    """PENDING when the order is paid; AVAILABLE once it completed and its freeze
    window passed with no refund; REVERSED when it was refunded before that."""

    PENDING = "PENDING"
    AVAILABLE = "AVAILABLE"
    REVERSED = "REVERSED"


class EntryType(StrEnum):
    """An EARNING, or the REVERSAL (its negative, AVAILABLE at once) of an earning
    that was already available when its order was refunded."""

    EARNING = "EARNING"
    REVERSAL = "REVERSAL"


class WithdrawalStatus(StrEnum):
    REQUESTED = "REQUESTED"
    PAID = "PAID"
    REJECTED = "REJECTED"


class CommissionEntry(Model):
    # One earning per (order, beneficiary, kind) and at most one reversal of it:
    # the unique key makes a replayed event write nothing. The amount, plan
    # version and rule never change; the state only moves forward from PENDING.
    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "pintuan.Order", related_name="commission_entries", on_delete=fields.RESTRICT
    )
    order_id: int
    beneficiary: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="commission_entries", on_delete=fields.RESTRICT
    )
    beneficiary_id: int
    kind = fields.CharField(max_length=32)
    entry_type = fields.CharEnumField(EntryType, max_length=8)
    amount = fields.IntField()  # minor units of ``currency``; negative for a reversal
    currency = fields.CharField(max_length=3)
    plan_version = fields.IntField()
    rule = fields.CharField(max_length=64)
    state = fields.CharEnumField(EntryState, max_length=16)
    # When the order completed, once the ledger knows: the freeze window runs from here.
    order_completed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    available_at = fields.DatetimeField(null=True)
    reversed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "commission_entry"
        unique_together = (("order", "beneficiary", "kind", "entry_type"),)
        indexes = (
            ("beneficiary_id", "id"),
            ("beneficiary_id", "state", "id"),
            ("state", "order_completed_at"),
        )


class Withdrawal(Model):
    # (user, idempotency_key) is unique: a retried request finds its first withdrawal.
    # ``open_user_id`` holds the user's id while REQUESTED and is NULL once decided;
    # being unique, it lets the database hold at most one open request per user.
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="withdrawals", on_delete=fields.RESTRICT
    )
    user_id: int
    amount = fields.IntField()
    currency = fields.CharField(max_length=3)
    status = fields.CharEnumField(WithdrawalStatus, max_length=16)
    idempotency_key = fields.CharField(max_length=100)
    open_user_id = fields.IntField(null=True, unique=True)
    reason = fields.CharField(max_length=500, null=True)
    decided_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="withdrawals_decided", null=True, on_delete=fields.RESTRICT
    )
    decided_by_id: int | None
    requested_at = fields.DatetimeField()
    decided_at = fields.DatetimeField(null=True)

    class Meta:
        table = "withdrawal"
        unique_together = (("user", "idempotency_key"),)
        indexes = (("user_id", "id"), ("status", "id"))


class CommissionAccount(Model):
    # One row per user who ever asked for a withdrawal. It holds no money (balances
    # are sums of the ledger); requests lock it, so one user's requests run one at
    # a time and each sees the withdrawals committed before it.
    id = fields.IntField(primary_key=True, generated=False)  # the user's id

    class Meta:
        table = "commission_account"

"""Orders and the money that moved for them."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from pintuan.accounts.models import Merchant, User
from pintuan.catalog.models import Variant
from pintuan.groupbuys.models import Group, GroupBuy


class OrderKind(StrEnum):
    SOLO = "SOLO"
    GROUP = "GROUP"


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "PENDING_PAYMENT"
    PAID = "PAID"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"


class CancelReason(StrEnum):
    """Why an order was cancelled, kept as its ``failure_code``."""

    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    PAYMENT_EXPIRED = "PAYMENT_EXPIRED"
    LEADER_UNPAID = "LEADER_UNPAID"
    GROUP_FAILED = "GROUP_FAILED"
    OFFER_CANCELLED = "OFFER_CANCELLED"


class TransactionKind(StrEnum):
    CHARGE = "CHARGE"
    REFUND = "REFUND"


class Order(Model):
    # (buyer, idempotency_key) is unique: a retried mutation finds its first order.
    # request_hash tells a true retry from a different request reusing the key.
    id = fields.IntField(primary_key=True)
    buyer: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="orders", on_delete=fields.RESTRICT
    )
    buyer_id: int
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "pintuan.Merchant", related_name="orders", on_delete=fields.RESTRICT
    )
    merchant_id: int
    kind = fields.CharEnumField(OrderKind, max_length=8)
    group: fields.ForeignKeyNullableRelation[Group] = fields.ForeignKeyField(
        "pintuan.Group", related_name="orders", null=True, on_delete=fields.RESTRICT
    )
    group_id: int | None
    group_buy: fields.ForeignKeyNullableRelation[GroupBuy] = fields.ForeignKeyField(
        "pintuan.GroupBuy", related_name="orders", null=True, on_delete=fields.RESTRICT
    )
    group_buy_id: int | None
    variant: fields.ForeignKeyRelation[Variant] = fields.ForeignKeyField(
        "pintuan.Variant", related_name="orders", on_delete=fields.RESTRICT
    )
    variant_id: int
    quantity = fields.IntField()
    unit_price = fields.IntField()
    currency = fields.CharField(max_length=3)
    status = fields.CharEnumField(OrderStatus, max_length=16, default=OrderStatus.PENDING_PAYMENT)
    idempotency_key = fields.CharField(max_length=100)
    request_hash = fields.CharField(max_length=64)
    failure_code = fields.CharField(max_length=32, null=True)  # a CancelReason
    # The share code the buyer arrived with, as given; other domains read it (referrals).
    ref = fields.CharField(max_length=8, null=True)
    payment_due_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    paid_at = fields.DatetimeField(null=True)
    cancelled_at = fields.DatetimeField(null=True)
    refunded_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "customer_order"
        unique_together = (("buyer", "idempotency_key"),)
        indexes = (
            ("buyer_id", "id"),
            ("merchant_id", "id"),
            ("status", "payment_due_at"),
            ("group_id", "status"),
        )

    @property
    def total(self) -> int:
        return self.unit_price * self.quantity


class PaymentTransaction(Model):
    # At most one charge and one refund per order: the unique pair is the last
    # guard against paying or refunding twice, whatever the callers do. A refund
    # row is written with the order's move to REFUNDED, its reference empty
    # until the gateway has returned the money: an empty one is owed. (Not
    # NULL: making the column nullable would rebuild the table on SQLite, and
    # Tortoise's rebuild drops the unique pair.)
    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "pintuan.Order", related_name="transactions", on_delete=fields.RESTRICT
    )
    order_id: int
    kind = fields.CharEnumField(TransactionKind, max_length=8)
    amount = fields.IntField()
    currency = fields.CharField(max_length=3)
    gateway = fields.CharField(max_length=32)
    reference = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)
    # When a caller took an owed refund to the gateway: while that claim is live,
    # no other caller (another scheduler, a sweep, another process) sends it too.
    claimed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "payment_transaction"
        unique_together = (("order", "kind"),)
        indexes = (("kind", "reference"),)


class PaymentEvent(Model):
    # Webhook events already handled, by the gateway's event id.
    id = fields.IntField(primary_key=True)
    event_id = fields.CharField(max_length=100, unique=True)
    order_id = fields.IntField(null=True)
    kind = fields.CharField(max_length=32)
    outcome = fields.CharField(max_length=32)
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "payment_event"

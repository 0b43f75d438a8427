"""Group buys: offers, the groups that form under them, and their members."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from pintuan.accounts.models import Merchant, User
from pintuan.catalog.models import Product, Variant


class GroupBuyStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    ACTIVE = "ACTIVE"
    ENDED = "ENDED"
    CANCELLED = "CANCELLED"


class GroupStatus(StrEnum):
    OPEN = "OPEN"
    FILLED = "FILLED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class GroupBuy(Model):
    # An offer on one variant. Its SCHEDULED/ACTIVE/ENDED status follows from the
    # clock and starts_at/ends_at, so only cancellation is stored.
    # stock_taken counts units held or sold against stock_limit.
    id = fields.IntField(primary_key=True)
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "pintuan.Merchant", related_name="group_buys", on_delete=fields.RESTRICT
    )
    merchant_id: int
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "pintuan.Product", related_name="group_buys", on_delete=fields.RESTRICT
    )
    product_id: int
    variant: fields.ForeignKeyRelation[Variant] = fields.ForeignKeyField(
        "pintuan.Variant", related_name="group_buys", on_delete=fields.RESTRICT
    )
    variant_id: int
    solo_price = fields.IntField()
    group_price = fields.IntField()
    currency = fields.CharField(max_length=3)
    group_size = fields.IntField()
    duration_seconds = fields.IntField()
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    per_user_limit = fields.IntField()
    stock_limit = fields.IntField()
    stock_taken = fields.IntField(default=0)
    cancelled_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "group_buy"
        indexes = (("product_id", "id"), ("starts_at", "ends_at"))

    def status_at(self, now: datetime) -> GroupBuyStatus:
        if self.cancelled_at is not None:
            return GroupBuyStatus.CANCELLED
        if now < self.starts_at:
            return GroupBuyStatus.SCHEDULED
        if now >= self.ends_at:
            return GroupBuyStatus.ENDED
        return GroupBuyStatus.ACTIVE

    @property
    def stock_remaining(self) -> int:
        return self.stock_limit - self.stock_taken


class Group(Model):
    # slots_taken counts members holding a slot, paid or awaiting payment;
    # paid_count only the paid ones. Both move by conditional updates only, and
    # every change bumps version, which orders the live events of the group.
    id = fields.IntField(primary_key=True)
    group_buy: fields.ForeignKeyRelation[GroupBuy] = fields.ForeignKeyField(
        "pintuan.GroupBuy", related_name="groups", on_delete=fields.RESTRICT
    )
    group_buy_id: int
    leader: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="led_groups", on_delete=fields.RESTRICT
    )
    leader_id: int
    size = fields.IntField()
    slots_taken = fields.IntField(default=0)
    paid_count = fields.IntField(default=0)
    version = fields.IntField(default=0)
    status = fields.CharEnumField(GroupStatus, max_length=16, default=GroupStatus.OPEN)
    share_code = fields.CharField(max_length=16, unique=True)
    opened_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    filled_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    # Set once a failed or cancelled group has no paid or pending order left, so
    # the sweep looks only at groups still owing money, not at all of history.
    settled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "buy_group"
        indexes = (
            ("group_buy_id", "status", "expires_at"),
            ("status", "expires_at"),
            ("status", "settled_at"),
        )


class GroupMember(Model):
    # One row per user holding a slot; deleting it frees the slot. The unique
    # pair is what makes "one slot per user per group" hold under concurrency.
    id = fields.IntField(primary_key=True)
    group: fields.ForeignKeyRelation[Group] = fields.ForeignKeyField(
        "pintuan.Group", related_name="members", on_delete=fields.CASCADE
    )
    group_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="group_memberships", on_delete=fields.RESTRICT
    )
    user_id: int
    order_id = fields.IntField()
    is_leader = fields.BooleanField(default=False)
    paid = fields.BooleanField(default=False)
    joined_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "group_member"
        unique_together = (("group", "user"),)
        indexes = (("order_id",),)  # a payment marks its member paid by the order


class OfferAllowance(Model):
    # Units a user holds or bought under one offer; capped by per_user_limit
    # with a conditional update, so parallel requests cannot exceed it.
    id = fields.IntField(primary_key=True)
    group_buy: fields.ForeignKeyRelation[GroupBuy] = fields.ForeignKeyField(
        "pintuan.GroupBuy", related_name="allowances", on_delete=fields.CASCADE
    )
    group_buy_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="allowances", on_delete=fields.CASCADE
    )
    user_id: int
    quantity = fields.IntField(default=0)

    class Meta:
        table = "offer_allowance"
        unique_together = (("group_buy", "user"),)

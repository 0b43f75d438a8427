"""Commission plans per merchant, versioned; members' tiers and their promotions."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from pintuan.accounts.models import Merchant, User
from pintuan.catalog.models import Variant
from pintuan.referrals.terms import PlanKind


class PlanStatus(StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"


# Model docstrings would become SQL table comments, which the SQLite schema
# editor does not escape; explanations live in comments instead.


class CommissionPlan(Model):
    # One row per version. A DRAFT becomes ACTIVE once, at active_from, and never
    # changes again: orders paid at time t settle under the ACTIVE version with the
    # latest active_from <= t. terms holds terms_to_json(...) of the validated terms.
    id = fields.IntField(primary_key=True)
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "pintuan.Merchant", related_name="commission_plans", on_delete=fields.RESTRICT
    )
    merchant_id: int
    version = fields.IntField()
    kind = fields.CharEnumField(PlanKind, max_length=16)
    status = fields.CharEnumField(PlanStatus, max_length=8, default=PlanStatus.DRAFT)
    currency = fields.CharField(max_length=3)
    max_levels = fields.IntField()
    terms: dict[str, Any] = fields.JSONField()
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="commission_plans", null=True, on_delete=fields.RESTRICT
    )
    created_by_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    active_from = fields.DatetimeField(null=True)

    class Meta:
        table = "commission_plan"
        unique_together = (("merchant", "version"),)
        indexes = (("merchant_id", "status", "active_from"),)


class PlanMember(Model):
    # A user's rank in a merchant's plan of one kind: an OwnerTier or a ResellerLevel value.
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="plan_memberships", on_delete=fields.RESTRICT
    )
    user_id: int
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "pintuan.Merchant", related_name="plan_members", on_delete=fields.RESTRICT
    )
    merchant_id: int
    kind = fields.CharEnumField(PlanKind, max_length=16)
    rank = fields.CharField(max_length=16)
    joined_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "plan_member"
        unique_together = (("user", "merchant", "kind"),)
        indexes = (("merchant_id", "kind", "user_id"),)


class TierPromotion(Model):
    # Every promotion, with the team figures and plan version that earned it. Tiers
    # only go up, so a member's promotions read in order are their history.
    id = fields.IntField(primary_key=True)
    member: fields.ForeignKeyRelation[PlanMember] = fields.ForeignKeyField(
        "pintuan.PlanMember", related_name="promotions", on_delete=fields.RESTRICT
    )
    member_id: int
    from_rank = fields.CharField(max_length=16)
    to_rank = fields.CharField(max_length=16)
    team_size = fields.IntField()
    team_sales = fields.BigIntField()
    plan: fields.ForeignKeyRelation[CommissionPlan] = fields.ForeignKeyField(
        "pintuan.CommissionPlan", related_name="promotions", on_delete=fields.RESTRICT
    )
    plan_id: int
    promoted_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "tier_promotion"
        unique_together = (("member", "to_rank"),)


class ResellerPrice(Model):
    # The price a reseller sells a variant at through their own links, checked
    # against the plan's markup range when set.
    id = fields.IntField(primary_key=True)
    reseller: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="reseller_prices", on_delete=fields.RESTRICT
    )
    reseller_id: int
    variant: fields.ForeignKeyRelation[Variant] = fields.ForeignKeyField(
        "pintuan.Variant", related_name="reseller_prices", on_delete=fields.CASCADE
    )
    variant_id: int
    price = fields.IntField()
    currency = fields.CharField(max_length=3)
    plan: fields.ForeignKeyRelation[CommissionPlan] = fields.ForeignKeyField(
        "pintuan.CommissionPlan", related_name="reseller_prices", on_delete=fields.RESTRICT
    )
    plan_id: int
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "reseller_price"
        unique_together = (("reseller", "variant"),)

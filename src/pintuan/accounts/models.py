"""Accounts: users, the merchants they act for, refresh tokens and storefront API keys."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class ApiKeyKind(StrEnum):
    PUBLISHABLE = "PUBLISHABLE"
    SECRET = "SECRET"


class User(Model):
    # email is stored normalised (trimmed, lower-case) so uniqueness is case-insensitive.
    # inviter is set once at registration and never rewritten: the referral tree builds on it.
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    password_hash = fields.CharField(max_length=200)
    handle = fields.CharField(max_length=64, unique=True)
    display_name = fields.CharField(max_length=100)
    avatar_url = fields.CharField(max_length=500, null=True)
    invite_code = fields.CharField(max_length=16, unique=True)
    inviter: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="invitees", null=True, on_delete=fields.RESTRICT
    )
    inviter_id: int | None
    is_admin = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "app_user"


class Merchant(Model):
    id = fields.IntField(primary_key=True)
    handle = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=200)
    logo_url = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "merchant"


class MerchantStaff(Model):
    id = fields.IntField(primary_key=True)
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "pintuan.Merchant", related_name="staff", on_delete=fields.CASCADE
    )
    merchant_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="staff_of", on_delete=fields.CASCADE
    )
    user_id: int
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "merchant_staff"
        unique_together = (("merchant", "user"),)


class RefreshToken(Model):
    # Only a SHA-256 of the token is kept. Rotation marks a token used and issues
    # another in the same family; presenting a used token revokes the family.
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="refresh_tokens", on_delete=fields.CASCADE
    )
    user_id: int
    family = fields.CharField(max_length=32, db_index=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "refresh_token"


class ApiKey(Model):
    # The full key is shown once at creation; only its prefix and SHA-256 are kept.
    id = fields.IntField(primary_key=True)
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "pintuan.Merchant", related_name="api_keys", on_delete=fields.CASCADE
    )
    merchant_id: int
    kind = fields.CharEnumField(ApiKeyKind, max_length=16)
    name = fields.CharField(max_length=100)
    prefix = fields.CharField(max_length=16)
    key_hash = fields.CharField(max_length=64, unique=True)
    allowed_origins: list[str] = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_key"

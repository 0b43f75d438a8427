"""Merchant administration: merchants, their staff and their storefront API keys."""

from __future__ import annotations

from datetime import datetime

import strawberry

from pintuan.accounts import apikeys, merchants, users
from pintuan.accounts import models as account_models
from pintuan.accounts.graphql.loaders import account_loaders
from pintuan.accounts.graphql.users import User
from pintuan.accounts.models import ApiKeyKind
from pintuan.accounts.models import Merchant as MerchantModel
from pintuan.catalog.graphql.types import Merchant
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.graphql.context import Info
from pintuan.graphql.errors import UserError, user_errors
from pintuan.graphql.ids import NodeType, decode_id, to_global_id
from pintuan.graphql.node import Node
from pintuan.graphql.permissions import Admin, MerchantActor, SignedIn, allow, require_merchant

strawberry.enum(
    ApiKeyKind, description="PUBLISHABLE keys live in browsers; SECRET keys on servers."
)


@strawberry.type(description="A storefront's key; after creation only its prefix is ever shown.")
class ApiKey(Node):
    name: str
    kind: ApiKeyKind
    prefix: str
    allowed_origins: list[str]
    created_at: datetime
    revoked_at: datetime | None
    merchant_pk: strawberry.Private[int]

    @classmethod
    def of(cls, k: account_models.ApiKey) -> ApiKey:
        return cls(
            id=strawberry.ID(to_global_id(NodeType.API_KEY, k.id)),
            name=k.name,
            kind=k.kind,
            prefix=k.prefix,
            allowed_origins=k.allowed_origins,
            created_at=k.created_at,
            revoked_at=k.revoked_at,
            merchant_pk=k.merchant_id,
        )


@strawberry.input
class MerchantCreateInput:
    handle: str
    name: str
    logo_url: str | None = None


@strawberry.type
class MerchantPayload:
    merchant: Merchant | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(description="Name the new staff member by userId or by email.")
class MerchantStaffAddInput:
    merchant_id: strawberry.ID
    user_id: strawberry.ID | None = None
    email: str | None = None


@strawberry.type
class MerchantStaffAddPayload:
    merchant: Merchant | None = None
    user: User | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ApiKeyCreateInput:
    merchant_id: strawberry.ID
    kind: ApiKeyKind
    name: str
    allowed_origins: list[str] = strawberry.field(default_factory=list)


@strawberry.type
class ApiKeyCreatePayload:
    api_key: ApiKey | None = None
    key: str | None = strawberry.field(
        default=None, description="The full key. It is shown this once and never again."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ApiKeyRevokePayload:
    api_key: ApiKey | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


async def _merchant(info: Info, merchant_id: strawberry.ID) -> MerchantModel:
    """The merchant an input names, once the viewer is known to manage it."""
    pk = decode_id(merchant_id, NodeType.MERCHANT, "merchantId")
    require_merchant(info, pk)
    merchant = await merchants.merchant_by_id(pk)
    if merchant is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No such merchant.", "merchantId")
    return merchant


async def _staff_user(info: Info, input: MerchantStaffAddInput) -> account_models.User:
    if (input.user_id is None) == (input.email is None):
        raise DomainError(ErrorCode.INVALID, "Give exactly one of userId and email.", "userId")
    if input.user_id is not None:
        user = await account_loaders(info).user.load(
            decode_id(input.user_id, NodeType.USER, "userId")
        )
    else:
        user = await users.user_by_email(input.email or "")
    if user is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No such user.", "userId")
    return user


@strawberry.type
class MerchantAdminMutation:
    @strawberry.mutation(extensions=allow(Admin()))
    async def merchant_create(self, info: Info, input: MerchantCreateInput) -> MerchantPayload:
        try:
            merchant = await merchants.create_merchant(input.handle, input.name, input.logo_url)
        except DomainError as exc:
            return MerchantPayload(user_errors=user_errors(exc))
        return MerchantPayload(merchant=Merchant.of(merchant))

    @strawberry.mutation(
        extensions=allow(SignedIn()), description="Admins, or staff of that merchant."
    )
    async def merchant_staff_add(
        self, info: Info, input: MerchantStaffAddInput
    ) -> MerchantStaffAddPayload:
        try:
            merchant = await _merchant(info, input.merchant_id)
            user = await _staff_user(info, input)
            await merchants.add_staff(merchant, user)
        except DomainError as exc:
            return MerchantStaffAddPayload(user_errors=user_errors(exc))
        return MerchantStaffAddPayload(merchant=Merchant.of(merchant), user=User.of(user))

    @strawberry.mutation(extensions=allow(MerchantActor()))
    async def api_key_create(self, info: Info, input: ApiKeyCreateInput) -> ApiKeyCreatePayload:
        try:
            merchant = await _merchant(info, input.merchant_id)
            created = await apikeys.create_key(
                merchant.id, input.kind, input.name, input.allowed_origins
            )
        except DomainError as exc:
            return ApiKeyCreatePayload(user_errors=user_errors(exc))
        return ApiKeyCreatePayload(api_key=ApiKey.of(created.key), key=created.secret)

    @strawberry.mutation(extensions=allow(MerchantActor()))
    async def api_key_revoke(self, info: Info, id: strawberry.ID) -> ApiKeyRevokePayload:
        key = await apikeys.key_by_id(decode_id(id, NodeType.API_KEY))
        if key is not None:
            require_merchant(info, key.merchant_id)
        try:
            if key is None:
                raise DomainError(ErrorCode.NOT_FOUND, "No such API key.", "id")
            revoked = await apikeys.revoke_key(key)
        except DomainError as exc:
            return ApiKeyRevokePayload(user_errors=user_errors(exc))
        return ApiKeyRevokePayload(api_key=ApiKey.of(revoked))


@strawberry.type
class MerchantAdminQuery:
    @strawberry.field(
        extensions=allow(MerchantActor()), description="A merchant's keys, newest first."
    )
    async def api_keys(self, info: Info, merchant_id: strawberry.ID) -> list[ApiKey]:
        pk = decode_id(merchant_id, NodeType.MERCHANT, "merchantId")
        require_merchant(info, pk)
        return [ApiKey.of(k) for k in await apikeys.keys_of_merchant(pk)]

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
from pintuan.graphql.arguments import exactly_one
from pintuan.graphql.context import Info
from pintuan.graphql.ids import NodeType, decode_id, to_global_id
from pintuan.graphql.mutations import MutationPayload, found, mutation
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
class MerchantPayload(MutationPayload):
    merchant: Merchant | None = None


@strawberry.input(description="Name the new staff member by userId or by email.")
class MerchantStaffAddInput:
    merchant_id: strawberry.ID
    user_id: strawberry.ID | None = None
    email: str | None = None


@strawberry.type
class MerchantStaffAddPayload(MutationPayload):
    merchant: Merchant | None = None
    user: User | None = None


@strawberry.input
class ApiKeyCreateInput:
    merchant_id: strawberry.ID
    kind: ApiKeyKind
    name: str
    allowed_origins: list[str] = strawberry.field(default_factory=list)


@strawberry.type
class ApiKeyCreatePayload(MutationPayload):
    api_key: ApiKey | None = None
    key: str | None = strawberry.field(
        default=None, description="The full key. It is shown this once and never again."
    )


@strawberry.type
class ApiKeyRevokePayload(MutationPayload):
    api_key: ApiKey | None = None


async def managed_merchant(info: Info, merchant_id: strawberry.ID) -> MerchantModel:
    """The merchant an input names, once the viewer is known to manage it."""
    pk = decode_id(merchant_id, NodeType.MERCHANT, "merchantId")
    require_merchant(info, pk)
    return found(await merchants.merchant_by_id(pk), "merchant", "merchantId")


async def _staff_user(info: Info, input: MerchantStaffAddInput) -> account_models.User:
    named_by = exactly_one(info, {"userId": input.user_id, "email": input.email})
    if input.user_id is not None:
        user = await account_loaders(info).user.load(
            decode_id(input.user_id, NodeType.USER, "userId")
        )
    else:
        user = await users.user_by_email(input.email or "")
    return found(user, "user", named_by)


@strawberry.type
class MerchantAdminMutation:
    @mutation(Admin())
    async def merchant_create(self, info: Info, input: MerchantCreateInput) -> MerchantPayload:
        merchant = await merchants.create_merchant(input.handle, input.name, input.logo_url)
        return MerchantPayload(merchant=Merchant.of(merchant))

    @mutation(SignedIn(), description="Admins, or staff of that merchant.")
    async def merchant_staff_add(
        self, info: Info, input: MerchantStaffAddInput
    ) -> MerchantStaffAddPayload:
        merchant = await managed_merchant(info, input.merchant_id)
        user = await _staff_user(info, input)
        await merchants.add_staff(merchant, user)
        return MerchantStaffAddPayload(merchant=Merchant.of(merchant), user=User.of(user))

    @mutation(MerchantActor())
    async def api_key_create(self, info: Info, input: ApiKeyCreateInput) -> ApiKeyCreatePayload:
        merchant = await managed_merchant(info, input.merchant_id)
        created = await apikeys.create_key(
            merchant.id, input.kind, input.name, input.allowed_origins
        )
        return ApiKeyCreatePayload(api_key=ApiKey.of(created.key), key=created.secret)

    @mutation(MerchantActor())
    async def api_key_revoke(self, info: Info, id: strawberry.ID) -> ApiKeyRevokePayload:
        key = found(await apikeys.key_by_id(decode_id(id, NodeType.API_KEY)), "API key", "id")
        require_merchant(info, key.merchant_id)
        revoked = await apikeys.revoke_key(key)
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

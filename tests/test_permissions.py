"""Every guarded operation, tried by each kind of caller: only the right role changes anything.

The operations are the schema's own guarded fields (those carrying a permission
extension): a guarded field added without an entry here fails the matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types.base import StrawberryObjectDefinition

from pintuan.accounts.models import ApiKey, ApiKeyKind, Merchant, MerchantStaff, User
from pintuan.catalog.models import Product, ProductTag, Variant
from pintuan.embed.models import WidgetSettings
from pintuan.graphql.ids import NodeType, from_global_id, to_global_id
from pintuan.graphql.permissions import Admin, MerchantActor, SignedIn
from pintuan.groupbuys import orders
from pintuan.groupbuys.models import Group, GroupBuy, GroupMember, OfferAllowance
from pintuan.groupbuys.order_models import Order, PaymentTransaction
from pintuan.referrals import ledger, members, plans, withdrawals
from pintuan.referrals.ledger_models import CommissionEntry, Withdrawal
from pintuan.referrals.models import Rebind, ShareLink
from pintuan.referrals.plan_models import CommissionPlan, PlanMember, ResellerPrice, TierPromotion
from pintuan.referrals.terms import LevelRule, ResellerLevel, reseller_terms
from pintuan.schema import build_schema
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient, empty_tables
from tests.groupbuy_ops import buy, start
from tests.ledger_ops import earning
from tests.test_commission_plans import reseller_input


@dataclass
class World:
    shop: Merchant
    product: Product
    variant: Variant
    key: ApiKey
    offer: GroupBuy  # not started yet: the merchant may still edit it
    selling: GroupBuy  # on sale, with an open group
    group_id: str
    order_id: str  # a paid order bought alone, ready to complete
    withdrawal_id: str  # requested by a third user, awaiting an admin
    draft_plan_id: str  # a draft after the shop's active reseller plan
    callers: dict[str, dict[str, str]]
    newbie_id: str  # a user no one invited, in no plan
    customer_id: str


@dataclass(frozen=True)
class Operation:
    name: str
    document: str
    variables: Callable[[World], dict[str, Any]]
    allowed: str  # the least caller role that may do it: signed_in, staff or admin


SOON = datetime.now(UTC) + timedelta(days=1)
LATER = SOON + timedelta(days=7)


def with_input(name: str, input_type: str, result: str) -> str:
    return (
        f"mutation($i: {input_type}!) {{ {name}(input: $i) {{ {result} userErrors {{ code }} }} }}"
    )


def paying(target: dict[str, Any]) -> dict[str, Any]:
    return {"i": target | {"quantity": 1, "idempotencyKey": "k", "paymentToken": "tok_visa"}}


OPERATIONS = [
    Operation(
        "shareLinkCreate",
        with_input("shareLinkCreate", "ShareLinkCreateInput", "shareLink { code }"),
        lambda w: {"i": {"productId": to_global_id(NodeType.PRODUCT, w.product.id)}},
        "signed_in",
    ),
    Operation(
        "referralRebind",
        with_input("referralRebind", "ReferralRebindInput", "user { id }"),
        lambda w: {"i": {"userId": w.newbie_id, "inviterId": w.customer_id, "reason": "support"}},
        "admin",
    ),
    Operation(
        "merchantCreate",
        with_input("merchantCreate", "MerchantCreateInput", "merchant { id }"),
        lambda w: {"i": {"handle": "new-shop", "name": "New Shop"}},
        "admin",
    ),
    Operation(
        "merchantStaffAdd",
        with_input("merchantStaffAdd", "MerchantStaffAddInput", "user { id }"),
        lambda w: {
            "i": {
                "merchantId": to_global_id(NodeType.MERCHANT, w.shop.id),
                "email": "newbie@example.com",
            }
        },
        "staff",
    ),
    Operation(
        "productCreate",
        with_input("productCreate", "ProductCreateInput", "product { id }"),
        lambda w: {
            "i": {
                "merchantId": to_global_id(NodeType.MERCHANT, w.shop.id),
                "handle": "fresh",
                "title": "Fresh",
            }
        },
        "staff",
    ),
    Operation(
        "productUpdate",
        with_input("productUpdate", "ProductUpdateInput", "product { id }"),
        lambda w: {
            "i": {
                "id": to_global_id(NodeType.PRODUCT, w.product.id),
                "title": "Renamed",
                "tags": ["x"],
            }
        },
        "staff",
    ),
    Operation(
        "productArchive",
        "mutation($id: ID!) { productArchive(id: $id) { product { id } userErrors { code } } }",
        lambda w: {"id": to_global_id(NodeType.PRODUCT, w.product.id)},
        "staff",
    ),
    Operation(
        "variantCreate",
        with_input("variantCreate", "VariantCreateInput", "variant { id }"),
        lambda w: {
            "i": {
                "productId": to_global_id(NodeType.PRODUCT, w.product.id),
                "sku": "new-sku",
                "title": "New",
                "price": {"amount": 999, "currency": "CNY"},
            }
        },
        "staff",
    ),
    Operation(
        "variantUpdate",
        with_input("variantUpdate", "VariantUpdateInput", "variant { id }"),
        lambda w: {
            "i": {
                "id": to_global_id(NodeType.VARIANT, w.variant.id),
                "price": {"amount": 1, "currency": "CNY"},
            }
        },
        "staff",
    ),
    Operation(
        "stockAdjust",
        with_input("stockAdjust", "StockAdjustInput", "variant { id }"),
        lambda w: {"i": {"variantId": to_global_id(NodeType.VARIANT, w.variant.id), "delta": 5}},
        "staff",
    ),
    Operation(
        "apiKeyCreate",
        with_input("apiKeyCreate", "ApiKeyCreateInput", "key"),
        lambda w: {
            "i": {
                "merchantId": to_global_id(NodeType.MERCHANT, w.shop.id),
                "kind": "SECRET",
                "name": "srv",
            }
        },
        "staff",
    ),
    Operation(
        "widgetSettingsUpdate",
        with_input(
            "widgetSettingsUpdate", "WidgetSettingsUpdateInput", "widgetSettings { defaultLocale }"
        ),
        lambda w: {
            "i": {"merchantId": to_global_id(NodeType.MERCHANT, w.shop.id), "defaultLocale": "EN"}
        },
        "staff",
    ),
    Operation(
        "apiKeyRevoke",
        "mutation($id: ID!) { apiKeyRevoke(id: $id) { apiKey { id } userErrors { code } } }",
        lambda w: {"id": to_global_id(NodeType.API_KEY, w.key.id)},
        "staff",
    ),
    Operation(
        "groupBuyCreate",
        with_input("groupBuyCreate", "GroupBuyCreateInput", "groupBuy { id }"),
        lambda w: {
            "i": {
                "variantId": to_global_id(NodeType.VARIANT, w.variant.id),
                "groupPrice": 1,
                "groupSize": 2,
                "startsAt": SOON.isoformat(),
                "endsAt": LATER.isoformat(),
                "stockLimit": 5,
            }
        },
        "staff",
    ),
    Operation(
        "groupBuyUpdate",
        with_input("groupBuyUpdate", "GroupBuyUpdateInput", "groupBuy { id }"),
        lambda w: {"i": {"id": to_global_id(NodeType.GROUP_BUY, w.offer.id), "stockLimit": 9}},
        "staff",
    ),
    Operation(
        "groupBuyCancel",
        "mutation($id: ID!) { groupBuyCancel(id: $id) { groupBuy { id } userErrors { code } } }",
        lambda w: {"id": to_global_id(NodeType.GROUP_BUY, w.offer.id)},
        "staff",
    ),
    Operation(
        "apiKeys",
        "query($m: ID!) { apiKeys(merchantId: $m) { prefix } }",
        lambda w: {"m": to_global_id(NodeType.MERCHANT, w.shop.id)},
        "staff",
    ),
    Operation(
        "merchantOrders",
        "query($m: ID!) { merchantOrders(merchantId: $m) { edges { node { id } } } }",
        lambda w: {"m": to_global_id(NodeType.MERCHANT, w.shop.id)},
        "staff",
    ),
    Operation(
        "orderComplete",
        "mutation($id: ID!) { orderComplete(id: $id) { order { id } userErrors { code } } }",
        lambda w: {"id": w.order_id},
        "staff",
    ),
    Operation(
        "commissionPlanCreate",
        with_input("commissionPlanCreate", "CommissionPlanInput", "commissionPlan { id }"),
        lambda w: {"i": reseller_input(w.shop)},
        "staff",
    ),
    Operation(
        "commissionPlanPublish",
        with_input("commissionPlanPublish", "CommissionPlanInput", "commissionPlan { id }"),
        lambda w: {"i": reseller_input(w.shop)},
        "staff",
    ),
    Operation(
        "commissionPlanActivate",
        "mutation($id: ID!) { commissionPlanActivate(id: $id) { commissionPlan { id } "
        "userErrors { code } } }",
        lambda w: {"id": w.draft_plan_id},
        "staff",
    ),
    Operation(
        "planMemberEnroll",
        with_input("planMemberEnroll", "PlanMemberEnrollInput", "member { joinedAt }"),
        lambda w: {
            "i": {
                "merchantId": to_global_id(NodeType.MERCHANT, w.shop.id),
                "userId": w.newbie_id,
                "tier": "OWNER",
            }
        },
        "staff",
    ),
    Operation(
        "commissionPlans",
        "query($m: ID!) { commissionPlans(merchantId: $m) { edges { node { id } } } }",
        lambda w: {"m": to_global_id(NodeType.MERCHANT, w.shop.id)},
        "staff",
    ),
    Operation(
        "referralTree",
        "query($u: ID!, $m: ID) { referralTree(userId: $u, merchantId: $m) { depth "
        "levels { level nodes { edges { node { level } } } } } }",
        lambda w: {"u": w.customer_id, "m": to_global_id(NodeType.MERCHANT, w.shop.id)},
        "staff",
    ),
    Operation(
        "resellerPriceSet",
        with_input("resellerPriceSet", "ResellerPriceSetInput", "resellerPrice { updatedAt }"),
        lambda w: {"i": {"variantId": to_global_id(NodeType.VARIANT, w.variant.id), "price": 1250}},
        "signed_in",
    ),
    Operation(
        "groupStart",
        with_input("groupStart", "GroupStartInput", "order { id }"),
        lambda w: paying({"groupBuyId": to_global_id(NodeType.GROUP_BUY, w.selling.id)}),
        "signed_in",
    ),
    Operation(
        "groupJoin",
        with_input("groupJoin", "GroupJoinInput", "order { id }"),
        lambda w: paying({"groupId": w.group_id}),
        "signed_in",
    ),
    Operation(
        "orderCreate",
        with_input("orderCreate", "OrderCreateInput", "order { id }"),
        lambda w: paying({"variantId": to_global_id(NodeType.VARIANT, w.selling.variant_id)}),
        "signed_in",
    ),
    Operation(
        "withdrawalRequest",
        'mutation { withdrawalRequest(amount: 1000, idempotencyKey: "k") { '
        "withdrawal { id } userErrors { code } } }",
        lambda w: {},
        "signed_in",
    ),
    Operation(
        "withdrawalMarkPaid",
        "mutation($id: ID!) { withdrawalMarkPaid(id: $id) { withdrawal { id } "
        "userErrors { code } } }",
        lambda w: {"id": w.withdrawal_id},
        "admin",
    ),
    Operation(
        "withdrawalReject",
        'mutation($id: ID!) { withdrawalReject(id: $id, reason: "No.") { withdrawal { id } '
        "userErrors { code } } }",
        lambda w: {"id": w.withdrawal_id},
        "admin",
    ),
    Operation(
        "withdrawals",
        "{ withdrawals { edges { node { id } } } }",
        lambda w: {},
        "admin",
    ),
]

# Which least role each permission class lets an entry claim: merchant staff are
# checked against the object after MerchantActor (or SignedIn) lets them in.
ROLES_ADMITTED: dict[type[BasePermission], set[str]] = {
    Admin: {"admin"},
    MerchantActor: {"staff"},
    SignedIn: {"signed_in", "staff"},
}


def guarded_fields(settings: Settings) -> dict[str, list[type[BasePermission]]]:
    """Each field of the schema with a permission extension: "Type.field" -> its classes."""
    schema = build_schema(settings)
    found = {}
    for type_name, defined in schema.schema_converter.type_map.items():
        if not isinstance(defined.definition, StrawberryObjectDefinition):
            continue
        for field in defined.definition.fields:
            guards = [
                type(permission)
                for extension in field.extensions
                if isinstance(extension, PermissionExtension)
                for permission in extension.permissions
            ]
            if guards:
                found[f"{type_name}.{schema.config.name_converter.get_graphql_name(field)}"] = (
                    guards
                )
    return found


def entry_name(operation: Operation) -> str:
    root = "Mutation" if operation.document.startswith("mutation") else "Query"
    return f"{root}.{operation.name}"


def test_every_guarded_field_of_the_schema_has_an_entry(settings: Settings) -> None:
    guarded = guarded_fields(settings)
    entries = {entry_name(o): o for o in OPERATIONS}
    assert sorted(set(guarded) - set(entries)) == [], "guarded fields with no entry"
    assert sorted(set(entries) - set(guarded)) == [], "entries for fields no longer guarded"
    for name, guards in guarded.items():
        for guard in guards:
            assert entries[name].allowed in ROLES_ADMITTED[guard], name


async def build_world(settings: Settings, gql: GraphQLClient) -> World:
    shop = await factories.merchant(handle="shop")
    other_shop = await factories.merchant(handle="other-shop")
    product = await factories.product(shop)
    variant = await Variant.get(product_id=product.id)
    key = await ApiKey.create(
        merchant=shop, kind=ApiKeyKind.SECRET, name="k", prefix="sk_x", key_hash="0" * 64
    )
    offer = await GroupBuy.create(
        merchant=shop,
        product=product,
        variant=variant,
        solo_price=1000,
        group_price=800,
        currency="CNY",
        group_size=3,
        duration_seconds=3600,
        starts_at=SOON,
        ends_at=LATER,
        per_user_limit=1,
        stock_limit=5,
    )
    selling = await factories.offer(shop, group_size=5)
    shopper = factories.bearer(await factories.user(), settings)
    group_id = (await start(gql, shopper, selling.id))["group"]["id"]
    order_id = (await buy(gql, shopper, selling.variant_id))["order"]["id"]
    newbie = await factories.user("newbie@example.com")
    accounts = {
        "customer": await factories.user(),
        "other_staff": await factories.user(staff_of=other_shop),
        "staff": await factories.user(staff_of=shop),
        "admin": await factories.user(admin=True),
    }
    callers: dict[str, dict[str, str]] = {"anonymous": {}} | {
        role: factories.bearer(account, settings) for role, account in accounts.items()
    }
    withdrawal_id = await _earnings(
        shopper, selling.variant_id, [accounts["customer"], accounts["admin"]], settings, gql
    )
    terms = reseller_terms(2_000, 3_000, 0, [LevelRule(level, 1) for level in ResellerLevel])
    await plans.publish_plan(shop.id, terms, "CNY", 3, None)
    draft = await plans.create_plan(shop.id, terms, "CNY", 2, None)
    for role in ("customer", "admin"):
        await members.enroll(accounts[role].id, shop.id, ResellerLevel.V1)
    draft_id = to_global_id(NodeType.COMMISSION_PLAN, draft.id)
    return World(
        shop,
        product,
        variant,
        key,
        offer,
        selling,
        group_id,
        order_id,
        withdrawal_id,
        draft_id,
        callers,
        to_global_id(NodeType.USER, newbie.id),
        to_global_id(NodeType.USER, accounts["customer"].id),
    )


async def _earnings(
    shopper: dict[str, str],
    variant_id: int,
    earners: list[User],
    settings: Settings,
    gql: GraphQLClient,
) -> str:
    """Available commissions for ``earners`` and a third user, who asks for a withdrawal."""
    requester = await factories.user()
    order_pk = from_global_id((await buy(gql, shopper, variant_id))["order"]["id"])[1]
    earnings = [earning(u, 1000, rule="r") for u in [*earners, requester]]
    await ledger.post_earnings(order_pk, earnings)
    completed = await orders.complete(order_pk)
    await ledger.on_order_completed(order_pk)
    assert completed.completed_at is not None
    freeze = settings.commission_freeze_seconds
    await ledger.release_due(completed.completed_at + timedelta(seconds=freeze), freeze)
    request = withdrawals.WithdrawalRequest(requester.id, 1000, "CNY", "k")
    withdrawal = await withdrawals.request_withdrawal(request, settings.withdrawal_minimum)
    return to_global_id(NodeType.WITHDRAWAL, withdrawal.id)


async def snapshot() -> list[Any]:
    tables = (
        Merchant,
        MerchantStaff,
        Product,
        ProductTag,
        Variant,
        ApiKey,
        User,
        GroupBuy,
        Group,
        GroupMember,
        OfferAllowance,
        Order,
        PaymentTransaction,
        CommissionEntry,
        Withdrawal,
        Rebind,
        ShareLink,
        CommissionPlan,
        PlanMember,
        WidgetSettings,
        TierPromotion,
        ResellerPrice,
    )
    return [sorted(map(str, await model.all().values())) for model in tables]


EXPECTED_REFUSAL = {
    "anonymous": "UNAUTHENTICATED",
    "customer": "FORBIDDEN",
    "other_staff": "FORBIDDEN",
    "staff": "FORBIDDEN",  # only for admin-only operations
}
REFUSED = {
    "signed_in": ["anonymous"],
    "staff": ["anonymous", "customer", "other_staff"],
    "admin": ["anonymous", "customer", "other_staff", "staff"],
}
# The caller who stands for each least role.
CALLER = {"signed_in": "customer", "staff": "staff", "admin": "admin"}


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: o.name)
async def test_wrong_callers_are_refused_and_nothing_changes(
    gql: GraphQLClient, settings: Settings, operation: Operation
) -> None:
    world = await build_world(settings, gql)
    before = await snapshot()

    for caller in REFUSED[operation.allowed]:
        body = await gql(operation.document, operation.variables(world), world.callers[caller])
        assert body["data"] is None or body["data"][operation.name] is None, caller
        assert body["errors"][0]["extensions"]["code"] == EXPECTED_REFUSAL[caller], caller

    assert await snapshot() == before


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: o.name)
async def test_the_right_role_succeeds(
    gql: GraphQLClient, settings: Settings, operation: Operation
) -> None:
    for caller in dict.fromkeys([CALLER[operation.allowed], "admin"]):
        await empty_tables()  # a new world per caller: one caller's change cannot collide
        world = await build_world(settings, gql)
        before = await snapshot()
        body = await gql(operation.document, operation.variables(world), world.callers[caller])
        assert "errors" not in body, (caller, body)
        result = body["data"][operation.name]
        if isinstance(result, dict):
            assert result.get("userErrors", []) == [], (caller, result)
        if operation.document.startswith("mutation"):
            assert await snapshot() != before, caller

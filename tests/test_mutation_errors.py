"""How mutations refuse: one mechanism, one rule, and every code a member of an enum.

The rule (``pintuan.graphql.mutations``): a mutation that was understood and
allowed refuses in its payload's ``userErrors``; malformed requests, missing
rights, limits and faults are top-level errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    get_named_type,
)
from strawberry.types.base import StrawberryObjectDefinition

from pintuan.accounts.models import ApiKey, MerchantStaff
from pintuan.catalog.models import Product, Variant
from pintuan.communities import communities
from pintuan.communities.members import join as join_community
from pintuan.communities.models import Community, CommunityKind, Invite, Member, Post
from pintuan.core.errors import ApiErrorCode, ErrorCode
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.graphql.mutations import UserErrors
from pintuan.groupbuys.models import Group, GroupBuy
from pintuan.groupbuys.order_models import Order
from pintuan.referrals.ledger_models import Withdrawal
from pintuan.schema import build_schema as build_pintuan_schema
from pintuan.schema import export_sdl
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient
from tests.test_commission_plans import RESELLER_INPUT

README = Path(__file__).resolve().parents[1] / "README.md"
MISSING = 987_654
PAY = {"idempotencyKey": "k-1", "paymentToken": "tok_ok"}


def _sdl_schema() -> GraphQLSchema:
    return build_schema(export_sdl())


def _mutation_fields() -> dict[str, Any]:
    mutation = _sdl_schema().mutation_type
    assert mutation is not None
    return dict(mutation.fields)


def test_every_mutation_returns_a_payload_with_user_errors() -> None:
    for name, field in _mutation_fields().items():
        payload = get_named_type(field.type)
        assert isinstance(payload, GraphQLObjectType), name
        assert [i.name for i in payload.interfaces] == ["MutationPayload"], name


def test_every_mutation_reports_domain_errors_through_the_one_extension() -> None:
    schema = build_pintuan_schema(Settings())
    mutation = schema.get_type_by_name("Mutation")
    assert isinstance(mutation, StrawberryObjectDefinition)
    without = [
        f.python_name
        for f in mutation.fields
        if not any(isinstance(e, UserErrors) for e in f.extensions)
    ]
    assert mutation.fields
    assert without == []


def _id_arguments() -> set[tuple[str, str]]:
    """(mutation, argument) for every ID a mutation takes, directly or in its input."""
    found = set()
    for name, field in _mutation_fields().items():
        for arg_name, arg in field.args.items():
            arg_type = get_named_type(arg.type)
            if arg_type.name == "ID":
                found.add((name, arg_name))
            elif isinstance(arg_type, GraphQLInputObjectType):
                for input_name, input_field in arg_type.fields.items():
                    if get_named_type(input_field.type).name == "ID":
                        found.add((name, input_name))
    return found


@dataclass(frozen=True)
class Store:
    """What the NOT_FOUND cases need to exist, so only the named argument names nothing."""

    merchant: str
    user: str
    product: str
    variant: str
    community: str  # a public community: the viewer of a "member" case is an active member
    post: str  # a post of the community's owner


def missing(node: NodeType) -> str:
    return to_global_id(node, MISSING)


ADMITTING_NOTHING = {
    "membership": "WITH_PURCHASE",
    "admittingProductIds": [to_global_id(NodeType.PRODUCT, MISSING)],
}


def _attaching(s: Store, field: str, node: NodeType) -> dict[str, Any]:
    """A post in the store's community attaching a missing ``node``."""
    return {"input": {"communityId": s.community, "text": "t", field: missing(node)}}


# (mutation, the argument naming nothing) -> (who asks, the arguments); a new ID
# argument of any mutation fails the completeness test until it has a case here.
Arguments = Callable[[Store], dict[str, Any]]
CASES: dict[tuple[str, str], tuple[str, Arguments]] = {
    ("productCreate", "merchantId"): (
        "admin",
        lambda s: {
            "input": {"merchantId": missing(NodeType.MERCHANT), "handle": "h", "title": "T"}
        },
    ),
    ("productUpdate", "id"): ("admin", lambda s: {"input": {"id": missing(NodeType.PRODUCT)}}),
    ("productArchive", "id"): ("admin", lambda s: {"id": missing(NodeType.PRODUCT)}),
    ("variantCreate", "productId"): (
        "admin",
        lambda s: {
            "input": {
                "productId": missing(NodeType.PRODUCT),
                "sku": "s",
                "title": "T",
                "price": {"amount": 100, "currency": "CNY"},
            }
        },
    ),
    ("variantUpdate", "id"): ("admin", lambda s: {"input": {"id": missing(NodeType.VARIANT)}}),
    ("stockAdjust", "variantId"): (
        "admin",
        lambda s: {"input": {"variantId": missing(NodeType.VARIANT), "delta": 1}},
    ),
    ("merchantStaffAdd", "merchantId"): (
        "admin",
        lambda s: {"input": {"merchantId": missing(NodeType.MERCHANT), "userId": s.user}},
    ),
    ("merchantStaffAdd", "userId"): (
        "admin",
        lambda s: {"input": {"merchantId": s.merchant, "userId": missing(NodeType.USER)}},
    ),
    ("apiKeyCreate", "merchantId"): (
        "admin",
        lambda s: {
            "input": {"merchantId": missing(NodeType.MERCHANT), "kind": "SECRET", "name": "n"}
        },
    ),
    ("apiKeyRevoke", "id"): ("admin", lambda s: {"id": missing(NodeType.API_KEY)}),
    ("widgetSettingsUpdate", "merchantId"): (
        "admin",
        lambda s: {"input": {"merchantId": missing(NodeType.MERCHANT), "defaultLocale": "EN"}},
    ),
    ("groupBuyCreate", "variantId"): (
        "admin",
        lambda s: {
            "input": {
                "variantId": missing(NodeType.VARIANT),
                "groupPrice": 800,
                "groupSize": 3,
                "startsAt": "2030-01-01T00:00:00Z",
                "endsAt": "2030-01-02T00:00:00Z",
                "stockLimit": 10,
            }
        },
    ),
    ("groupBuyUpdate", "id"): ("admin", lambda s: {"input": {"id": missing(NodeType.GROUP_BUY)}}),
    ("groupBuyCancel", "id"): ("admin", lambda s: {"id": missing(NodeType.GROUP_BUY)}),
    ("orderComplete", "id"): ("admin", lambda s: {"id": missing(NodeType.ORDER)}),
    ("withdrawalMarkPaid", "id"): ("admin", lambda s: {"id": missing(NodeType.WITHDRAWAL)}),
    ("withdrawalReject", "id"): (
        "admin",
        lambda s: {"id": missing(NodeType.WITHDRAWAL), "reason": "No such account."},
    ),
    ("groupStart", "groupBuyId"): (
        "customer",
        lambda s: {"input": {"groupBuyId": missing(NodeType.GROUP_BUY), **PAY}},
    ),
    ("groupJoin", "groupId"): (
        "customer",
        lambda s: {"input": {"groupId": missing(NodeType.GROUP), **PAY}},
    ),
    ("orderCreate", "variantId"): (
        "customer",
        lambda s: {"input": {"variantId": missing(NodeType.VARIANT), **PAY}},
    ),
    ("orderCreate", "groupBuyId"): (
        "customer",
        lambda s: {
            "input": {"variantId": s.variant, "groupBuyId": missing(NodeType.GROUP_BUY), **PAY}
        },
    ),
    ("referralRebind", "userId"): (
        "admin",
        lambda s: {"input": {"userId": missing(NodeType.USER), "inviterId": s.user, "reason": "r"}},
    ),
    ("referralRebind", "inviterId"): (
        "admin",
        lambda s: {"input": {"userId": s.user, "inviterId": missing(NodeType.USER), "reason": "r"}},
    ),
    ("shareLinkCreate", "productId"): (
        "customer",
        lambda s: {"input": {"productId": missing(NodeType.PRODUCT)}},
    ),
    ("shareLinkCreate", "groupBuyId"): (
        "customer",
        lambda s: {"input": {"groupBuyId": missing(NodeType.GROUP_BUY)}},
    ),
    ("shareLinkCreate", "groupId"): (
        "customer",
        lambda s: {"input": {"groupId": missing(NodeType.GROUP)}},
    ),
    ("commissionPlanCreate", "merchantId"): (
        "admin",
        lambda s: {"input": {"merchantId": missing(NodeType.MERCHANT), "reseller": RESELLER_INPUT}},
    ),
    ("commissionPlanPublish", "merchantId"): (
        "admin",
        lambda s: {"input": {"merchantId": missing(NodeType.MERCHANT), "reseller": RESELLER_INPUT}},
    ),
    ("commissionPlanActivate", "id"): (
        "admin",
        lambda s: {"id": missing(NodeType.COMMISSION_PLAN)},
    ),
    ("planMemberEnroll", "merchantId"): (
        "admin",
        lambda s: {
            "input": {"merchantId": missing(NodeType.MERCHANT), "userId": s.user, "tier": "OWNER"}
        },
    ),
    ("planMemberEnroll", "userId"): (
        "admin",
        lambda s: {
            "input": {"merchantId": s.merchant, "userId": missing(NodeType.USER), "tier": "OWNER"}
        },
    ),
    ("resellerPriceSet", "variantId"): (
        "customer",
        lambda s: {"input": {"variantId": missing(NodeType.VARIANT), "price": 1}},
    ),
    ("communityCreate", "admittingProductIds"): (
        "admin",
        lambda s: {"input": {"handle": "h", "name": "N", "kind": "DEALS"} | ADMITTING_NOTHING},
    ),
    ("communityUpdate", "admittingProductIds"): (
        "admin",
        lambda s: {"input": {"communityId": s.community} | ADMITTING_NOTHING},
    ),
    **{
        (name, "communityId"): (
            "customer",
            lambda s: {"input": {"communityId": missing(NodeType.COMMUNITY)}},
        )
        for name in ("communityUpdate", "communityJoin", "communityInviteCreate")
    },
    ("postCreate", "communityId"): (
        "customer",
        lambda s: {"input": {"communityId": missing(NodeType.COMMUNITY), "text": "t"}},
    ),
    ("communityMemberBan", "communityId"): (
        "admin",
        lambda s: {
            "input": {
                "communityId": missing(NodeType.COMMUNITY),
                "userId": s.user,
                "until": "2999-01-01T00:00:00Z",
            }
        },
    ),
    ("communityMemberBan", "userId"): (
        "admin",
        lambda s: {
            "input": {
                "communityId": s.community,
                "userId": missing(NodeType.USER),
                "until": "2999-01-01T00:00:00Z",
            }
        },
    ),
    ("communityInviteCreate", "inviteeId"): (
        "admin",
        lambda s: {"input": {"communityId": s.community, "inviteeId": missing(NodeType.USER)}},
    ),
    ("postCreate", "productId"): ("member", lambda s: _attaching(s, "productId", NodeType.PRODUCT)),
    ("postCreate", "groupId"): ("member", lambda s: _attaching(s, "groupId", NodeType.GROUP)),
    ("postCreate", "orderId"): ("member", lambda s: _attaching(s, "orderId", NodeType.ORDER)),
    ("postUpdate", "postId"): (
        "customer",
        lambda s: {"input": {"postId": missing(NodeType.POST), "text": "t"}},
    ),
    ("communityLeave", "id"): ("customer", lambda s: {"id": missing(NodeType.COMMUNITY)}),
    ("communityRemoveInactive", "id"): (
        "admin",
        lambda s: {"id": missing(NodeType.COMMUNITY), "days": 30},
    ),
    **{
        (name, "id"): ("admin", lambda s: {"id": missing(NodeType.COMMUNITY_MEMBER)})
        for name in ("communityMemberApprove", "communityMemberReject", "communityMemberRemove")
    },
    ("communityMemberSetRole", "id"): (
        "admin",
        lambda s: {"id": missing(NodeType.COMMUNITY_MEMBER), "role": "MODERATOR"},
    ),
    ("communityMemberSetTerm", "id"): (
        "admin",
        lambda s: {"id": missing(NodeType.COMMUNITY_MEMBER), "endsAt": "2999-01-01T00:00:00Z"},
    ),
    **{
        (name, "id"): ("admin", lambda s: {"id": missing(NodeType.POST)})
        for name in ("postDelete", "postPin", "postUnpin")
    },
}
_MISSING_POST = {"postId": missing(NodeType.POST)}
_MISSING_COMMENT = missing(NodeType.COMMENT)
CASES |= {
    ("commentCreate", "postId"): ("customer", lambda s: {"input": _MISSING_POST | {"text": "t"}}),
    ("commentCreate", "parentId"): (
        "member",
        lambda s: {"input": {"postId": s.post, "text": "t", "parentId": _MISSING_COMMENT}},
    ),
    ("commentEdit", "id"): ("customer", lambda s: {"id": _MISSING_COMMENT, "text": "t"}),
    ("commentDelete", "id"): ("customer", lambda s: {"id": _MISSING_COMMENT}),
    ("commentRemove", "commentId"): ("admin", lambda s: {"commentId": _MISSING_COMMENT}),
    ("reactionSet", "postId"): ("customer", lambda s: _MISSING_POST | {"kind": "LIKE"}),
    ("reactionRemove", "postId"): ("customer", lambda s: _MISSING_POST),
    ("follow", "userId"): ("customer", lambda s: {"userId": missing(NodeType.USER)}),
    ("unfollow", "userId"): ("customer", lambda s: {"userId": missing(NodeType.USER)}),
    ("reportCreate", "postId"): (
        "customer",
        lambda s: {"input": _MISSING_POST | {"reason": "SPAM"}},
    ),
    ("reportCreate", "commentId"): (
        "customer",
        lambda s: {"input": {"commentId": _MISSING_COMMENT, "reason": "SPAM"}},
    ),
    ("reportResolve", "id"): (
        "admin",
        lambda s: {"id": missing(NodeType.REPORT), "resolution": "DISMISS"},
    ),
}
# The conversation's mutations name their arguments: their documents in full.
SOCIAL_DOCUMENTS = {
    "commentCreate": "mutation($input: CommentCreateInput!) { commentCreate(input: $input) ",
    "commentEdit": "mutation($id: ID!, $text: String!) { commentEdit(id: $id, text: $text) ",
    "commentDelete": "mutation($id: ID!) { commentDelete(id: $id) ",
    "commentRemove": "mutation($commentId: ID!) { commentRemove(commentId: $commentId) ",
    "reactionSet": "mutation($postId: ID!, $kind: ReactionKind!) "
    "{ reactionSet(postId: $postId, kind: $kind) ",
    "reactionRemove": "mutation($postId: ID!) { reactionRemove(postId: $postId) ",
    "follow": "mutation($userId: ID!) { follow(userId: $userId) ",
    "unfollow": "mutation($userId: ID!) { unfollow(userId: $userId) ",
    "reportCreate": "mutation($input: ReportCreateInput!) { reportCreate(input: $input) ",
    "reportResolve": "mutation($id: ID!, $resolution: ReportResolution!) "
    "{ reportResolve(id: $id, resolution: $resolution) ",
}
# Names that are not IDs but name things the same way.
OTHER_NAMES: dict[tuple[str, str], tuple[str, Arguments]] = {
    ("merchantStaffAdd", "email"): (
        "admin",
        lambda s: {"input": {"merchantId": s.merchant, "email": "nobody@example.com"}},
    ),
    ("groupJoin", "shareCode"): ("customer", lambda s: {"input": {"shareCode": "NOPE0000", **PAY}}),
    ("shareVisit", "code"): ("customer", lambda s: {"code": "NOPE0000"}),
}
INPUT_TYPES = {
    "productCreate": "ProductCreateInput!",
    "productUpdate": "ProductUpdateInput!",
    "variantCreate": "VariantCreateInput!",
    "variantUpdate": "VariantUpdateInput!",
    "stockAdjust": "StockAdjustInput!",
    "merchantStaffAdd": "MerchantStaffAddInput!",
    "apiKeyCreate": "ApiKeyCreateInput!",
    "groupBuyCreate": "GroupBuyCreateInput!",
    "groupBuyUpdate": "GroupBuyUpdateInput!",
    "groupStart": "GroupStartInput!",
    "groupJoin": "GroupJoinInput!",
    "orderCreate": "OrderCreateInput!",
    "referralRebind": "ReferralRebindInput!",
    "shareLinkCreate": "ShareLinkCreateInput!",
    "commissionPlanCreate": "CommissionPlanInput!",
    "commissionPlanPublish": "CommissionPlanInput!",
    "resellerPriceSet": "ResellerPriceSetInput!",
    "planMemberEnroll": "PlanMemberEnrollInput!",
    "communityCreate": "CommunityCreateInput!",
    "communityUpdate": "CommunityUpdateInput!",
    "communityJoin": "CommunityJoinInput!",
    "communityMemberBan": "CommunityBanInput!",
    "communityInviteCreate": "CommunityInviteCreateInput!",
    "postCreate": "PostCreateInput!",
    "postUpdate": "PostUpdateInput!",
    "widgetSettingsUpdate": "WidgetSettingsUpdateInput!",
}


# Mutations taking more than an ID, with the types of their other arguments.
OTHER_ARGUMENTS = {
    "withdrawalReject": {"reason": "String!"},
    "communityMemberSetRole": {"role": "CommunityMemberRole!"},
    "communityMemberSetTerm": {"endsAt": "DateTime!"},
    "communityRemoveInactive": {"days": "Int!"},
}


def _document(mutation: str) -> str:
    if mutation in SOCIAL_DOCUMENTS:
        return SOCIAL_DOCUMENTS[mutation] + "{ userErrors { field code message } } }"
    if mutation in OTHER_ARGUMENTS:
        extra = OTHER_ARGUMENTS[mutation]
        declared = "".join(f", ${name}: {kind}" for name, kind in extra.items())
        passed = "".join(f", {name}: ${name}" for name in extra)
        return (
            f"mutation($id: ID!{declared}) {{ {mutation}(id: $id{passed}) "
            "{ userErrors { field code message } } }"
        )
    if mutation in INPUT_TYPES:
        return (
            f"mutation($input: {INPUT_TYPES[mutation]}) {{ {mutation}(input: $input) "
            "{ userErrors { field code message } } }"
        )
    if mutation == "shareVisit":
        return (
            "mutation($code: String!) { shareVisit(code: $code) "
            "{ userErrors { field code message } } }"
        )
    return f"mutation($id: ID!) {{ {mutation}(id: $id) {{ userErrors {{ field code message }} }} }}"


def test_every_id_argument_of_every_mutation_has_a_not_found_case() -> None:
    assert set(CASES) == _id_arguments()


async def _rows() -> list[int]:
    models = (
        Product,
        Variant,
        GroupBuy,
        Group,
        Order,
        ApiKey,
        MerchantStaff,
        Withdrawal,
        Community,
        Member,
        Post,
        Invite,
    )
    return [await model.all().count() for model in models]


async def _store() -> Store:
    shop = await factories.merchant()
    item = await factories.product(shop)
    variant = await Variant.get(product_id=item.id)
    person = await factories.user()
    now = datetime.now(UTC)
    club = await communities.create(
        person.id, "club", communities.Changes(name="Club", kind=CommunityKind.DEALS), now
    )
    return Store(
        merchant=to_global_id(NodeType.MERCHANT, shop.id),
        user=to_global_id(NodeType.USER, person.id),
        product=to_global_id(NodeType.PRODUCT, item.id),
        variant=to_global_id(NodeType.VARIANT, variant.id),
        community=to_global_id(NodeType.COMMUNITY, club.id),
        post=to_global_id(
            NodeType.POST,
            (
                await Post.create(
                    community_id=club.id, author_id=person.id, text="hi", created_at=now
                )
            ).id,
        ),
    )


@pytest.mark.parametrize(
    ("mutation", "argument"),
    [pytest.param(*key, id=f"{key[0]}.{key[1]}") for key in {**CASES, **OTHER_NAMES}],
)
async def test_an_argument_naming_nothing_is_a_not_found_user_error_and_changes_nothing(
    gql: GraphQLClient, settings: Settings, mutation: str, argument: str
) -> None:
    store = await _store()
    who, arguments = {**CASES, **OTHER_NAMES}[(mutation, argument)]
    viewer = await factories.user(admin=who == "admin")
    if who == "member":
        await join_community(await Community.get(handle="club"), viewer.id, None, datetime.now(UTC))
    before = await _rows()

    body = await gql(_document(mutation), arguments(store), factories.bearer(viewer, settings))

    assert "errors" not in body, body
    [error] = body["data"][mutation]["userErrors"]
    assert (error["field"], error["code"]) == (argument, "NOT_FOUND")
    assert error["message"].startswith("No ")
    assert await _rows() == before


async def test_a_malformed_or_foreign_id_in_a_mutation_stays_a_top_level_error(
    gql: GraphQLClient, settings: Settings
) -> None:
    admin = factories.bearer(await factories.user(admin=True), settings)
    document = _document("productArchive")

    malformed = await gql(document, {"id": "not an id"}, admin)
    foreign = await gql(document, {"id": to_global_id(NodeType.USER, 1)}, admin)

    for body, code in ((malformed, "INVALID_ID"), (foreign, "WRONG_ID_TYPE")):
        assert body["data"] is None
        [error] = body["errors"]
        assert error["extensions"] == {"code": code, "field": "id"}


async def test_arguments_that_exclude_each_other_are_a_user_error_in_a_mutation(
    gql: GraphQLClient, settings: Settings
) -> None:
    store = await _store()
    admin = factories.bearer(await factories.user(admin=True), settings)
    customer = factories.bearer(await factories.user(), settings)
    staff = _document("merchantStaffAdd")
    join = _document("groupJoin")
    group = to_global_id(NodeType.GROUP, MISSING)
    before = await _rows()

    staff_bodies = [
        await gql(staff, {"input": {"merchantId": store.merchant, **extra}}, admin)
        for extra in ({}, {"userId": store.user, "email": "a@example.com"})
    ]
    join_bodies = [
        await gql(join, {"input": {**PAY, **extra}}, customer)
        for extra in ({}, {"groupId": group, "shareCode": "NOPE0000"})
    ]

    for body in staff_bodies:
        assert body["data"]["merchantStaffAdd"]["userErrors"] == [
            {
                "field": "userId",
                "code": "INVALID",
                "message": "Give exactly one of `userId` and `email`.",
            }
        ]
    for body in join_bodies:
        assert body["data"]["groupJoin"]["userErrors"] == [
            {
                "field": "groupId",
                "code": "INVALID",
                "message": "Give exactly one of `groupId` and `shareCode`.",
            }
        ]
    assert await _rows() == before


async def test_arguments_that_exclude_each_other_are_a_top_level_error_in_a_query(
    gql: GraphQLClient,
) -> None:
    neither = await gql("{ group { id } }")
    both = await gql('{ group(id: "R3JvdXA6MQ", shareCode: "NOPE0000") { id } }')

    for body in (neither, both):
        assert body["data"] == {"group": None}
        [error] = body["errors"]
        assert error["message"] == "Give exactly one of `id` and `shareCode`."
        assert error["extensions"] == {"code": "INVALID_ARGUMENTS", "field": "id"}


def test_the_schema_error_code_enum_is_the_python_enum() -> None:
    enum = _sdl_schema().get_type("ErrorCode")
    assert isinstance(enum, GraphQLEnumType)
    assert list(enum.values) == [code.value for code in ErrorCode]


def _documented_codes(table_heading: str) -> list[str]:
    """The codes in the first column of the README's table under ``table_heading``."""
    section = README.read_text().split("### Error codes", 1)[1].split("\n## ", 1)[0]
    table = section.split(table_heading, 1)[1].split("\n\n", 2)[1]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return [code for row in rows for code in re.findall(r"`([A-Z_]+)`", row.split(" | ")[0])]


@pytest.mark.parametrize(
    ("heading", "enum"),
    [("Top-level codes:", ApiErrorCode), ("`userErrors` codes:", ErrorCode)],
)
def test_every_code_is_documented_in_the_readme_once(
    heading: str, enum: type[ApiErrorCode] | type[ErrorCode]
) -> None:
    documented = _documented_codes(heading)
    assert sorted(documented) == sorted(code.value for code in enum)

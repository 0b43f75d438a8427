"""Commission plans through the API: publishing versions, refusals, versioning, reseller prices."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from pintuan.accounts.models import Merchant, User
from pintuan.catalog.models import Variant
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.referrals import members, plans
from pintuan.referrals.plan_models import CommissionPlan, PlanMember, ResellerPrice, TierPromotion
from pintuan.referrals.terms import (
    LevelRule,
    OwnerTier,
    PlanKind,
    ResellerLevel,
    SelfPurchaseMode,
    TierRule,
    reseller_terms,
    tiered_terms,
)
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient

PLAN_FIELDS = """id version kind status maxLevels activeFrom
  tiered { defaultRateBasisPoints selfPurchase teamShareBasisPoints
    productRates { productId rateBasisPoints }
    tiers { tier minTeamSize minTeamSales { amount } inviteReward { amount currency } } }
  reseller { minMarkupBasisPoints maxMarkupBasisPoints inviteShareBasisPoints
    inviteShareThreshold { amount } levels { level inviteQuota } }"""
PUBLISH = f"""mutation($i: CommissionPlanInput!) {{ commissionPlanPublish(input: $i) {{
  commissionPlan {{ {PLAN_FIELDS} }} userErrors {{ field code }} }} }}"""
CREATE = """mutation($i: CommissionPlanInput!) { commissionPlanCreate(input: $i) {
  commissionPlan { id version status } userErrors { field code } } }"""
ACTIVATE = """mutation($id: ID!) { commissionPlanActivate(id: $id) {
  commissionPlan { id version status } userErrors { field code } } }"""
IN_FORCE = """query($m: ID!, $at: DateTime) { commissionPlan(merchantId: $m, at: $at) {
  version tiered { defaultRateBasisPoints } } }"""
VERSIONS = """query($m: ID!) { commissionPlans(merchantId: $m, first: 10) {
  edges { node { version status } } } }"""
ENROLL = """mutation($i: PlanMemberEnrollInput!) { planMemberEnroll(input: $i) {
  member { user { id } tier level } userErrors { field code } } }"""
PRICE_SET = """mutation($i: ResellerPriceSetInput!) { resellerPriceSet(input: $i) {
  resellerPrice { price { amount } } userErrors { field code } } }"""

TIERS_INPUT = [
    {"tier": "OWNER", "inviteReward": 2_000},
    {"tier": "GOLD", "minTeamSize": 1, "minTeamSales": 50_000, "inviteReward": 10_000},
    {"tier": "SENIOR_GOLD", "minTeamSize": 50, "minTeamSales": 5_000_000, "inviteReward": 15_000},
]
RESELLER_INPUT: dict[str, Any] = {
    "minMarkupBasisPoints": 2_000,
    "maxMarkupBasisPoints": 3_000,
    "inviteShareThreshold": 100_000,
    "levels": [
        {"level": level, "inviteQuota": quota}
        for level, quota in zip(["V1", "V2", "V3", "V4", "V5"], [0, 2, 5, 20, 100], strict=True)
    ],
}

TERMS = reseller_terms(2_000, 3_000, 0, [LevelRule(level, 1) for level in ResellerLevel])
TIERED_TERMS = tiered_terms(
    1_000,
    [],
    SelfPurchaseMode.COMMISSION,
    [
        TierRule(OwnerTier.OWNER, 0, 0, 2_000),
        TierRule(OwnerTier.GOLD, 1, 50_000, 10_000),
        TierRule(OwnerTier.SENIOR_GOLD, 50, 5_000_000, 15_000),
    ],
)


def tiered_input(merchant: Merchant, rate: int = 1_000, **extra: Any) -> dict[str, Any]:
    terms = {"defaultRateBasisPoints": rate, "tiers": TIERS_INPUT, "selfPurchase": "COMMISSION"}
    terms |= extra
    return {"merchantId": to_global_id(NodeType.MERCHANT, merchant.id), "tiered": terms}


def reseller_input(merchant: Merchant, **extra: Any) -> dict[str, Any]:
    return {
        "merchantId": to_global_id(NodeType.MERCHANT, merchant.id),
        "reseller": RESELLER_INPUT | extra,
    }


async def staffed_shop(settings: Settings) -> tuple[Merchant, dict[str, str]]:
    shop = await factories.merchant()
    return shop, factories.bearer(await factories.user(staff_of=shop), settings)


async def test_staff_publish_a_plan_that_everyone_reads_as_in_force(
    gql: GraphQLClient, settings: Settings
) -> None:
    shop, staff = await staffed_shop(settings)
    tea = await factories.product(shop)
    rates = [{"productId": to_global_id(NodeType.PRODUCT, tea.id), "rateBasisPoints": 4_000}]

    publish = tiered_input(shop, productRates=rates, selfPurchase="DISCOUNT")
    body = await gql(PUBLISH, {"i": publish}, staff)

    payload = body["data"]["commissionPlanPublish"]
    assert payload["userErrors"] == []
    plan = payload["commissionPlan"]
    assert (plan["version"], plan["kind"], plan["status"], plan["maxLevels"]) == (
        1,
        "TIERED_OWNER",
        "ACTIVE",
        3,
    )
    assert plan["tiered"]["productRates"] == rates
    assert plan["tiered"]["selfPurchase"] == "DISCOUNT"
    assert plan["tiered"]["teamShareBasisPoints"] == 2_500
    assert plan["tiered"]["tiers"][1] == {
        "tier": "GOLD",
        "minTeamSize": 1,
        "minTeamSales": {"amount": 50_000},
        "inviteReward": {"amount": 10_000, "currency": "CNY"},
    }
    merchant_id = to_global_id(NodeType.MERCHANT, shop.id)
    public = await gql(
        "query($h: String!) { merchant(handle: $h) { commissionPlan { id version } } }",
        {"h": shop.handle},
    )
    assert public["data"]["merchant"]["commissionPlan"] == {"id": plan["id"], "version": 1}
    node = await gql("query($id: ID!) { node(id: $id) { id } }", {"id": plan["id"]})
    assert node["data"]["node"] == {"id": plan["id"]}
    in_force = await gql(IN_FORCE, {"m": merchant_id})
    assert in_force["data"]["commissionPlan"]["version"] == 1


REFUSALS: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "rate under 5%",
        {"rate": 499},
        "COMMISSION_RATE_OUT_OF_RANGE",
        "tiered.defaultRateBasisPoints",
    ),
    (
        "rate over 40%",
        {"rate": 4_001},
        "COMMISSION_RATE_OUT_OF_RANGE",
        "tiered.defaultRateBasisPoints",
    ),
    ("four levels", {"maxLevels": 4}, "DEPTH_ABOVE_CAP", "maxLevels"),
    ("no levels", {"maxLevels": 0}, "INVALID", "maxLevels"),
    (
        "promotion on headcount alone",
        {"tiers": [TIERS_INPUT[0], TIERS_INPUT[1] | {"minTeamSales": 0}, TIERS_INPUT[2]]},
        "HEADCOUNT_ONLY",
        "tiered.tiers.1.minTeamSales",
    ),
    ("a tier missing", {"tiers": TIERS_INPUT[:2]}, "INVALID", "tiered.tiers"),
    (
        "negative reward",
        {"tiers": [{"tier": "OWNER", "inviteReward": -1}, *TIERS_INPUT[1:]]},
        "INVALID",
        "tiered.tiers.0.inviteReward",
    ),
    (
        "team share over 100%",
        {"teamShareBasisPoints": 10_001},
        "INVALID",
        "tiered.teamShareBasisPoints",
    ),
    ("unknown currency", {"currency": "XXX"}, "UNSUPPORTED_CURRENCY", "currency"),
    ("both plans", {"both": True}, "INVALID", "tiered"),
    (
        "inverted reseller range",
        {"reseller": {"minMarkupBasisPoints": 3_001}},
        "MARKUP_RANGE_INVALID",
        "reseller.minMarkupBasisPoints",
    ),
    (
        "a level missing",
        {"reseller": {"levels": RESELLER_INPUT["levels"][:4]}},
        "INVALID",
        "reseller.levels",
    ),
]


def refused_input(shop: Merchant, case: dict[str, Any]) -> dict[str, Any]:
    if "reseller" in case:
        return reseller_input(shop, **case["reseller"])
    tiered = {k: v for k, v in case.items() if k not in ("rate", "maxLevels", "currency", "both")}
    data = tiered_input(shop, case.get("rate", 1_000), **tiered)
    if "maxLevels" in case:
        data["maxLevels"] = case["maxLevels"]
    if "currency" in case:
        data["currency"] = case["currency"]
    if "both" in case:
        data["reseller"] = RESELLER_INPUT
    return data


@pytest.mark.parametrize(("what", "case", "code", "field"), REFUSALS, ids=[r[0] for r in REFUSALS])
async def test_terms_out_of_bounds_are_refused_and_nothing_is_written(
    gql: GraphQLClient, settings: Settings, what: str, case: dict[str, Any], code: str, field: str
) -> None:
    shop, staff = await staffed_shop(settings)

    for document, name in ((PUBLISH, "commissionPlanPublish"), (CREATE, "commissionPlanCreate")):
        body = await gql(document, {"i": refused_input(shop, case)}, staff)
        assert body["data"][name] == {
            "commissionPlan": None,
            "userErrors": [{"field": field, "code": code}],
        }

    assert await CommissionPlan.all().count() == 0


async def test_a_rate_for_another_merchants_product_is_not_found(
    gql: GraphQLClient, settings: Settings
) -> None:
    shop, staff = await staffed_shop(settings)
    theirs = await factories.product(await factories.merchant())
    rates = [{"productId": to_global_id(NodeType.PRODUCT, theirs.id), "rateBasisPoints": 1_000}]

    body = await gql(PUBLISH, {"i": tiered_input(shop, productRates=rates)}, staff)

    assert body["data"]["commissionPlanPublish"]["userErrors"] == [
        {"field": "tiered.productRates.0.productId", "code": "NOT_FOUND"}
    ]


async def test_staff_of_another_merchant_cannot_publish(
    gql: GraphQLClient, settings: Settings
) -> None:
    shop = await factories.merchant()
    outsider = factories.bearer(await factories.user(staff_of=await factories.merchant()), settings)

    body = await gql(PUBLISH, {"i": tiered_input(shop)}, outsider)

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await CommissionPlan.all().count() == 0


async def test_drafts_are_numbered_activated_once_and_never_behind_the_active_one(
    gql: GraphQLClient, settings: Settings
) -> None:
    shop, staff = await staffed_shop(settings)
    merchant_id = to_global_id(NodeType.MERCHANT, shop.id)
    drafts = [
        (await gql(CREATE, {"i": tiered_input(shop)}, staff))["data"]["commissionPlanCreate"][
            "commissionPlan"
        ]
        for _ in range(2)
    ]
    assert [(d["version"], d["status"]) for d in drafts] == [(1, "DRAFT"), (2, "DRAFT")]
    assert (await gql(IN_FORCE, {"m": merchant_id}))["data"]["commissionPlan"] is None
    hidden = await gql("query($id: ID!) { node(id: $id) { id } }", {"id": drafts[0]["id"]})
    assert hidden["data"]["node"] is None  # a draft is not public

    active = (await gql(ACTIVATE, {"id": drafts[1]["id"]}, staff))["data"]["commissionPlanActivate"]
    again = (await gql(ACTIVATE, {"id": drafts[1]["id"]}, staff))["data"]["commissionPlanActivate"]
    older = (await gql(ACTIVATE, {"id": drafts[0]["id"]}, staff))["data"]["commissionPlanActivate"]

    assert active["commissionPlan"]["status"] == "ACTIVE"
    assert again["userErrors"] == [{"field": "id", "code": "PLAN_NOT_DRAFT"}]
    assert older["userErrors"] == [{"field": "id", "code": "PLAN_SUPERSEDED"}]
    listed = (await gql(VERSIONS, {"m": merchant_id}, staff))["data"]["commissionPlans"]["edges"]
    assert [e["node"] for e in listed] == [
        {"version": 2, "status": "ACTIVE"},
        {"version": 1, "status": "DRAFT"},
    ]


async def reseller_shop(gql: GraphQLClient, settings: Settings) -> tuple[Merchant, Variant, User]:
    shop, staff = await staffed_shop(settings)
    body = await gql(PUBLISH, {"i": reseller_input(shop)}, staff)
    assert body["data"]["commissionPlanPublish"]["userErrors"] == []
    variant = await Variant.get(product_id=(await factories.product(shop, prices=(999,))).id)
    reseller = await factories.user()
    await members.enroll(reseller.id, shop.id, ResellerLevel.V2)
    return shop, variant, reseller


async def test_a_reseller_sets_a_price_within_the_range_and_earns_the_markup(
    gql: GraphQLClient, settings: Settings
) -> None:
    _, variant, reseller = await reseller_shop(gql, settings)
    headers = factories.bearer(reseller, settings)
    variant_id = to_global_id(NodeType.VARIANT, variant.id)

    results = [
        (await gql(PRICE_SET, {"i": {"variantId": variant_id, "price": price}}, headers))["data"][
            "resellerPriceSet"
        ]
        for price in (1_198, 1_299, 1_298)  # ¥9.99 plus 20%-30%: 1,199 to 1,298
    ]

    refused = {
        "resellerPrice": None,
        "userErrors": [{"field": "price", "code": "RESELLER_PRICE_OUT_OF_RANGE"}],
    }
    assert results == [
        refused,
        refused,
        {"resellerPrice": {"price": {"amount": 1_298}}, "userErrors": []},
    ]
    stored = await ResellerPrice.get(reseller_id=reseller.id, variant_id=variant.id)
    assert stored.price == 1_298


async def test_only_a_reseller_of_a_reseller_plan_sets_a_price(
    gql: GraphQLClient, settings: Settings
) -> None:
    _, variant, _ = await reseller_shop(gql, settings)
    stranger = factories.bearer(await factories.user(), settings)
    tiered_shop, staff = await staffed_shop(settings)
    await gql(PUBLISH, {"i": tiered_input(tiered_shop)}, staff)
    owner = await factories.user()
    await members.enroll(owner.id, tiered_shop.id, OwnerTier.GOLD)
    tiered_variant = await Variant.get(product_id=(await factories.product(tiered_shop)).id)

    for headers, target in (
        (stranger, variant),
        (factories.bearer(owner, settings), tiered_variant),
    ):
        body = await gql(
            PRICE_SET,
            {"i": {"variantId": to_global_id(NodeType.VARIANT, target.id), "price": 1_200}},
            headers,
        )
        assert body["data"]["resellerPriceSet"]["userErrors"] == [
            {"field": "variantId", "code": "NOT_A_RESELLER"}
        ]
    assert await ResellerPrice.all().count() == 0


async def test_a_promotion_needs_both_thresholds_is_recorded_once_and_never_undone(
    gql: GraphQLClient, settings: Settings
) -> None:
    shop, staff = await staffed_shop(settings)
    await gql(PUBLISH, {"i": tiered_input(shop)}, staff)
    b = await factories.user()
    await members.enroll(b.id, shop.id, OwnerTier.OWNER)
    plan = await plans.plan_in_force(shop.id, datetime.now(UTC))
    assert plan is not None

    assert await members.promote(b.id, plan, team_size=1, team_sales=40_000) is None
    assert await members.promote(b.id, plan, team_size=0, team_sales=80_000) is None
    promoted = await members.promote(b.id, plan, team_size=1, team_sales=80_000)
    assert promoted is not None and (promoted.from_rank, promoted.to_rank) == ("OWNER", "GOLD")
    assert await members.promote(b.id, plan, team_size=1, team_sales=80_000) is None  # upgrade only

    history = await members.promotions_of(b.id, shop.id)
    assert [(p.from_rank, p.to_rank, p.team_sales) for p in history] == [("OWNER", "GOLD", 80_000)]
    assert await TierPromotion.all().count() == 1
    assert (await PlanMember.get(user_id=b.id)).rank == "GOLD"


async def test_merchants_listed_together_read_their_plans_in_one_query(
    gql: GraphQLClient, sql_statements: list[str]
) -> None:
    shops = [await factories.merchant() for _ in range(3)]
    for shop in shops:
        await factories.product(shop)
        await plans.publish_plan(shop.id, TERMS, "CNY", 3, None)
    sql_statements.clear()

    body = await gql(
        "{ products(first: 10) { edges { node { merchant { commissionPlan { version } } } } } }"
    )

    listed = [e["node"]["merchant"]["commissionPlan"] for e in body["data"]["products"]["edges"]]
    assert listed == [{"version": 1}] * 3
    assert len([s for s in sql_statements if "commission_plan" in s]) == 1


@pytest.mark.usefixtures("needs_concurrency")
async def test_versions_drafted_at_once_each_take_their_own_number(
    gql: GraphQLClient, settings: Settings
) -> None:
    shop, staff = await staffed_shop(settings)

    bodies = await asyncio.gather(
        *(gql(CREATE, {"i": tiered_input(shop)}, staff) for _ in range(10))
    )

    assert all("errors" not in body for body in bodies), bodies
    versions = [b["data"]["commissionPlanCreate"]["commissionPlan"]["version"] for b in bodies]
    assert sorted(versions) == list(range(1, 11))


@pytest.mark.usefixtures("needs_concurrency")
async def test_drafts_activated_at_once_leave_the_latest_in_force(
    gql: GraphQLClient, settings: Settings
) -> None:
    shop, staff = await staffed_shop(settings)
    drafts = [await plans.create_plan(shop.id, TERMS, "CNY", 3, None) for _ in range(5)]

    bodies = await asyncio.gather(
        *(
            gql(ACTIVATE, {"id": to_global_id(NodeType.COMMISSION_PLAN, d.id)}, staff)
            for d in drafts
        )
    )

    codes = [b["data"]["commissionPlanActivate"]["userErrors"] for b in bodies]
    assert all(c in ([], [{"field": "id", "code": "PLAN_SUPERSEDED"}]) for c in codes)
    in_force = await plans.plan_in_force(shop.id, datetime.now(UTC))
    assert in_force is not None and in_force.version == 5
    active = await CommissionPlan.filter(status="ACTIVE").order_by("version")
    stamps = [p.active_from for p in active]
    assert all(a and b and a <= b for a, b in itertools.pairwise(stamps)), stamps


@pytest.mark.usefixtures("needs_concurrency")
async def test_a_promotion_raced_by_itself_is_recorded_once() -> None:
    shop = await factories.merchant()
    owner = await factories.user()
    await members.enroll(owner.id, shop.id, OwnerTier.OWNER)
    row = await plans.publish_plan(shop.id, TIERED_TERMS, "CNY", 3, None)
    plan = plans.version_of(row)

    results = await asyncio.gather(
        *(members.promote(owner.id, plan, team_size=1, team_sales=80_000) for _ in range(10))
    )

    assert len([r for r in results if r is not None]) == 1
    assert await TierPromotion.all().count() == 1


async def test_staff_enrol_owners_and_resellers_once_each(
    gql: GraphQLClient, settings: Settings
) -> None:
    shop, staff = await staffed_shop(settings)
    person = await factories.user()
    base = {
        "merchantId": to_global_id(NodeType.MERCHANT, shop.id),
        "userId": to_global_id(NodeType.USER, person.id),
    }

    async def enrol(**rank: str) -> dict[str, Any]:
        body = await gql(ENROLL, {"i": base | rank}, staff)
        payload: dict[str, Any] = body["data"]["planMemberEnroll"]
        return payload

    owner = await enrol(tier="GOLD")
    reseller = await enrol(level="V3")
    again = await enrol(tier="OWNER")
    neither = await enrol()
    both = await enrol(tier="OWNER", level="V1")

    assert owner == {
        "member": {"user": {"id": base["userId"]}, "tier": "GOLD", "level": None},
        "userErrors": [],
    }
    assert reseller["member"]["level"] == "V3"
    assert again["userErrors"] == [{"field": "userId", "code": "ALREADY_ENROLLED"}]
    assert neither["userErrors"] == both["userErrors"] == [{"field": "tier", "code": "INVALID"}]
    assert await members.ranks(shop.id, PlanKind.TIERED_OWNER, [person.id]) == {
        person.id: OwnerTier.GOLD
    }

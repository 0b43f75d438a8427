"""Cache hints of the referral and plan types: a user's referral data is private (and
money never cached), plan terms are public, and plan writes purge what read them."""

from __future__ import annotations

from typing import Any

import httpx

from pintuan.accounts.models import User
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient
from tests.groupbuy_ops import start
from tests.test_commission_plans import ACTIVATE, CREATE, PUBLISH, tiered_input
from tests.test_response_cache import post

MEMBERS = """query($code: String!) { group(shareCode: $code) { members { user { handle
  inviter { handle } upline(depth: 3) { handle } } } } }"""
MONEY = "{ me { balance { available { amount } } } }"
PLAN = "query($m: ID!) { commissionPlan(merchantId: $m) { version } }"
VERSIONS = "query($m: ID!) { commissionPlans(merchantId: $m) { edges { node { version } } } }"


async def invited() -> tuple[User, User]:
    inviter = await factories.user()
    return inviter, await factories.user(inviter=inviter)


async def test_a_users_upline_on_a_public_page_is_never_served_to_anyone_else(
    http: httpx.AsyncClient, gql: GraphQLClient, settings: Settings
) -> None:
    inviter, user = await invited()
    leader = factories.bearer(user, settings)
    group = (await start(gql, leader, (await factories.offer(group_size=3)).id))["group"]
    variables = {"code": group["shareCode"]}
    stranger = factories.bearer(await factories.user(), settings)

    own = await post(http, MEMBERS, variables, leader)
    other = await post(http, MEMBERS, variables, stranger)

    [seen_by_self] = own.json()["data"]["group"]["members"]
    assert seen_by_self["user"]["inviter"] == {"handle": inviter.handle}
    # Were it stored (as a group page is, publicly), the stranger would get it back.
    assert (own.headers["cache-control"], other.headers["x-cache"]) == ("no-store", "BYPASS")
    [seen_by_other] = other.json()["data"]["group"]["members"]
    assert seen_by_other["user"] == {"handle": user.handle, "inviter": None, "upline": None}


async def test_money_is_never_cached(http: httpx.AsyncClient, settings: Settings) -> None:
    headers = factories.bearer(await factories.user(), settings)

    answers = [await post(http, MONEY, headers=headers) for _ in range(2)]

    assert [a.headers["x-cache"] for a in answers] == ["BYPASS", "BYPASS"]
    assert answers[1].headers["cache-control"] == "no-store"


async def test_the_plan_in_force_is_public_and_a_new_version_purges_it(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    shop = await factories.merchant()
    staff = factories.bearer(await factories.user(staff_of=shop), settings)
    variables: dict[str, Any] = {"m": to_global_id(NodeType.MERCHANT, shop.id)}
    assert (await post(http, PUBLISH, {"i": tiered_input(shop)}, staff)).json()["data"]

    first = await post(http, PLAN, variables)
    again = await post(http, PLAN, variables)
    await post(http, PUBLISH, {"i": tiered_input(shop, rate=2_000)}, staff)
    after_publish = await post(http, PLAN, variables)

    assert (first.headers["x-cache"], again.headers["x-cache"]) == ("MISS", "HIT")
    assert again.headers["cache-control"] == "public, max-age=60"
    assert after_publish.headers["x-cache"] == "MISS"
    assert after_publish.json()["data"]["commissionPlan"]["version"] == 2


async def test_drafting_and_activating_purge_the_staffs_list_of_versions(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    shop = await factories.merchant()
    staff = factories.bearer(await factories.user(staff_of=shop), settings)
    variables: dict[str, Any] = {"m": to_global_id(NodeType.MERCHANT, shop.id)}

    def statuses(answer: httpx.Response) -> list[int]:
        return [e["node"]["version"] for e in answer.json()["data"]["commissionPlans"]["edges"]]

    empty = await post(http, VERSIONS, variables, staff)
    created = (await post(http, CREATE, {"i": tiered_input(shop)}, staff)).json()
    drafted = await post(http, VERSIONS, variables, staff)
    cached = await post(http, PLAN, variables)
    plan_id = created["data"]["commissionPlanCreate"]["commissionPlan"]["id"]
    await post(http, ACTIVATE, {"id": plan_id}, staff)
    activated = await post(http, PLAN, variables)

    assert statuses(empty) == [] and statuses(drafted) == [1]
    assert drafted.headers["x-cache"] == "MISS"
    assert cached.json()["data"]["commissionPlan"] is None
    assert activated.headers["x-cache"] == "MISS"
    assert activated.json()["data"]["commissionPlan"]["version"] == 1

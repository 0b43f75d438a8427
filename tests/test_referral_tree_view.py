"""``referralTree(userId, depth, merchantId)``: a user's subtree, level by level with
keyset pages, for admins and for the staff of a merchant whose plan the user is in."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette

from pintuan.accounts.models import Merchant, User
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.referrals import members
from pintuan.referrals.terms import OwnerTier
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient
from tests.test_referral_tree import consume, gid, member

TREE = """query($u: ID!, $d: Int!, $m: ID, $first: Int, $after: String) {
  referralTree(userId: $u, depth: $d, merchantId: $m) { depth user { id }
    levels { level members sales
      nodes(first: $first, after: $after) {
        edges { node { level parentId invitees user { id } } }
        pageInfo { hasNextPage endCursor } } } } }"""


async def ask(
    gql: GraphQLClient, headers: dict[str, str], root: User, **variables: Any
) -> dict[str, Any]:
    body: dict[str, Any] = await gql(TREE, {"u": gid(root), "d": 3} | variables, headers)
    return body


async def team() -> tuple[User, list[User], list[User], User]:
    """root -> three invitees -> two below the first -> one below that."""
    root = await member()
    first_level = [await member(root) for _ in range(3)]
    second_level = [await member(first_level[0]) for _ in range(2)]
    third = await member(second_level[0])
    await consume()
    return root, first_level, second_level, third


def ids(level: dict[str, Any]) -> list[str]:
    return [edge["node"]["user"]["id"] for edge in level["nodes"]["edges"]]


async def enrol(merchant: Merchant, *users: User) -> None:
    for user in users:
        await members.enroll(user.id, merchant.id, OwnerTier.OWNER)


async def test_an_admin_sees_a_users_subtree_level_by_level(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    root, first_level, second_level, third = await team()
    admin = factories.bearer(await factories.user(admin=True), settings)

    body = await ask(gql, admin, root)

    assert "errors" not in body, body
    tree = body["data"]["referralTree"]
    assert (tree["depth"], tree["user"]["id"]) == (3, gid(root))
    levels = tree["levels"]
    assert [(lv["level"], lv["members"]) for lv in levels] == [(1, 3), (2, 2), (3, 1)]
    assert [ids(lv) for lv in levels] == [
        [gid(u) for u in first_level],
        [gid(u) for u in second_level],
        [gid(third)],
    ]
    nodes = [edge["node"] for lv in levels for edge in lv["nodes"]["edges"]]
    assert [(n["level"], n["parentId"], n["invitees"]) for n in nodes] == [
        (1, gid(root), 2),
        (1, gid(root), 0),
        (1, gid(root), 0),
        (2, gid(first_level[0]), 1),
        (2, gid(first_level[0]), 0),
        (3, gid(second_level[0]), 0),
    ]


async def test_depth_limits_the_levels_and_above_the_cap_is_refused(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    root, *_ = await team()
    admin = factories.bearer(await factories.user(admin=True), settings)

    shallow = await ask(gql, admin, root, d=1)
    deep = await ask(gql, admin, root, d=4)

    assert [lv["level"] for lv in shallow["data"]["referralTree"]["levels"]] == [1]
    assert deep["data"]["referralTree"] is None
    assert deep["errors"][0]["extensions"]["code"] == "INVALID"


async def test_a_large_level_is_read_page_by_page_by_keyset(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    root = await member()
    invitees = [await member(root) for _ in range(5)]
    await consume()
    admin = factories.bearer(await factories.user(admin=True), settings)

    seen: list[str] = []
    after = None
    while True:
        body = await ask(gql, admin, root, d=1, first=2, after=after)
        [level] = body["data"]["referralTree"]["levels"]
        seen += ids(level)
        if not level["nodes"]["pageInfo"]["hasNextPage"]:
            break
        after = level["nodes"]["pageInfo"]["endCursor"]

    assert seen == [gid(u) for u in invitees]
    over = await ask(gql, admin, root, d=1, first=101)
    assert over["errors"][0]["extensions"]["code"] == "PAGE_SIZE_EXCEEDED"


async def test_a_merchant_sees_the_tree_of_its_plans_members_and_only_its_members_in_it(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    root, first_level, second_level, _ = await team()
    shop = await factories.merchant()
    await enrol(shop, root, first_level[1], second_level[0])
    staff = factories.bearer(await factories.user(staff_of=shop), settings)
    shop_id = to_global_id(NodeType.MERCHANT, shop.id)

    body = await ask(gql, staff, root, m=shop_id)
    outsider = await ask(gql, staff, first_level[0], m=shop_id)

    levels = body["data"]["referralTree"]["levels"]
    assert [lv["members"] for lv in levels] == [3, 2, 1]  # counts are the whole team's
    assert [ids(lv) for lv in levels] == [[gid(first_level[1])], [gid(second_level[0])], []]
    assert (outsider["data"], "errors" in outsider) == ({"referralTree": None}, False)


@pytest.mark.parametrize(
    ("caller", "scoped", "code"),
    [
        ("anonymous", True, "UNAUTHENTICATED"),
        ("customer", True, "FORBIDDEN"),
        ("customer", False, "FORBIDDEN"),
        ("other_staff", True, "FORBIDDEN"),
        ("staff", False, "FORBIDDEN"),  # no merchant named: admins only
    ],
)
async def test_who_may_not_see_a_tree_gets_a_coded_error(
    app: Starlette, gql: GraphQLClient, settings: Settings, caller: str, scoped: bool, code: str
) -> None:
    root, *_ = await team()
    shop, other = await factories.merchant(), await factories.merchant()
    await enrol(shop, root)
    accounts = {
        "customer": await factories.user(),
        "other_staff": await factories.user(staff_of=other),
        "staff": await factories.user(staff_of=shop),
    }
    headers = factories.bearer(accounts[caller], settings) if caller in accounts else {}
    scope = {"m": to_global_id(NodeType.MERCHANT, shop.id)} if scoped else {}

    body = await ask(gql, headers, root, **scope)

    assert body["data"] is None or body["data"]["referralTree"] is None
    assert body["errors"][0]["extensions"]["code"] == code


async def test_a_merchant_asking_about_someone_outside_its_plan_gets_null(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    root, *_ = await team()
    shop, other = await factories.merchant(), await factories.merchant()
    await enrol(shop, root)
    other_staff = factories.bearer(await factories.user(staff_of=other), settings)
    admin = factories.bearer(await factories.user(admin=True), settings)
    nobody = to_global_id(NodeType.USER, 987654)

    own_merchant = await ask(gql, other_staff, root, m=to_global_id(NodeType.MERCHANT, other.id))
    missing = await gql(TREE, {"u": nobody, "d": 3}, admin)

    for body in (own_merchant, missing):  # not in its plan, or no one: as if no one
        assert (body["data"], "errors" in body) == ({"referralTree": None}, False)


async def test_a_tree_costs_the_same_statements_whatever_the_size_of_its_levels(
    app: Starlette, gql: GraphQLClient, settings: Settings, sql_statements: list[str]
) -> None:
    admin = factories.bearer(await factories.user(admin=True), settings)
    small, *_ = await team()
    large = await member()
    for _ in range(6):
        below = await member(large)
        for _ in range(2):
            await member(await member(below))
    await consume()

    counts = []
    for root in (small, large):
        sql_statements.clear()
        body = await ask(gql, admin, root)
        assert "errors" not in body, body
        counts.append(len(sql_statements))

    assert counts[0] == counts[1], sql_statements

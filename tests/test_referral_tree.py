"""The referral tree: inviters, uplines, teams and their counts, and admin rebinds that
never make a cycle and move a branch's counts with it."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from tortoise.transactions import in_transaction

from pintuan.accounts import events
from pintuan.accounts.models import User
from pintuan.core.outbox import Consumer, OutboxEvent
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.reactions import outbox_handlers
from pintuan.referrals.models import Rebind, TeamCounter
from pintuan.settings import Settings
from tests import factories
from tests.conftest import PG_URL, GraphQLClient
from tests.groupbuy_ops import buy
from tests.test_accounts import register

TREE = """query($d: Int!) { me { id inviter { id } upline(depth: $d) { id }
  teamSummary(depth: $d) { level members sales }
  team(depth: $d, first: 10) { edges { node { level user { id } } } } } }"""
REBIND = """mutation($i: ReferralRebindInput!) { referralRebind(input: $i) {
  user { id inviter { id } } userErrors { field code message } } }"""


async def consume() -> None:
    consumer = Consumer(outbox_handlers(Settings()))
    while await consumer.run_once():
        pass


async def member(inviter: User | None = None, **kwargs: Any) -> User:
    """A user registered as registration does it: the row and its event together."""
    async with in_transaction():
        user = await factories.user(inviter=inviter, **kwargs)
        await events.user_registered(user)
    return user


async def line(length: int) -> list[User]:
    """``length`` users, each invited by the one before."""
    users = [await member()]
    for _ in range(length - 1):
        users.append(await member(users[-1]))
    return users


def gid(user: User) -> str:
    return to_global_id(NodeType.USER, user.id)


async def tree_of(
    gql: GraphQLClient, user: User, settings: Settings, depth: int = 3
) -> dict[str, Any]:
    body = await gql(TREE, {"d": depth}, factories.bearer(user, settings))
    assert "errors" not in body, body
    me: dict[str, Any] = body["data"]["me"]
    return me


def summary(me: dict[str, Any]) -> list[tuple[int, int]]:
    return [(level["members"], level["sales"]) for level in me["teamSummary"]]


def upline(me: dict[str, Any]) -> list[str]:
    return [u["id"] for u in me["upline"]]


def team(me: dict[str, Any]) -> list[tuple[int, str]]:
    return [(e["node"]["level"], e["node"]["user"]["id"]) for e in me["team"]["edges"]]


async def rebind(
    gql: GraphQLClient, admin: dict[str, str], user: User, inviter: User, reason: str = "merge"
) -> dict[str, Any]:
    body = await gql(
        REBIND, {"i": {"userId": gid(user), "inviterId": gid(inviter), "reason": reason}}, admin
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["referralRebind"]
    return payload


async def test_registering_with_an_invite_code_joins_the_inviters_team(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    inviter = await member()
    result = await register(gql, inviteCode=inviter.invite_code.lower())
    await consume()
    invitee = await User.get(email="mei@example.com")

    assert result["userErrors"] == []
    mine = await tree_of(gql, invitee, settings)
    assert (mine["inviter"]["id"], upline(mine)) == (gid(inviter), [gid(inviter)])
    theirs = await tree_of(gql, inviter, settings)
    assert team(theirs) == [(1, gid(invitee))]
    assert summary(theirs) == [(1, 0), (0, 0), (0, 0)]
    assert theirs["inviter"] is None


async def test_uplines_and_teams_count_three_levels_and_no_further(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    a, b, c, d, e = await line(5)
    item = await factories.offer(solo_price=1000)
    await buy(gql, factories.bearer(e, settings), item.variant_id, quantity=2)
    await buy(gql, factories.bearer(c, settings), item.variant_id)
    await consume()

    assert upline(await tree_of(gql, e, settings)) == [gid(d), gid(c), gid(b)]
    assert upline(await tree_of(gql, e, settings, depth=1)) == [gid(d)]
    top = await tree_of(gql, a, settings)
    assert summary(top) == [(1, 0), (1, 1000), (1, 0)]  # e is four levels down
    assert team(top) == [(1, gid(b)), (2, gid(c)), (3, gid(d))]
    assert summary(await tree_of(gql, b, settings)) == [(1, 1000), (1, 0), (1, 2000)]
    assert summary(await tree_of(gql, b, settings, depth=2)) == [(1, 1000), (1, 0)]


async def test_depth_is_refused_outside_one_to_three(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    viewer = factories.bearer(await member(), settings)
    for depth in (0, 4, -1):
        body = await gql(TREE, {"d": depth}, viewer)
        assert body["errors"][0]["extensions"]["code"] == "INVALID", depth


async def test_other_users_see_none_of_a_users_tree(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    _, child = await line(2)
    await consume()
    body = await gql(
        "query($id: ID!) { node(id: $id) { ... on User { inviter { id } upline { id } "
        "team { edges { cursor } } teamSummary { level } } } }",
        {"id": gid(child)},
        factories.bearer(await member(), settings),
    )
    assert body["data"]["node"] == {
        "inviter": None,
        "upline": None,
        "team": None,
        "teamSummary": None,
    }


async def test_a_rebind_moves_the_branch_with_its_counts_and_is_recorded(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    old_root, x, y, z = await line(4)
    new_root = await member()
    admin_user = await factories.user(admin=True)
    admin = factories.bearer(admin_user, settings)
    item = await factories.offer(solo_price=500)
    for buyer in (x, z):
        await buy(gql, factories.bearer(buyer, settings), item.variant_id)
    await consume()

    moved = await rebind(gql, admin, x, new_root, reason="  wrong code at signup ")
    await consume()

    assert moved["userErrors"] == []
    assert moved["user"]["inviter"]["id"] == gid(new_root)
    assert summary(await tree_of(gql, old_root, settings)) == [(0, 0), (0, 0), (0, 0)]
    assert summary(await tree_of(gql, new_root, settings)) == [(1, 500), (1, 0), (1, 500)]
    assert upline(await tree_of(gql, z, settings)) == [gid(y), gid(x), gid(new_root)]
    [record] = await Rebind.all()
    assert (record.user_id, record.old_inviter_id, record.new_inviter_id) == (
        x.id,
        old_root.id,
        new_root.id,
    )
    assert (record.admin_id, record.reason) == (admin_user.id, "wrong code at signup")

    later = await member(z)  # joins after the move: counted on the new chain
    await consume()
    assert summary(await tree_of(gql, new_root, settings)) == [(1, 500), (1, 0), (1, 500)]
    assert summary(await tree_of(gql, x, settings)) == [(1, 0), (1, 500), (1, 0)]
    assert upline(await tree_of(gql, later, settings)) == [gid(z), gid(y), gid(x)]


async def test_rebinds_that_would_break_the_tree_are_refused(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    chain = await line(6)
    top, bottom = chain[0], chain[-1]
    outsider = await member()
    admin = factories.bearer(await factories.user(admin=True), settings)
    await consume()

    cases = [
        (top, top, "SELF_REFERRAL"),
        (chain[2], chain[4], "REFERRAL_CYCLE"),
        (top, bottom, "REFERRAL_CYCLE"),  # five levels down: the whole chain is checked
        (chain[1], top, "ALREADY_BOUND"),
    ]
    for user, inviter, code in cases:
        refused = await rebind(gql, admin, user, inviter)
        assert [e["code"] for e in refused["userErrors"]] == [code], (user.id, inviter.id)
    blank = await gql(
        REBIND, {"i": {"userId": gid(outsider), "inviterId": gid(top), "reason": " "}}, admin
    )
    assert blank["data"]["referralRebind"]["userErrors"][0]["field"] == "reason"

    assert await Rebind.all().count() == 0
    assert upline(await tree_of(gql, bottom, settings)) == [gid(u) for u in chain[-2:-5:-1]]


async def test_two_rebinds_at_once_cannot_make_a_cycle(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    if not PG_URL:
        pytest.skip("SQLite runs one transaction at a time: the binds cannot overlap there")
    admin = factories.bearer(await factories.user(admin=True), settings)
    rounds = [(await line(2), await line(2)) for _ in range(5)]
    await consume()

    for (a, a_child), (b, b_child) in rounds:
        results = await asyncio.gather(
            rebind(gql, admin, a, b_child), rebind(gql, admin, b, a_child)
        )
        codes = sorted(e["code"] for r in results for e in r["userErrors"])
        assert codes == ["REFERRAL_CYCLE"], codes
        a_above = await User.get(id=a.id)
        b_above = await User.get(id=b.id)
        assert (a_above.inviter_id, b_above.inviter_id).count(None) == 1


async def test_concurrent_consumers_count_overlapping_teams_exactly_without_deadlocks(
    app: Starlette, gql: GraphQLClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Registrations and sales of many members sharing their uplines, consumed by several
    consumers at once: each event is applied on its first delivery (none is retried
    after a deadlock) and every counter equals the sum over the team it counts."""
    if not PG_URL:
        pytest.skip("SQLite runs one transaction at a time: consumers cannot overlap there")
    rng = random.Random(7)
    roots = [await member() for _ in range(3)]
    users = list(roots)
    for _ in range(60):
        users.append(await member(rng.choice(users)))
    item = await factories.offer(solo_price=100)
    buyers = rng.sample(users, 24)
    for buyer in buyers:
        await buy(gql, factories.bearer(buyer, settings), item.variant_id)
    consumers = [Consumer(outbox_handlers(Settings()), batch_size=4) for _ in range(4)]

    async def drain(consumer: Consumer) -> None:
        while await consumer.run_once():
            pass

    with caplog.at_level(logging.WARNING, logger="pintuan.outbox"):
        await asyncio.gather(*(drain(consumer) for consumer in consumers))

    assert [r.getMessage() for r in caplog.records] == []
    assert not await OutboxEvent.filter(attempts__gt=0).exists()
    assert not await OutboxEvent.filter(delivered_at=None).exists()
    inviter = {u.id: u.inviter_id for u in await User.all()}

    def above(user_id: int) -> list[int]:
        """The user's ancestors from the truth, nearest first, three levels."""
        found: list[int] = []
        while (next_up := inviter[found[-1] if found else user_id]) and len(found) < 3:
            found.append(next_up)
        return found

    expected: Counter[tuple[int, int, str]] = Counter()
    for user_id in inviter:
        for level, ancestor in enumerate(above(user_id), 1):
            expected[(ancestor, level, "members")] += 1
    for buyer in buyers:
        for level, ancestor in enumerate([buyer.id, *above(buyer.id)]):
            expected[(ancestor, level, "sales")] += 100
    counted: Counter[tuple[int, int, str]] = Counter()
    for row in await TeamCounter.all():
        counted[(row.ancestor_id, row.level, "members")] += row.members
        counted[(row.ancestor_id, row.level, "sales")] += row.sales
    assert +counted == expected


async def cache_verdict(
    http: httpx.AsyncClient, query: str, user: User, settings: Settings
) -> tuple[str, dict[str, Any]]:
    response = await http.post(
        "/graphql", json={"query": query}, headers=factories.bearer(user, settings)
    )
    body = response.json()
    assert "errors" not in body, body
    return response.headers["x-cache"], body["data"]["me"]


SUMMARY_ONLY = "{ me { teamSummary(depth: 3) { level members sales } } }"
UPLINE_ONLY = "{ me { upline(depth: 3) { id } } }"


async def test_a_cached_team_summary_is_purged_when_the_outbox_counts_a_sale_in_the_team(
    app: Starlette, http: httpx.AsyncClient, gql: GraphQLClient, settings: Settings
) -> None:
    owner, buyer = await line(2)
    consumer = Consumer(outbox_handlers(settings), purge=app.state.runtime.purge)
    while await consumer.run_once():
        pass
    verdicts = [(await cache_verdict(http, SUMMARY_ONLY, owner, settings))[0] for _ in "ab"]
    assert verdicts == ["MISS", "HIT"]

    item = await factories.offer(solo_price=1000)
    await buy(gql, factories.bearer(buyer, settings), item.variant_id)
    while await consumer.run_once():
        pass
    verdict, after = await cache_verdict(http, SUMMARY_ONLY, owner, settings)

    assert verdict == "MISS"
    assert summary(after) == [(1, 1000), (0, 0), (0, 0)]


async def test_a_cached_upline_is_purged_when_someone_on_it_is_rebound(
    app: Starlette, http: httpx.AsyncClient, gql: GraphQLClient, settings: Settings
) -> None:
    a, b, c = await line(3)
    elsewhere = await member()
    await consume()
    first, (second, before) = [await cache_verdict(http, UPLINE_ONLY, c, settings) for _ in "ab"]
    assert (first[0], second, upline(before)) == ("MISS", "HIT", [gid(b), gid(a)])
    admin = factories.bearer(await factories.user(admin=True), settings)

    assert (await rebind(gql, admin, b, elsewhere))["userErrors"] == []
    verdict, after = await cache_verdict(http, UPLINE_ONLY, c, settings)

    assert verdict == "MISS"
    assert upline(after) == [gid(b), gid(elsewhere)]

"""Withdrawals: never more than is available, whatever arrives at once; one open
request per user; a repeated key returns the first withdrawal; admins decide."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from pintuan.referrals.ledger_invariants import ledger_violations
from pintuan.referrals.ledger_models import Withdrawal
from pintuan.settings import Settings, SettingsError
from tests import factories
from tests.conftest import GraphQLClient
from tests.ledger_ops import (
    MARK_PAID,
    REJECT,
    balance,
    decide,
    earn,
    earn_available,
    me,
    refund_after_completion,
    request,
    shop,
)


def code(payload: dict[str, Any]) -> str:
    [error] = payload["userErrors"]
    return str(error["code"])


async def test_a_withdrawal_reserves_available_money_until_an_admin_pays_it(
    gql: GraphQLClient, settings: Settings
) -> None:
    store = await shop(settings)
    earner = await factories.user()
    headers = factories.bearer(earner, settings)
    admin = factories.bearer(await factories.user(admin=True), settings)
    await earn_available(gql, store, earner, 5000, settings)
    await earn(gql, store, earner, 900)

    asked = await request(gql, headers, 3000)

    assert asked["userErrors"] == []
    withdrawal = asked["withdrawal"]
    assert withdrawal["amount"] == {"amount": 3000, "currency": "CNY"}
    assert (withdrawal["status"], withdrawal["decidedAt"]) == ("REQUESTED", None)
    assert await balance(gql, headers) == (900, 2000)
    paid = await decide(gql, admin, MARK_PAID, id=withdrawal["id"])
    assert paid["userErrors"] == []
    assert paid["withdrawal"]["status"] == "PAID" and paid["withdrawal"]["decidedAt"]
    assert await balance(gql, headers) == (900, 2000)
    again = await decide(gql, admin, MARK_PAID, id=withdrawal["id"])
    assert code(again) == "ALREADY_DECIDED"
    listed = (await me(gql, headers))["withdrawals"]["edges"]
    assert [(e["node"]["id"], e["node"]["status"]) for e in listed] == [(withdrawal["id"], "PAID")]


async def test_a_rejection_returns_the_money_and_says_why(
    gql: GraphQLClient, settings: Settings
) -> None:
    store = await shop(settings)
    earner = await factories.user()
    headers = factories.bearer(earner, settings)
    admin = factories.bearer(await factories.user(admin=True), settings)
    await earn_available(gql, store, earner, 2500, settings)
    asked = (await request(gql, headers, 2500))["withdrawal"]
    assert await balance(gql, headers) == (0, 0)

    blank = await decide(gql, admin, REJECT, id=asked["id"], reason="  ")
    rejected = await decide(gql, admin, REJECT, id=asked["id"], reason="Bank account closed.")

    assert code(blank) == "INVALID"
    assert rejected["withdrawal"]["status"] == "REJECTED"
    assert rejected["withdrawal"]["reason"] == "Bank account closed."
    assert await balance(gql, headers) == (0, 2500)
    assert code(await decide(gql, admin, MARK_PAID, id=asked["id"])) == "ALREADY_DECIDED"
    assert (await request(gql, headers, 2500))["userErrors"] == []


async def test_refused_requests_say_why_and_change_nothing(
    gql: GraphQLClient, settings: Settings
) -> None:
    store = await shop(settings)
    earner = await factories.user()
    headers = factories.bearer(earner, settings)
    await earn_available(gql, store, earner, 4000, settings)
    minimum = settings.withdrawal_minimum
    first = await request(gql, headers, 1500, idempotency_key="payout-1")
    assert first["userErrors"] == []
    before = await Withdrawal.all().values()

    cases = [
        (await request(gql, headers, 0), "amount", "INVALID"),
        (await request(gql, headers, minimum - 1), "amount", "BELOW_MINIMUM"),
        (await request(gql, headers, 1500, idempotency_key=""), "idempotencyKey", "INVALID"),
        (await request(gql, headers, 1500, currency="XXX"), "currency", "UNSUPPORTED_CURRENCY"),
        (await request(gql, headers, 1000), "amount", "WITHDRAWAL_OPEN"),
        (
            await request(gql, headers, 1600, idempotency_key="payout-1"),
            "idempotencyKey",
            "IDEMPOTENCY_KEY_REUSED",
        ),
        (
            await request(gql, headers, 1500, idempotency_key="payout-1", currency="USD"),
            "idempotencyKey",
            "IDEMPOTENCY_KEY_REUSED",
        ),
    ]

    for payload, field, expected in cases:
        assert payload["withdrawal"] is None
        [error] = payload["userErrors"]
        assert (error["field"], error["code"]) == (field, expected), error
    repeat = await request(gql, headers, 1500, idempotency_key="payout-1")
    assert repeat == first
    assert await Withdrawal.all().values() == before


async def test_a_request_beyond_the_available_balance_is_refused(
    gql: GraphQLClient, settings: Settings
) -> None:
    store = await shop(settings)
    earner = await factories.user()
    headers = factories.bearer(earner, settings)
    await earn_available(gql, store, earner, 1200, settings)
    await earn(gql, store, earner, 5000)  # pending money is not withdrawable

    refused = await request(gql, headers, 1300)

    assert code(refused) == "INSUFFICIENT_BALANCE"
    assert "¥12.00" in refused["userErrors"][0]["message"]
    assert await Withdrawal.all().count() == 0


async def test_a_negative_balance_blocks_withdrawals_until_later_earnings_net_it(
    gql: GraphQLClient, settings: Settings
) -> None:
    store = await shop(settings)
    earner = await factories.user()
    headers = factories.bearer(earner, settings)
    admin = factories.bearer(await factories.user(admin=True), settings)
    refunded = await earn_available(gql, store, earner, 3000, settings)
    taken = (await request(gql, headers, 3000))["withdrawal"]
    await decide(gql, admin, MARK_PAID, id=taken["id"])

    await refund_after_completion(refunded)  # after the payout: clawed back
    await earn_available(gql, store, earner, 1000, settings)

    assert await balance(gql, headers) == (0, -2000)
    assert code(await request(gql, headers, 1000)) == "NEGATIVE_BALANCE"
    await earn_available(gql, store, earner, 3500, settings)
    assert await balance(gql, headers) == (0, 1500)
    assert (await request(gql, headers, 1500))["userErrors"] == []
    assert await balance(gql, headers) == (0, 0)
    assert await ledger_violations() == []


@pytest.mark.usefixtures("needs_concurrency")
async def test_twenty_requests_at_once_against_a_balance_for_three_never_overdraw(
    gql: GraphQLClient, settings: Settings
) -> None:
    store = await shop(settings)
    earner = await factories.user()
    headers = factories.bearer(earner, settings)
    admin = factories.bearer(await factories.user(admin=True), settings)
    amount = settings.withdrawal_minimum
    await earn_available(gql, store, earner, 3 * amount + amount // 2, settings)

    rounds = []
    for _ in range(4):
        payloads = await asyncio.gather(*(request(gql, headers, amount) for _ in range(20)))
        granted = [p["withdrawal"] for p in payloads if not p["userErrors"]]
        rounds.append(Counter(code(p) for p in payloads if p["userErrors"]))
        for withdrawal in granted:
            await decide(gql, admin, MARK_PAID, id=withdrawal["id"])
        rounds[-1]["granted"] = len(granted)

    # One open request per user: each round grants one while the money lasts.
    assert rounds[:3] == [Counter(granted=1, WITHDRAWAL_OPEN=19)] * 3
    assert rounds[3] == Counter(granted=0, INSUFFICIENT_BALANCE=20)
    assert await balance(gql, headers) == (0, amount // 2)
    assert await Withdrawal.filter(user_id=earner.id).count() == 3
    assert await ledger_violations() == []


@pytest.mark.usefixtures("needs_concurrency")
async def test_requests_for_other_users_at_once_each_take_only_their_own_money(
    gql: GraphQLClient, settings: Settings
) -> None:
    store = await shop(settings)
    earners = [await factories.user() for _ in range(5)]
    amount = settings.withdrawal_minimum
    for earner in earners:
        await earn_available(gql, store, earner, amount, settings)
    callers = [factories.bearer(earner, settings) for earner in earners]

    payloads = await asyncio.gather(
        *(request(gql, headers, amount) for headers in callers for _ in range(4))
    )

    assert Counter(code(p) if p["userErrors"] else "granted" for p in payloads) == Counter(
        granted=5, WITHDRAWAL_OPEN=15
    )
    for headers in callers:
        assert await balance(gql, headers) == (0, 0)
    assert await ledger_violations() == []


@pytest.mark.usefixtures("needs_concurrency")
async def test_the_same_idempotency_key_at_once_makes_one_withdrawal(
    gql: GraphQLClient, settings: Settings
) -> None:
    store = await shop(settings)
    earner = await factories.user()
    headers = factories.bearer(earner, settings)
    await earn_available(gql, store, earner, 5000, settings)

    payloads = await asyncio.gather(
        *(request(gql, headers, 2000, idempotency_key="once") for _ in range(20))
    )

    assert all(p["userErrors"] == [] for p in payloads)
    assert len({p["withdrawal"]["id"] for p in payloads}) == 1
    assert await Withdrawal.all().count() == 1
    assert await balance(gql, headers) == (0, 3000)


async def test_withdrawals_are_seen_only_by_their_owner_and_admins(
    gql: GraphQLClient, settings: Settings
) -> None:
    store = await shop(settings)
    earner, other = await factories.user(), await factories.user()
    headers = factories.bearer(earner, settings)
    admin = factories.bearer(await factories.user(admin=True), settings)
    await earn_available(gql, store, earner, 2000, settings)
    asked = (await request(gql, headers, 2000))["withdrawal"]
    node = "query($id: ID!) { node(id: $id) { ... on Withdrawal { id status } } }"
    queue = """query($status: WithdrawalStatus) { withdrawals(status: $status) {
      edges { node { id amount { amount } user { id } } } } }"""

    seen = {
        who: (await gql(node, {"id": asked["id"]}, caller))["data"]["node"]
        for who, caller in (
            ("owner", headers),
            ("admin", admin),
            ("other", factories.bearer(other, settings)),
            ("anonymous", {}),
        )
    }
    listed = await gql(queue, {"status": "REQUESTED"}, admin)
    others_me = await gql(
        "query($id: ID!) { node(id: $id) { ... on User { balance { available { amount } } "
        "commissions { edges { cursor } } withdrawals { edges { cursor } } } } }",
        {"id": asked["user"]["id"]},
        factories.bearer(other, settings),
    )

    assert seen["owner"] == seen["admin"] == {"id": asked["id"], "status": "REQUESTED"}
    assert seen["other"] is None and seen["anonymous"] is None
    [edge] = listed["data"]["withdrawals"]["edges"]
    assert edge["node"] == {"id": asked["id"], "amount": {"amount": 2000}, "user": asked["user"]}
    assert others_me["data"]["node"] == {"balance": None, "commissions": None, "withdrawals": None}
    paid = await gql(queue, {"status": "PAID"}, admin)
    assert paid["data"]["withdrawals"]["edges"] == []


def test_the_minimum_and_currency_are_settings_and_an_unknown_currency_is_refused() -> None:
    configured = Settings.from_env(
        {"PINTUAN_WITHDRAWAL_MINIMUM": "5000", "PINTUAN_COMMISSION_CURRENCY": "HKD"}
    )
    assert (configured.withdrawal_minimum, configured.commission_currency) == (5000, "HKD")
    with pytest.raises(SettingsError, match="PINTUAN_COMMISSION_CURRENCY"):
        Settings.from_env({"PINTUAN_COMMISSION_CURRENCY": "XYZ"})

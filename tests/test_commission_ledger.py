"""The commission ledger: one entry per (order, beneficiary, kind), PENDING until the
order completes and its freeze window passes, reversed by refunds, whatever replays."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from pintuan.accounts.models import User
from pintuan.catalog.models import Product, Variant
from pintuan.groupbuys.expiry import expire_group
from pintuan.groupbuys.order_models import Order, OrderKind, OrderStatus
from pintuan.referrals import ledger
from pintuan.referrals.balances import Balance, balance_of
from pintuan.referrals.ledger_invariants import ledger_violations
from pintuan.referrals.ledger_models import CommissionEntry
from pintuan.referrals.rounding import share
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient, empty_tables
from tests.groupbuy_ops import start
from tests.ledger_ops import (
    balance,
    complete,
    earn,
    earn_available,
    earning,
    mark_refunded,
    me,
    paid_order,
    pk,
    refund_after_completion,
    release_after_freeze,
    shop,
)


def statuses(found: dict[str, Any]) -> list[tuple[str, int, str]]:
    edges = found["commissions"]["edges"]
    return [
        (e["node"]["entryType"], e["node"]["amount"]["amount"], e["node"]["status"]) for e in edges
    ]


async def test_a_paid_order_earns_pending_commissions_with_their_plan_and_rule(
    gql: GraphQLClient, settings: Settings
) -> None:
    store = await shop(settings)
    seller, inviter = await factories.user(), await factories.user()
    order_id = await paid_order(gql, store)

    written = await ledger.post_earnings(
        pk(order_id),
        [
            earning(seller, 1234, plan_version=3, rule="owner-sales-12pct"),
            earning(inviter, 77, "TEAM_SHARE", plan_version=3, rule="gold-team-25pct"),
        ],
    )

    assert written == 2
    mine = await me(gql, factories.bearer(seller, settings))
    [node] = [edge["node"] for edge in mine["commissions"]["edges"]]
    assert node["orderId"] == order_id
    assert (node["kind"], node["entryType"], node["status"]) == (
        "SALES_COMMISSION",
        "EARNING",
        "PENDING",
    )
    assert node["amount"] == {"amount": 1234, "currency": "CNY"}
    assert (node["planVersion"], node["rule"]) == (3, "owner-sales-12pct")
    assert node["availableAt"] is None and node["reversedAt"] is None
    assert mine["balance"] == {
        "pending": {"amount": 1234, "currency": "CNY"},
        "available": {"amount": 0, "currency": "CNY"},
    }
    assert await balance(gql, factories.bearer(inviter, settings)) == (77, 0)


async def test_posting_the_same_earnings_again_changes_nothing(
    gql: GraphQLClient, settings: Settings
) -> None:
    store = await shop(settings)
    seller = await factories.user()
    order_id = await earn(gql, store, seller, 500)
    before = await CommissionEntry.all().values()

    again = await ledger.post_earnings(pk(order_id), [earning(seller, 500)])
    altered = await ledger.post_earnings(pk(order_id), [earning(seller, 900)])

    assert (again, altered) == (0, 0)
    assert await CommissionEntry.all().values() == before
    assert await balance(gql, factories.bearer(seller, settings)) == (500, 0)


@pytest.mark.usefixtures("needs_concurrency")
async def test_earnings_posted_at_once_many_times_are_recorded_once(
    gql: GraphQLClient, settings: Settings
) -> None:
    store = await shop(settings)
    seller, inviter = await factories.user(), await factories.user()
    order_id = await paid_order(gql, store)
    earnings = [earning(seller, 300), earning(inviter, 40, kind="INVITE_REWARD")]

    written = await asyncio.gather(
        *(ledger.post_earnings(pk(order_id), earnings) for _ in range(20))
    )

    assert sum(written) == 2
    assert await CommissionEntry.filter(order_id=pk(order_id)).count() == 2
    assert await balance(gql, factories.bearer(seller, settings)) == (300, 0)
    assert await ledger_violations() == []


async def test_earnings_become_available_only_once_completed_and_past_the_freeze_window(
    gql: GraphQLClient, settings: Settings
) -> None:
    store = await shop(settings)
    seller = await factories.user()
    headers = factories.bearer(seller, settings)
    freeze = settings.commission_freeze_seconds
    order_id = await earn(gql, store, seller, 800)
    far_future = datetime.now(UTC) + timedelta(days=365)

    assert await ledger.release_due(far_future, freeze) == 0  # paid, not completed
    assert await ledger.on_order_completed(pk(order_id)) == 0  # not completed yet
    completed_at = await complete(gql, store, order_id)
    just_before = completed_at + timedelta(seconds=freeze - 1)
    assert await ledger.release_due(just_before, freeze) == 0
    assert await balance(gql, headers) == (800, 0)

    assert await release_after_freeze(completed_at, settings) == 1
    assert await ledger.release_due(far_future, freeze) == 0
    assert await ledger.on_order_completed(pk(order_id)) == 0

    assert await balance(gql, headers) == (0, 800)
    [node] = [e["node"] for e in (await me(gql, headers))["commissions"]["edges"]]
    assert node["status"] == "AVAILABLE"
    assert datetime.fromisoformat(node["availableAt"]) == completed_at + timedelta(seconds=freeze)


def test_the_freeze_window_defaults_to_seven_days_and_is_configurable() -> None:
    assert Settings.from_env({}).commission_freeze_seconds == 7 * 24 * 3600
    configured = Settings.from_env({"PINTUAN_COMMISSION_FREEZE_SECONDS": "60"})
    assert configured.commission_freeze_seconds == 60


async def test_a_refund_before_the_freeze_window_reverses_pending_earnings(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    store = await shop(settings)
    seller = await factories.user()
    headers = factories.bearer(seller, settings)
    offer = await factories.offer(store.merchant, group_size=3)
    failing = await start(gql, store.shopper, offer.id)
    order_id = failing["order"]["id"]
    await ledger.post_earnings(pk(order_id), [earning(seller, 600)])
    completed_order = await earn(gql, store, seller, 250)
    completed_at = await complete(gql, store, completed_order)

    group_pk = pk(failing["group"]["id"])
    await factories.time_group(group_pk, datetime.now(UTC) - timedelta(seconds=1))
    assert await expire_group(group_pk, app.state.runtime)  # the group failed: refunded
    assert await ledger.on_order_refunded(pk(order_id)) == 1
    await refund_after_completion(completed_order)  # within its freeze window

    assert await ledger.on_order_refunded(pk(order_id)) == 0
    assert await release_after_freeze(completed_at, settings) == 0
    assert await balance(gql, headers) == (0, 0)
    mine = await me(gql, headers)
    assert sorted(statuses(mine)) == [("EARNING", 250, "REVERSED"), ("EARNING", 600, "REVERSED")]
    assert all(e["node"]["reversedAt"] for e in mine["commissions"]["edges"])


async def test_a_refund_after_the_freeze_window_writes_a_reversing_entry(
    gql: GraphQLClient, settings: Settings
) -> None:
    store = await shop(settings)
    seller = await factories.user()
    headers = factories.bearer(seller, settings)
    refunded = await earn_available(gql, store, seller, 700, settings)
    await earn_available(gql, store, seller, 200, settings)

    await refund_after_completion(refunded)
    assert await ledger.on_order_refunded(pk(refunded)) == 0  # a replay writes nothing

    assert await balance(gql, headers) == (0, 200)
    assert statuses(await me(gql, headers)) == [
        ("REVERSAL", -700, "AVAILABLE"),
        ("EARNING", 200, "AVAILABLE"),
        ("EARNING", 700, "AVAILABLE"),
    ]
    reversals = await me(gql, headers, status="AVAILABLE", first=1)
    assert reversals["commissions"]["pageInfo"]["hasNextPage"] is True
    assert await ledger_violations() == []


async def test_events_arriving_after_the_order_moved_on_still_land_right(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    store = await shop(settings)
    seller = await factories.user()
    headers = factories.bearer(seller, settings)
    completed = await paid_order(gql, store)
    completed_at = await complete(gql, store, completed)
    offer = await factories.offer(store.merchant, group_size=3)
    failing = await start(gql, store.shopper, offer.id)
    group_pk = pk(failing["group"]["id"])
    await factories.time_group(group_pk, datetime.now(UTC) - timedelta(seconds=1))
    assert await expire_group(group_pk, app.state.runtime)

    await ledger.post_earnings(pk(completed), [earning(seller, 410)])
    await ledger.post_earnings(pk(failing["order"]["id"]), [earning(seller, 90)])

    assert await balance(gql, headers) == (410, 0)
    assert await release_after_freeze(completed_at, settings) == 1
    assert await balance(gql, headers) == (0, 410)
    assert sorted(statuses(await me(gql, headers))) == [
        ("EARNING", 90, "REVERSED"),
        ("EARNING", 410, "AVAILABLE"),
    ]


async def test_earnings_of_an_unpaid_order_or_malformed_earnings_are_refused(
    gql: GraphQLClient, settings: Settings
) -> None:
    store = await shop(settings)
    seller = await factories.user()
    declined = await start(
        gql, store.shopper, (await factories.offer(store.merchant)).id, token="tok_decline"
    )
    order_pk = pk(await paid_order(gql, store))
    bad = [
        earning(seller, 0, rule="r"),
        earning(seller, 10, rule=""),
        earning(seller, 10, rule="r" * 65),
    ]

    with pytest.raises(ValueError, match="never paid"):
        await ledger.post_earnings(pk(declined["order"]["id"]), [earning(seller, 10)])
    for wrong in bad:
        with pytest.raises(ValueError):
            await ledger.post_earnings(order_pk, [wrong])
    with pytest.raises(ValueError, match="one earning per"):
        await ledger.post_earnings(order_pk, [earning(seller, 1), earning(seller, 2)])
    assert await CommissionEntry.all().count() == 0


@pytest.mark.usefixtures("needs_concurrency")
async def test_racing_releases_and_refunds_settle_each_entry_once(
    gql: GraphQLClient, settings: Settings
) -> None:
    store = await shop(settings)
    seller = await factories.user()
    orders = [await earn(gql, store, seller, 100) for _ in range(6)]
    completed = [await complete(gql, store, order_id) for order_id in orders]
    due = max(completed) + timedelta(seconds=settings.commission_freeze_seconds)

    results = await asyncio.gather(
        *(ledger.release_due(due, settings.commission_freeze_seconds) for _ in range(10))
    )
    for order_id in orders[:3]:
        await mark_refunded(order_id)
    replays = await asyncio.gather(
        *(ledger.on_order_refunded(pk(order_id)) for order_id in orders[:3] for _ in range(5))
    )

    assert sum(results) == 6
    assert sum(replays) == 3
    assert await CommissionEntry.filter(entry_type="REVERSAL").count() == 3
    assert await balance(gql, factories.bearer(seller, settings)) == (0, 300)
    assert await ledger_violations() == []


def test_shares_round_down_to_the_minor_unit_and_the_platform_keeps_the_rest() -> None:
    assert share([(999, 2_500)]) == 249  # 249.75: the 0.75 stays with the platform
    assert share([(1, 3_333)]) == 0
    assert share([(3_000, 3_333)]) == 999  # 999.9, never rounded up
    parts = [share([(1_001, 3_333)]) for _ in range(3)]
    assert sum(parts) == 999 <= 1_001
    # An order's lines are summed exactly before the one floor: 3 x 0.5 is 1, not 0.
    assert share([(1, 5_000)] * 3) == 1
    assert share([]) == 0


# What becomes of an order in a random history, and what its entries must then be.
FATES = {
    "paid": "PENDING",
    "completed": "PENDING",  # completed after the others: its freeze window is still open
    "released": "AVAILABLE",
    "refunded_pending": "REVERSED",  # refunded while paid
    "refunded_completed": "REVERSED",  # refunded inside the freeze window
    "refunded_released": "AVAILABLE",  # refunded after: reversed by a REVERSAL entry
}
KINDS = ("SALES_COMMISSION", "TEAM_SHARE", "INVITE_REWARD")
T0 = datetime(2026, 11, 1, tzinfo=UTC)

order_histories = st.lists(
    st.fixed_dictionaries(
        {
            "fate": st.sampled_from(sorted(FATES)),
            "earnings": st.dictionaries(
                st.tuples(st.integers(0, 2), st.sampled_from(KINDS)),
                st.integers(1, 100_000),
                min_size=1,
                max_size=4,
            ),
            "copies": st.integers(1, 3),  # each event delivered this many times
            "late": st.booleans(),  # earnings posted only after the order moved on
        }
    ),
    min_size=1,
    max_size=6,
)


async def _order(buyer: User, variant: Variant) -> Order:
    return await Order.create(
        buyer=buyer,
        merchant_id=(await Product.get(id=variant.product_id)).merchant_id,
        kind=OrderKind.SOLO,
        variant=variant,
        quantity=1,
        unit_price=100_000,
        currency="CNY",
        status=OrderStatus.PAID,
        idempotency_key=uuid.uuid4().hex,
        request_hash="0" * 64,
        paid_at=T0,
    )


@hypothesis_settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(histories=order_histories)
async def test_any_replayed_history_leaves_each_entry_where_its_order_says(
    app: Starlette, histories: list[dict[str, Any]]
) -> None:
    await empty_tables()
    freeze = Settings().commission_freeze_seconds
    shop_owner = await factories.merchant()
    variant = await Variant.get(product_id=(await factories.product(shop_owner)).id)
    buyer = await factories.user()
    earners = [await factories.user() for _ in range(3)]
    orders = []
    for history in histories:
        order = await _order(buyer, variant)
        fate, copies = history["fate"], history["copies"]
        earnings = [
            earning(earners[who], amount, kind, rule="rule")
            for (who, kind), amount in history["earnings"].items()
        ]
        late = history["late"] and fate in ("completed", "refunded_pending")
        if not late:
            for _ in range(copies):
                await ledger.post_earnings(order.id, earnings)
        if fate != "paid" and fate != "refunded_pending":
            completed_at = T0 + timedelta(days=1 if fate == "completed" else 0)
            await Order.filter(id=order.id).update(
                status=OrderStatus.COMPLETED, completed_at=completed_at
            )
            for _ in range(copies):
                await ledger.on_order_completed(order.id)
        if fate in ("refunded_pending", "refunded_completed"):
            await Order.filter(id=order.id).update(status=OrderStatus.REFUNDED)
        if late:
            for _ in range(copies):
                await ledger.post_earnings(order.id, earnings)
        orders.append((order.id, history))

    for _ in range(2):  # the freeze window has passed for all but the "completed" fate
        await ledger.release_due(T0 + timedelta(seconds=freeze), freeze)
    for order_id, history in orders:
        if history["fate"] == "refunded_released":
            await Order.filter(id=order_id).update(status=OrderStatus.REFUNDED)
        if history["fate"].startswith("refunded"):
            for _ in range(history["copies"]):
                await ledger.on_order_refunded(order_id)

    expected_rows: Counter[tuple[int, int, str, str, str, int]] = Counter()
    pending, available = [0, 0, 0], [0, 0, 0]
    for order_id, history in orders:
        state = FATES[history["fate"]]
        for (who, kind), amount in history["earnings"].items():
            key = (order_id, earners[who].id, kind)
            expected_rows[(*key, "EARNING", state, amount)] += 1
            if history["fate"] == "refunded_released":
                expected_rows[(*key, "REVERSAL", "AVAILABLE", -amount)] += 1
            elif state == "PENDING":
                pending[who] += amount
            elif state == "AVAILABLE":
                available[who] += amount
    stored = await CommissionEntry.all().values_list(
        "order_id", "beneficiary_id", "kind", "entry_type", "state", "amount"
    )
    assert Counter(tuple(row) for row in stored) == expected_rows
    for who, earner in enumerate(earners):
        assert await balance_of(earner.id, "CNY") == Balance(pending[who], available[who])
    assert await ledger_violations() == []


async def test_a_served_app_releases_commissions_on_its_own(
    make_app: Any, settings: Settings
) -> None:
    async with make_app(run_scheduler=True, sweep_interval_seconds=1) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            gql = GraphQLClient(http)
            store = await shop(settings)
            seller = await factories.user()
            order_id = await earn(gql, store, seller, 300)
            await complete(gql, store, order_id)
            past = datetime.now(UTC) - timedelta(seconds=settings.commission_freeze_seconds)
            await Order.filter(id=pk(order_id)).update(completed_at=past)
            await CommissionEntry.filter(order_id=pk(order_id)).update(order_completed_at=past)
            headers = factories.bearer(seller, settings)
            async with asyncio.timeout(10):  # the releases run each second
                while True:
                    if await balance(gql, headers) == (0, 300):
                        break
                    await asyncio.sleep(0.1)


async def test_a_page_of_commissions_and_withdrawals_costs_the_same_at_any_size(
    gql: GraphQLClient, settings: Settings, sql_statements: list[str]
) -> None:
    store = await shop(settings)
    seller = await factories.user()
    headers = factories.bearer(seller, settings)
    for _ in range(12):
        await earn(gql, store, seller, 100)
    query = """query($first: Int!) { me { balance { pending { amount } available { amount } }
      commissions(first: $first) { edges { node { orderId amount { amount } status } } }
      withdrawals(first: $first) { edges { node { id user { id } } } } } }"""

    counts = {}
    for first in (3, 12):
        sql_statements.clear()
        body = await gql(query, {"first": first}, headers)
        assert len(body["data"]["me"]["commissions"]["edges"]) == first
        counts[first] = len(sql_statements)

    assert counts[3] == counts[12], sql_statements

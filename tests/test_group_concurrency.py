"""Many shoppers at once: groups never overfill, stock never oversells, limits hold.

Only on PostgreSQL (see ``needs_concurrency``): on SQLite the requests queue behind one
lock and would pass even if the conditional updates were read-check-writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from starlette.applications import Starlette

from pintuan.catalog.models import Variant
from pintuan.core import contention
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.groupbuys.models import Group, GroupBuy, GroupMember, GroupStatus, OfferAllowance
from pintuan.groupbuys.order_models import Order, OrderStatus, PaymentTransaction
from pintuan.settings import Settings
from tests import factories
from tests.conftest import PG_URL, GraphQLClient
from tests.groupbuy_ops import START, UPDATE_OFFER, codes, join, start

pytestmark = pytest.mark.usefixtures("needs_concurrency")


async def shoppers(settings: Settings, count: int) -> list[dict[str, str]]:
    return [factories.bearer(await factories.user(), settings) for _ in range(count)]


async def drain(events: AsyncIterator[dict[str, Any]], quiet_seconds: float = 0.3) -> list[str]:
    """Event names received until the channel has been quiet for a moment."""
    names: list[str] = []
    while True:
        try:
            message = await asyncio.wait_for(anext(events), quiet_seconds)
        except TimeoutError:
            return names
        names.append(message["event"])


async def test_fifty_shoppers_race_for_one_group_of_five(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer(group_size=5, stock=100, stock_limit=100)
    group_id = (await start(gql, (await shoppers(settings, 1))[0], offer.id))["group"]["id"]
    crowd = await shoppers(settings, 50)
    bus = app.state.runtime.progress.bus

    async with bus.listen(app.state.runtime.progress.offer_channel(offer.id)) as events:
        results = await asyncio.gather(*(join(gql, headers, group_id) for headers in crowd))
        announced = await drain(events)

    joined = [r for r in results if not r["userErrors"]]
    refused = [codes(r)[0] for r in results if r["userErrors"]]
    assert len(joined) == 4
    assert set(refused) <= {"GROUP_FULL", "GROUP_CLOSED"}
    assert len(refused) == 46
    group = await Group.get()
    assert (group.status, group.slots_taken, group.paid_count) == (GroupStatus.FILLED, 5, 5)
    assert announced.count("FILLED") == 1
    assert announced.count("JOINED") == 4
    variant = await Variant.get(id=offer.variant_id)
    assert (variant.stock_on_hand, variant.stock_reserved) == (95, 0)
    assert (await GroupBuy.get(id=offer.id)).stock_taken == 5
    assert await GroupMember.all().count() == 5
    assert await PaymentTransaction.all().count() == 5


async def test_two_hundred_joins_over_twenty_groups(gql: GraphQLClient, settings: Settings) -> None:
    offer = await factories.offer(group_size=5, stock=500, stock_limit=500)
    leaders = await shoppers(settings, 20)
    group_ids = [(await start(gql, headers, offer.id))["group"]["id"] for headers in leaders]
    crowd = await shoppers(settings, 200)

    results = await asyncio.gather(
        *(join(gql, headers, group_ids[i % 20]) for i, headers in enumerate(crowd))
    )

    assert sum(not r["userErrors"] for r in results) == 80
    groups = await Group.all()
    assert all(g.slots_taken == g.paid_count == 5 for g in groups)
    assert all(g.status == GroupStatus.FILLED for g in groups)
    variant = await Variant.get(id=offer.variant_id)
    assert (variant.stock_on_hand, variant.stock_reserved) == (400, 0)
    assert await Order.filter(status=OrderStatus.PAID).count() == 100


async def test_one_shopper_firing_ten_parallel_joins_gets_one(
    gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer(group_size=20, per_user_limit=1)
    group_ids = [
        (await start(gql, headers, offer.id))["group"]["id"]
        for headers in await shoppers(settings, 10)
    ]
    buyer = await factories.user()
    me = factories.bearer(buyer, settings)

    results = await asyncio.gather(*(join(gql, me, group_id) for group_id in group_ids))

    assert sum(not r["userErrors"] for r in results) == 1
    assert {codes(r)[0] for r in results if r["userErrors"]} == {"LIMIT_EXCEEDED"}
    allowance = await OfferAllowance.filter(quantity__gt=0).order_by("-id").first()
    assert allowance is not None and allowance.quantity == 1
    mine = await OfferAllowance.get(group_buy_id=offer.id, user_id=buyer.id)
    assert mine.quantity == 1


async def test_stock_is_never_oversold_across_groups(
    gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer(group_size=2, stock=7, stock_limit=50, per_user_limit=1)
    crowd = await shoppers(settings, 30)

    results = await asyncio.gather(*(start(gql, headers, offer.id) for headers in crowd))

    assert sum(not r["userErrors"] for r in results) == 7
    assert {codes(r)[0] for r in results if r["userErrors"]} == {"OUT_OF_STOCK"}
    variant = await Variant.get(id=offer.variant_id)
    assert (variant.stock_on_hand, variant.stock_reserved) == (0, 0)


async def test_the_same_request_retried_in_parallel_is_applied_once(
    gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer(group_size=3)
    me = (await shoppers(settings, 1))[0]

    results = await asyncio.gather(
        *(start(gql, me, offer.id, idempotency_key="same") for _ in range(8))
    )

    assert {r["order"]["id"] for r in results} == {results[0]["order"]["id"]}
    assert await Order.all().count() == 1
    assert await Group.all().count() == 1
    assert await PaymentTransaction.all().count() == 1


async def test_terms_never_change_under_groups_opened_at_the_same_moment(
    gql: GraphQLClient, settings: Settings
) -> None:
    """A merchant edits an offer just as its first groups open: either the edit is
    refused (GROUPS_EXIST) or the groups open on the new terms, never on the old."""
    for _ in range(4):
        owner = await factories.merchant()
        offer = await factories.offer(owner, group_size=3, group_price=800, stock=100)
        merchant = factories.bearer(await factories.user(staff_of=owner), settings)
        offer_id = to_global_id(NodeType.GROUP_BUY, offer.id)
        edits = [{"id": offer_id, "groupSize": 4 + i % 2, "groupPrice": 700 - i} for i in range(8)]
        crowd = await shoppers(settings, 9)
        latecomer = crowd.pop()

        results = await asyncio.gather(
            *(start(gql, headers, offer.id) for headers in crowd),
            *(gql(UPDATE_OFFER, {"i": edit}, merchant) for edit in edits),
        )

        started, edited = results[: len(crowd)], results[len(crowd) :]
        assert {code for r in started for code in codes(r)} <= {"OFFER_CHANGED"}
        assert {code for r in edited for code in codes(r["data"]["groupBuyUpdate"])} <= {
            "GROUPS_EXIST"
        }
        assert codes(await start(gql, latecomer, offer.id)) == []  # the offer still sells
        final = await GroupBuy.get(id=offer.id)
        sizes = {g.size for g in await Group.filter(group_buy_id=offer.id)}
        assert sizes == {final.group_size}
        prices: list[Any] = await Order.filter(group_buy_id=offer.id).values_list(
            "unit_price", flat=True
        )
        assert set(prices) == {final.group_price}


async def test_groups_opened_as_their_offer_is_extended_still_get_their_full_timer(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    """Groups cut short by the offer's end, opening while the merchant extends it:
    whichever commits first, every group ends up with its full timer, deadline included."""
    runtime = app.state.runtime
    for _ in range(8):
        owner = await factories.merchant()
        now = datetime.now(UTC)
        offer = await factories.offer(
            owner, duration_seconds=3600, ends_at=now + timedelta(minutes=30)
        )
        merchant = factories.bearer(await factories.user(staff_of=owner), settings)
        extension = {
            "id": to_global_id(NodeType.GROUP_BUY, offer.id),
            "endsAt": (now + timedelta(hours=5)).isoformat(),
        }
        crowd = await shoppers(settings, 8)

        results = await asyncio.gather(
            *(start(gql, headers, offer.id) for headers in crowd),
            gql(UPDATE_OFFER, {"i": extension}, merchant),
        )

        assert all(codes(r) == [] for r in results[:-1])
        assert results[-1]["data"]["groupBuyUpdate"]["userErrors"] == []
        groups = await Group.filter(group_buy_id=offer.id)
        assert len(groups) == len(crowd)
        for group in groups:
            assert group.expires_at == group.opened_at + timedelta(hours=1)
            deadline = await runtime.redis.zscore(runtime.group_deadlines.key, str(group.id))
            assert deadline == group.expires_at.timestamp()


CANCEL = "mutation($id: ID!) { groupBuyCancel(id: $id) { userErrors { code } } }"


async def test_cancelling_an_offer_while_shoppers_pile_in_leaves_everyone_whole(
    gql: GraphQLClient, settings: Settings
) -> None:
    """Starts and joins racing groupBuyCancel: whatever wins each race, no group stays
    open, no one keeps a paid order of a cancelled group, and stock adds up."""
    owner = await factories.merchant()
    offer = await factories.offer(owner, group_size=4, stock=100, stock_limit=100, per_user_limit=1)
    groups = [
        (await start(gql, headers, offer.id))["group"]["id"]
        for headers in await shoppers(settings, 3)
    ]
    crowd = await shoppers(settings, 24)
    merchant = factories.bearer(await factories.user(staff_of=owner), settings)

    purchases = [
        join(gql, headers, groups[i % 3]) if i % 2 else start(gql, headers, offer.id)
        for i, headers in enumerate(crowd)
    ]
    cancel = gql(CANCEL, {"id": to_global_id(NodeType.GROUP_BUY, offer.id)}, merchant)
    results = await asyncio.gather(*purchases[:12], cancel, *purchases[12:])

    assert results[12]["data"]["groupBuyCancel"]["userErrors"] == []
    refusals = {code for r in results[:12] + results[13:] for code in codes(r)}
    assert refusals <= {"OFFER_NOT_ACTIVE", "GROUP_CLOSED", "GROUP_FULL"}
    assert not await Group.filter(group_buy_id=offer.id, status=GroupStatus.OPEN).exists()
    in_cancelled = Order.filter(group__status=GroupStatus.CANCELLED)
    assert not await in_cancelled.filter(
        status__in=[OrderStatus.PAID, OrderStatus.PENDING_PAYMENT]
    ).exists()
    paid = await Order.filter(group_buy_id=offer.id, status=OrderStatus.PAID).count()
    variant = await Variant.get(id=offer.variant_id)
    assert (variant.stock_on_hand, variant.stock_reserved) == (100 - paid, 0)
    assert (await GroupBuy.get(id=offer.id)).stock_taken == paid
    refunded = await Order.filter(group_buy_id=offer.id, status=OrderStatus.REFUNDED).count()
    assert await PaymentTransaction.filter(kind="REFUND").count() == refunded


async def test_starts_and_joins_piling_onto_one_offer_are_all_answered(
    gql: GraphQLClient, settings: Settings
) -> None:
    """Shoppers opening and joining groups of one offer at once, the same shoppers
    several times in parallel, some declined: every request gets its answer (the
    helpers refuse any top-level error) and the books balance."""
    offer = await factories.offer(group_size=3, stock=2000, stock_limit=2000, per_user_limit=50)
    for _ in range(3):
        leaders = await shoppers(settings, 6)
        group_ids = [(await start(gql, headers, offer.id))["group"]["id"] for headers in leaders]
        crowd = await shoppers(settings, 8)

        results = await asyncio.gather(
            *(
                start(gql, crowd[i % 8], offer.id, token="tok_visa" if i % 5 else "tok_decline")
                if i % 2
                else join(gql, crowd[i % 8], group_ids[i % 6])
                for i in range(60)
            )
        )

        refusals = {code for r in results for code in codes(r)}
        assert refusals <= {"GROUP_FULL", "GROUP_CLOSED", "PAYMENT_DECLINED", "ALREADY_MEMBER"}


async def _blocking_someone(holder: asyncpg.Connection) -> None:
    """Until another transaction waits for one of ``holder``'s locks."""
    for _ in range(1500):
        if await holder.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
        ):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("no transaction ever waited")


async def _deadlocked_start(
    gql: GraphQLClient, settings: Settings, offer: GroupBuy
) -> dict[str, Any]:
    """A groupStart racing another client, which locks the offer's variant, then waits
    for the offer row that the start holds while it waits for the variant: PostgreSQL
    breaks the deadlock by rolling the start's transaction back."""
    me = (await shoppers(settings, 1))[0]
    assert PG_URL is not None
    other = await asyncpg.connect(PG_URL.replace("postgres://", "postgresql://", 1))
    try:
        await other.execute("SET deadlock_timeout = '60s'")  # the start is the victim
        async with other.transaction():
            await other.execute(
                'UPDATE "variant" SET "stock_on_hand" = "stock_on_hand" WHERE "id" = $1',
                offer.variant_id,
            )
            started = asyncio.create_task(
                gql(
                    START,
                    {
                        "i": {
                            "groupBuyId": to_global_id(NodeType.GROUP_BUY, offer.id),
                            "quantity": 1,
                            "idempotencyKey": "k",
                            "paymentToken": "tok_visa",
                        }
                    },
                    me,
                )
            )
            await _blocking_someone(other)  # the start, holding the offer, wants the variant
            await other.execute(
                'UPDATE "group_buy" SET "stock_taken" = "stock_taken" WHERE "id" = $1', offer.id
            )
        return await started
    finally:
        await other.close()


async def test_a_start_caught_in_a_deadlock_is_run_again_and_opens_its_group(
    gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer(group_size=3)

    body = await _deadlocked_start(gql, settings, offer)

    assert "errors" not in body, body
    result = body["data"]["groupStart"]
    assert (codes(result), result["order"]["status"]) == ([], "PAID")
    assert await Group.filter(group_buy_id=offer.id).count() == 1
    assert (await GroupBuy.get(id=offer.id)).stock_taken == 1


async def test_a_start_that_keeps_losing_races_is_told_to_try_again_and_changes_nothing(
    gql: GraphQLClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(contention, "ATTEMPTS", 1)  # every attempt lost
    offer = await factories.offer(group_size=3)

    body = await _deadlocked_start(gql, settings, offer)

    [error] = body["errors"]
    assert error["extensions"]["code"] == "TRY_AGAIN"
    assert "deadlock" not in error["message"] and "SELECT" not in error["message"]
    assert not await Group.filter(group_buy_id=offer.id).exists()
    assert not await Order.exists()
    assert (await GroupBuy.get(id=offer.id)).stock_taken == 0

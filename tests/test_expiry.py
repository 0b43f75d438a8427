"""Groups whose timer runs out fail once, and every member is made whole exactly once."""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from pintuan.app import create_app
from pintuan.catalog.models import Variant
from pintuan.cli import main
from pintuan.graphql.ids import NodeType, from_global_id, to_global_id
from pintuan.groupbuys import expiry, ledger
from pintuan.groupbuys.gateways import InstantGateway
from pintuan.groupbuys.ledger import OWED, record_money
from pintuan.groupbuys.models import Group, GroupBuy, GroupMember, GroupStatus, OfferAllowance
from pintuan.groupbuys.order_models import Order, OrderStatus, PaymentTransaction, TransactionKind
from pintuan.groupbuys.orders import mark_paid
from pintuan.groupbuys.runtime import Runtime
from pintuan.groupbuys.scheduler import ExpiryScheduler
from pintuan.live.deadlines import Deadlines
from pintuan.settings import Settings
from tests import factories
from tests.conftest import PG_URL, REDIS_URL, TEST_SECRET_KEY, GraphQLClient
from tests.groupbuy_ops import codes, join, start


async def open_group(
    gql: GraphQLClient, settings: Settings, *, paid: int, pending: int = 0
) -> tuple[GroupBuy, int]:
    """A size-5 group with ``paid`` members (the leader first) and ``pending`` unpaid ones."""
    offer = await factories.offer(group_size=5, stock=20, stock_limit=20)
    leader = factories.bearer(await factories.user(), settings)
    group_id = (await start(gql, leader, offer.id))["group"]["id"]
    for _ in range(paid - 1):
        await join(gql, factories.bearer(await factories.user(), settings), group_id)
    group = await Group.get()
    for _ in range(pending):
        await _pending_member(offer, group)
    return offer, group.id


async def _pending_member(offer: GroupBuy, group: Group) -> None:
    """A member still inside their payment window (as with the webhook gateway)."""
    buyer = await factories.user()
    order = await Order.create(
        buyer=buyer,
        merchant_id=offer.merchant_id,
        kind="GROUP",
        group=group,
        group_buy=offer,
        variant_id=offer.variant_id,
        quantity=1,
        unit_price=offer.group_price,
        currency="CNY",
        idempotency_key="pending",
        request_hash="x",
        payment_due_at=group.expires_at,
    )
    await GroupMember.create(group=group, user=buyer, order_id=order.id)
    await OfferAllowance.create(group_buy=offer, user=buyer, quantity=1)
    await Group.filter(id=group.id).update(slots_taken=F("slots_taken") + 1)
    await GroupBuy.filter(id=offer.id).update(stock_taken=F("stock_taken") + 1)
    await Variant.filter(id=offer.variant_id).update(stock_reserved=F("stock_reserved") + 1)


async def run_out_the_clock(runtime: Runtime, group_id: int) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    await factories.time_group(group_id, past)
    await runtime.group_deadlines.schedule(group_id, past)


class CountingGateway(InstantGateway):
    """The instant gateway, counting the refunds it returned per order: the money a
    buyer actually got back, which the ledger's one row per order cannot show."""

    def __init__(self, returned: Counter[int] | None = None) -> None:
        self.returned: Counter[int] = Counter() if returned is None else returned

    async def refund(self, order_id: int, amount: int, currency: str) -> str:
        reference = await super().refund(order_id, amount, currency)
        self.returned[order_id] += 1
        return reference


def counting(runtime: Runtime, gateway: CountingGateway | None = None) -> Runtime:
    return replace(runtime, gateway=gateway or CountingGateway())


async def assert_made_whole(offer: GroupBuy, paid: int, returned: Counter[int]) -> None:
    group = await Group.get()
    assert group.status == GroupStatus.FAILED
    refunded: list[Any] = await Order.filter(status=OrderStatus.REFUNDED).values_list(
        "id", flat=True
    )
    assert len(refunded) == paid
    assert (
        await Order.filter(status__in=[OrderStatus.PAID, OrderStatus.PENDING_PAYMENT]).count() == 0
    )
    assert returned == Counter(refunded)  # each refunded order's money returned once
    refunds = await PaymentTransaction.filter(kind=TransactionKind.REFUND).values_list(
        "order_id", "reference"
    )
    assert Counter(order_id for order_id, _ in refunds) == Counter(refunded)
    assert all(reference != OWED for _, reference in refunds)  # none still owed
    assert group.settled_at is not None
    variant = await Variant.get(id=offer.variant_id)
    assert (variant.stock_on_hand, variant.stock_reserved) == (20, 0)
    assert (await GroupBuy.get(id=offer.id)).stock_taken == 0


@pytest.mark.usefixtures("needs_concurrency")
async def test_an_expired_group_fails_and_refunds_each_member_once_with_two_schedulers(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    offer, group_id = await open_group(gql, settings, paid=3, pending=1)
    gateway = CountingGateway()
    runtime = counting(app.state.runtime, gateway)
    await run_out_the_clock(runtime, group_id)
    first, second = ExpiryScheduler(runtime, 5), ExpiryScheduler(runtime, 5)

    await asyncio.gather(first.tick(), second.tick(), expiry.sweep(runtime), expiry.sweep(runtime))
    await asyncio.gather(first.tick(), second.tick())

    await assert_made_whole(offer, paid=3, returned=gateway.returned)
    assert await Order.filter(status=OrderStatus.CANCELLED).count() == 1


class SlowCountingGateway(CountingGateway):
    """Takes a while to return each refund, as a real gateway over the network does:
    every other caller gets to run while a refund is in flight."""

    async def refund(self, order_id: int, amount: int, currency: str) -> str:
        await asyncio.sleep(0.05)
        return await super().refund(order_id, amount, currency)


@pytest.mark.usefixtures("needs_concurrency")
async def test_many_schedulers_and_sweeps_at_once_refund_each_member_once_at_the_gateway(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    offer, group_id = await open_group(gql, settings, paid=4, pending=1)
    gateway = SlowCountingGateway()
    runtime = counting(app.state.runtime, gateway)
    await run_out_the_clock(runtime, group_id)
    schedulers = [ExpiryScheduler(runtime, 5) for _ in range(6)]

    for _ in range(3):
        await runtime.group_deadlines.schedule(group_id, datetime.now(UTC))
        await asyncio.gather(
            *(scheduler.tick() for scheduler in schedulers),
            *(expiry.sweep(runtime) for _ in range(6)),
        )

    await assert_made_whole(offer, paid=4, returned=gateway.returned)
    assert await expiry.sweep(runtime) == 0


class CrashingGateway(CountingGateway):
    """Dies on its second refund, as a process killed half-way through an expiry would."""

    def __init__(self, returned: Counter[int]) -> None:
        super().__init__(returned)
        self.refunds = 0

    async def refund(self, order_id: int, amount: int, currency: str) -> str:
        self.refunds += 1
        if self.refunds == 2:
            raise ConnectionError("process killed")
        return await super().refund(order_id, amount, currency)


async def test_a_scheduler_killed_mid_expiry_is_finished_by_the_next_without_double_refunds(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    offer, group_id = await open_group(gql, settings, paid=3, pending=1)
    healthy = counting(app.state.runtime)
    assert isinstance(healthy.gateway, CountingGateway)
    returned = healthy.gateway.returned
    crashing = replace(healthy, gateway=CrashingGateway(returned))
    await run_out_the_clock(healthy, group_id)

    with pytest.raises(ConnectionError, match="process killed"):
        await ExpiryScheduler(crashing, 5).tick()
    assert (await Group.get()).status == GroupStatus.FAILED
    refunds = PaymentTransaction.filter(kind=TransactionKind.REFUND)
    assert await refunds.exclude(reference=OWED).count() == 1  # returned
    assert await refunds.filter(reference=OWED).count() == 1  # recorded, owed: the crash
    assert (await Group.get()).settled_at is None

    restarted = ExpiryScheduler(healthy, 5)
    await restarted.rebuild()
    await restarted.tick()
    assert await expiry.sweep(healthy) > 0
    assert await expiry.sweep(healthy) == 0  # nothing left to do

    await assert_made_whole(offer, paid=3, returned=returned)


class HangingGateway(CountingGateway):
    """Never answers a refund: the process calling it died in the call."""

    def __init__(self) -> None:
        super().__init__()
        self.called = asyncio.Event()

    async def refund(self, order_id: int, amount: int, currency: str) -> str:
        self.called.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_refund_held_by_a_dead_claimer_is_returned_once_its_claim_lapses(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    offer, group_id = await open_group(gql, settings, paid=1)
    healthy = counting(app.state.runtime)
    assert isinstance(healthy.gateway, CountingGateway)
    hanging = HangingGateway()
    await run_out_the_clock(healthy, group_id)
    dead = asyncio.create_task(ExpiryScheduler(replace(healthy, gateway=hanging), 5).tick())
    try:
        await asyncio.wait_for(hanging.called.wait(), 5)

        await expiry.sweep(healthy)
        assert not healthy.gateway.returned  # the claim is live: the refund is in flight
        lapsed = datetime.now(UTC) - timedelta(seconds=ledger.CLAIM_SECONDS + 1)
        await PaymentTransaction.filter(kind=TransactionKind.REFUND).update(claimed_at=lapsed)
        assert await expiry.sweep(healthy) > 0
        assert await expiry.sweep(healthy) == 0
    finally:
        dead.cancel()
        await asyncio.wait([dead])

    await assert_made_whole(offer, paid=1, returned=healthy.gateway.returned)


class PaymentLandingGateway(CountingGateway):
    """While its first refund is under way, a pending member's payment lands too (a
    webhook arriving in the middle of the group's settlement)."""

    def __init__(self) -> None:
        super().__init__()
        self.landed = False

    async def refund(self, order_id: int, amount: int, currency: str) -> str:
        if not self.landed:
            self.landed = True
            pending = await Order.get(status=OrderStatus.PENDING_PAYMENT)
            assert (await mark_paid(pending, "ch_late", self.name)).changed
        return await super().refund(order_id, amount, currency)


async def test_a_payment_landing_while_a_failed_group_settles_is_refunded_too(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    offer, group_id = await open_group(gql, settings, paid=2, pending=1)
    gateway = PaymentLandingGateway()
    runtime = replace(app.state.runtime, gateway=gateway)
    await run_out_the_clock(runtime, group_id)

    assert await ExpiryScheduler(runtime, 5).tick() == 1

    assert gateway.landed
    await assert_made_whole(offer, paid=3, returned=gateway.returned)


async def test_deadlines_survive_a_restart(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    _, group_id = await open_group(gql, settings, paid=1)
    await factories.time_group(group_id, datetime.now(UTC) + timedelta(seconds=1))

    # A new process whose live layer lost every deadline (an in-process one starts
    # empty; a real Redis may have been flushed or replaced).
    fresh = create_app(settings)
    async with fresh.router.lifespan_context(fresh):
        runtime: Runtime = fresh.state.runtime
        await runtime.redis.delete(runtime.group_deadlines.key)
        assert await runtime.group_deadlines.next_due() is None
        scheduler = ExpiryScheduler(runtime, 5)
        await scheduler.rebuild()
        assert await runtime.group_deadlines.next_due() is not None
        await asyncio.sleep(1.1)
        assert await scheduler.tick() == 1
        assert (await Group.get(id=group_id)).status == GroupStatus.FAILED


async def test_the_scheduler_task_expires_groups_on_its_own(
    make_app: Any, settings: Settings
) -> None:
    async with make_app(run_scheduler=True, sweep_interval_seconds=1) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            _, group_id = await open_group(GraphQLClient(http), settings, paid=1)
        await factories.time_group(group_id, datetime.now(UTC) + timedelta(milliseconds=300))
        async with (
            app.state.runtime.progress.bus.listen(
                app.state.runtime.progress.group_channel(group_id)
            ) as events,
            asyncio.timeout(5),
        ):
            async for message in events:
                if message["event"] == "FAILED":
                    break
        assert (await Group.get(id=group_id)).status == GroupStatus.FAILED


async def test_a_group_timer_never_outlives_its_offer(
    gql: GraphQLClient, settings: Settings
) -> None:
    ends = datetime.now(UTC) + timedelta(minutes=10)
    offer = await factories.offer(duration_seconds=3600, ends_at=ends)

    started = await start(gql, factories.bearer(await factories.user(), settings), offer.id)

    expires = datetime.fromisoformat(started["group"]["expiresAt"])
    assert abs((expires - ends).total_seconds()) < 0.01
    assert started["group"]["secondsLeft"] <= 600


@pytest.mark.parametrize("catch_up", ["scheduler", "sweep"])
async def test_a_group_cut_short_by_an_end_since_extended_runs_on_instead_of_failing(
    app: Starlette, gql: GraphQLClient, settings: Settings, catch_up: str
) -> None:
    """The merchant's extension committed, but its process stopped before moving the
    groups the old end cut short: at their deadline they get their full timer."""
    offer, group_id = await open_group(gql, settings, paid=2)
    runtime: Runtime = app.state.runtime
    old_end = datetime.now(UTC) - timedelta(seconds=1)
    opened_at = old_end - timedelta(minutes=10)
    await Group.filter(id=group_id).update(opened_at=opened_at, expires_at=old_end)
    await runtime.group_deadlines.schedule(group_id, old_end)
    await GroupBuy.filter(id=offer.id).update(ends_at=old_end + timedelta(hours=5))

    progress = runtime.progress
    async with progress.bus.listen(progress.group_channel(group_id)) as events:
        if catch_up == "scheduler":
            assert await ExpiryScheduler(runtime, 5).tick() == 1
        else:
            assert await expiry.sweep(runtime) == 1
        async with asyncio.timeout(5):
            message = await anext(aiter(events))

    full_timer = opened_at + timedelta(seconds=offer.duration_seconds)
    group = await Group.get(id=group_id)
    assert (group.status, group.expires_at) == (GroupStatus.OPEN, full_timer)
    moved_to = datetime.fromisoformat(message["state"]["expires_at"])
    assert (message["event"], moved_to) == ("EXTENDED", full_timer)
    deadline = await runtime.redis.zscore(runtime.group_deadlines.key, str(group_id))
    assert deadline == full_timer.timestamp()
    assert await Order.filter(status=OrderStatus.PAID).count() == 2
    assert not await PaymentTransaction.filter(kind=TransactionKind.REFUND).exists()
    assert await expiry.sweep(runtime) == 0  # nothing overdue any more


async def test_no_one_joins_an_expired_group_before_the_scheduler_runs(
    gql: GraphQLClient, settings: Settings
) -> None:
    _, group_id = await open_group(gql, settings, paid=1)
    await factories.time_group(group_id, datetime.now(UTC) - timedelta(seconds=1))
    shopper = factories.bearer(await factories.user(), settings)

    late = await join(gql, shopper, to_global_id(NodeType.GROUP, group_id))

    assert [e["code"] for e in late["userErrors"]] == ["GROUP_CLOSED"]


@pytest.mark.skipif(
    not (PG_URL and REDIS_URL), reason="a separate worker shares PostgreSQL and Redis"
)
async def test_pintuan_worker_expires_groups_on_its_own(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    _, group_id = await open_group(gql, settings, paid=2)
    await factories.time_group(group_id, datetime.now(UTC) + timedelta(milliseconds=500))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINTUAN_")} | {
        "PINTUAN_DATABASE_URL": settings.database_url,
        "PINTUAN_REDIS_URL": settings.redis_url or "",
        "PINTUAN_SECRET_KEY": TEST_SECRET_KEY,
    }
    progress = app.state.runtime.progress
    async with progress.bus.listen(progress.group_channel(group_id)) as events:
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pintuan.cli", "worker", env=env
        )
        try:
            async with asyncio.timeout(15):
                async for message in events:
                    if message["event"] == "FAILED":
                        break
        finally:
            worker.terminate()
            await worker.wait()

    assert (await Group.get(id=group_id)).status == GroupStatus.FAILED
    assert await Order.filter(status=OrderStatus.REFUNDED).count() == 2


def test_a_separate_worker_needs_redis(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PINTUAN_REDIS_URL", raising=False)
    assert main(["worker"]) == 2
    assert "PINTUAN_REDIS_URL" in capsys.readouterr().err


class SwallowsOneCancel(Deadlines):
    """Deadlines whose next lookup eats a cancellation, as a client library's timeout can."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.looking = asyncio.Event()
        self.swallowed = False

    async def next_due(self) -> datetime | None:
        self.looking.set()
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            if self.swallowed:
                raise
            self.swallowed = True
        return await super().next_due()


async def test_a_scheduler_stops_even_when_its_cancellation_is_swallowed(app: Starlette) -> None:
    runtime: Runtime = app.state.runtime
    deadlines = SwallowsOneCancel(runtime.group_deadlines.redis, "deadlines:test-swallow")
    scheduler = ExpiryScheduler(replace(runtime, group_deadlines=deadlines), 60)
    task = asyncio.create_task(scheduler.run())
    try:
        async with asyncio.timeout(2):
            await deadlines.looking.wait()
        task.cancel()
        await asyncio.wait([task], timeout=2)
        assert deadlines.swallowed
        assert task.cancelled()
    finally:
        task.cancel()  # a second cancellation always lands
        await asyncio.wait([task])


class GroupFailsDuringCharge(InstantGateway):
    """Approves the charge only after the buyer's group has run out of time and failed."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def charge(self, order_id: int, amount: int, currency: str, token: str) -> Any:
        order = await Order.get(id=order_id)
        assert order.group_id is not None
        await run_out_the_clock(self.runtime, order.group_id)
        assert await expiry.expire_group(order.group_id, self.runtime)
        return await super().charge(order_id, amount, currency, token)


async def test_money_taken_after_the_group_failed_is_refunded_once(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer(group_size=3)
    group_id = (await start(gql, factories.bearer(await factories.user(), settings), offer.id))[
        "group"
    ]["id"]
    healthy: Runtime = app.state.runtime
    app.state.runtime = replace(healthy, gateway=GroupFailsDuringCharge(healthy))
    try:
        joined = await join(gql, factories.bearer(await factories.user(), settings), group_id)
    finally:
        app.state.runtime = healthy

    assert codes(joined) == ["GROUP_CLOSED"]
    assert joined["order"]["status"] == "REFUNDED"
    order_pk = from_global_id(joined["order"]["id"])[1]
    money: list[Any] = await PaymentTransaction.filter(order_id=order_pk).values_list(
        "kind", flat=True
    )
    assert sorted(money) == [TransactionKind.CHARGE, TransactionKind.REFUND]
    assert (await Group.get()).status == GroupStatus.FAILED


async def test_the_migrated_database_itself_refuses_a_second_refund(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    """The last guard stands in the schema as migrated, on every backend (a table
    rebuild during a migration once silently dropped such a constraint on SQLite)."""
    _, group_id = await open_group(gql, settings, paid=1)
    runtime: Runtime = app.state.runtime
    await run_out_the_clock(runtime, group_id)
    assert await ExpiryScheduler(runtime, 5).tick() == 1
    order = await Order.get(group_id=group_id)

    for kind in (TransactionKind.CHARGE, TransactionKind.REFUND):
        with pytest.raises(IntegrityError):
            await record_money(order, kind, runtime.gateway.name, "again")

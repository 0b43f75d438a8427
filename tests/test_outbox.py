"""The outbox: events commit with their change, and reach every handler exactly once
in effect, through failures, crashes mid-batch and concurrent consumers."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from starlette.applications import Starlette
from tortoise.transactions import in_transaction

from pintuan.accounts.events import USER_REGISTERED
from pintuan.accounts.models import Merchant, User
from pintuan.core import outbox
from pintuan.core.outbox import Consumer, Event, Handlers, OutboxEvent, OutboxReceipt
from pintuan.graphql.ids import from_global_id
from pintuan.groupbuys.events import ORDER_COMPLETED, ORDER_PAID, ORDER_REFUNDED
from pintuan.groupbuys.expiry import expire_group
from pintuan.settings import Settings
from tests import factories
from tests.conftest import PG_URL, GraphQLClient
from tests.groupbuy_ops import join, start
from tests.test_accounts import register
from tests.test_order_completion import complete

TOPIC = "test.happened"


class Killed(BaseException):
    """The process dying under a handler: nothing catches it, the batch is abandoned."""


async def emit_many(count: int) -> list[int]:
    for n in range(count):
        async with in_transaction():
            await outbox.emit(TOPIC, {"n": n})
    return [event.id for event in await OutboxEvent.all().order_by("id")]


async def leave_mark(event: Event) -> None:
    """A handler whose effect is a row, so a second application would show."""
    await Merchant.create(handle=f"m-{uuid.uuid4().hex[:12]}", name=f"event-{event.id}")


async def marks() -> Counter[str]:
    return Counter(merchant.name for merchant in await Merchant.all())


def once_each(event_ids: list[int]) -> Counter[str]:
    return Counter(f"event-{event_id}" for event_id in event_ids)


async def drain(consumer: Consumer, now: datetime | None = None) -> None:
    while await consumer.run_once(now):
        pass


def order_pk(payload: dict[str, object]) -> int:
    order = payload["order"]
    assert isinstance(order, dict)
    return from_global_id(order["id"])[1]


async def payloads(topic: str) -> list[dict[str, object]]:
    return [e.payload for e in await OutboxEvent.filter(topic=topic).order_by("id")]


async def test_order_changes_and_registrations_write_their_events(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    owner = await factories.merchant()
    staff = factories.bearer(await factories.user(staff_of=owner), settings)
    buyer = factories.bearer(await factories.user(), settings)
    offer = await factories.offer(owner, group_size=2, group_price=800)
    leader = await start(gql, buyer, offer.id, quantity=2)
    other = factories.bearer(await factories.user(), settings)
    member = await join(gql, other, leader["group"]["id"])
    declined = await start(
        gql, factories.bearer(await factories.user(), settings), offer.id, token="tok_decline"
    )
    failing = await start(gql, factories.bearer(await factories.user(), settings), offer.id)
    failed_group = from_global_id(failing["group"]["id"])[1]
    await factories.time_group(failed_group, datetime.now(UTC) - timedelta(seconds=1))
    assert await expire_group(failed_group, app.state.runtime)
    assert (await complete(gql, leader["order"]["id"], staff))["userErrors"] == []

    paid = await payloads(ORDER_PAID)
    assert [p["order_id"] for p in paid] == [order_pk(x) for x in (leader, member, failing)]
    assert order_pk(declined) not in {p["order_id"] for p in paid}
    assert paid[0]["total"] == 1600 and paid[0]["currency"] == "CNY"
    assert paid[0]["merchant_id"] == owner.id
    assert [p["order_id"] for p in await payloads(ORDER_COMPLETED)] == [order_pk(leader)]
    assert [p["order_id"] for p in await payloads(ORDER_REFUNDED)] == [order_pk(failing)]

    inviter = await factories.user()
    result = await register(gql, inviteCode=inviter.invite_code)
    new_user = await User.get(email="mei@example.com")
    assert result["userErrors"] == []
    registered = await payloads(USER_REGISTERED)
    assert registered == [{"user_id": new_user.id, "inviter_id": inviter.id}]


async def test_an_event_rolls_back_with_its_transaction(app: Starlette, gql: GraphQLClient) -> None:
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await outbox.emit(TOPIC, {"n": 1})
            raise RuntimeError("the change failed")
    refused = await register(gql, inviteCode="NOPE1234")

    assert refused["userErrors"][0]["code"] == "INVALID_INVITE_CODE"
    assert await OutboxEvent.all().count() == 0


async def test_a_failing_handler_is_retried_after_a_delay_until_it_succeeds(
    app: Starlette,
) -> None:
    [event_id] = await emit_many(1)
    # Two: the first try fails, and so does its redo, handler by handler, at once.
    failures = [RuntimeError("ledger unavailable"), RuntimeError("ledger unavailable")]

    async def flaky(event: Event) -> None:
        await leave_mark(event)
        if failures:
            raise failures.pop()

    handlers = Handlers()
    handlers.register("flaky", [TOPIC], flaky)
    consumer = Consumer(handlers)
    now = datetime.now(UTC)

    assert await consumer.run_once(now) == 1
    failed = await OutboxEvent.get(id=event_id)
    assert (failed.attempts, failed.delivered_at) == (1, None)
    assert "ledger unavailable" in (failed.last_error or "")
    assert failed.available_at == now + timedelta(seconds=1)
    assert await marks() == Counter()  # the failed delivery's own writes rolled back
    assert await consumer.run_once(now) == 0  # not due yet

    assert await consumer.run_once(now + timedelta(seconds=1)) == 1
    assert (await OutboxEvent.get(id=event_id)).delivered_at is not None
    assert await marks() == once_each([event_id])
    assert await outbox.lag() == outbox.Lag(0, 0.0)


async def test_a_first_try_that_fails_is_redone_at_once_handler_by_handler(
    app: Starlette,
) -> None:
    [event_id] = await emit_many(1)
    calls: Counter[str] = Counter()

    async def once_unlucky(event: Event) -> None:
        calls["unlucky"] += 1
        await leave_mark(event)
        if calls["unlucky"] == 1:
            raise RuntimeError("a deadlock, say")

    async def lucky(event: Event) -> None:
        calls["lucky"] += 1
        await leave_mark(event)

    handlers = Handlers()
    handlers.register("lucky", [TOPIC], lucky)
    handlers.register("unlucky", [TOPIC], once_unlucky)

    assert await Consumer(handlers).run_once() == 1

    delivered = await OutboxEvent.get(id=event_id)
    assert (delivered.attempts, delivered.delivered_at is not None) == (0, True)
    assert calls == Counter(lucky=2, unlucky=2)
    assert await marks() == Counter({f"event-{event_id}": 2})  # the first try's rolled back
    assert await OutboxReceipt.all().count() == 2


async def test_a_handler_failing_part_way_leaves_the_others_deliveries_standing(
    app: Starlette,
) -> None:
    event_ids = await emit_many(5)
    unlucky = event_ids[2]
    calls: Counter[int] = Counter()

    async def picky(event: Event) -> None:
        calls[event.id] += 1
        if event.id == unlucky and calls[event.id] <= 2:  # the first try and its redo
            raise RuntimeError("cannot yet")

    handlers = Handlers()
    handlers.register("marks", [TOPIC], leave_mark)
    handlers.register("picky", [TOPIC], picky)
    consumer = Consumer(handlers)
    now = datetime.now(UTC)

    await drain(consumer, now)
    assert [event.id for event in await OutboxEvent.filter(delivered_at=None)] == [unlucky]
    await drain(consumer, now + timedelta(minutes=1))

    assert await OutboxEvent.filter(delivered_at=None).count() == 0
    assert await marks() == once_each(event_ids)  # "marks" was not run again on the retry
    assert calls == Counter(event_ids) + Counter([unlucky, unlucky])
    assert await OutboxReceipt.all().count() == 2 * len(event_ids)


async def test_a_consumer_dying_mid_batch_is_redone_by_the_next_exactly_once(
    app: Starlette,
) -> None:
    event_ids = await emit_many(6)
    seen: list[int] = []

    async def dies_on_the_fourth(event: Event) -> None:
        seen.append(event.id)
        if len(seen) == 4:
            raise Killed

    handlers = Handlers()
    handlers.register("marks", [TOPIC], leave_mark)
    handlers.register("crash", [TOPIC], dies_on_the_fourth)
    with pytest.raises(Killed):
        await Consumer(handlers, batch_size=10).run_once()
    # The events delivered before the death stand; the one it died in left nothing.
    assert await marks() == once_each(event_ids[:3])
    assert await OutboxReceipt.all().count() == 2 * 3

    restarted = Handlers()
    restarted.register("marks", [TOPIC], leave_mark)
    await drain(Consumer(restarted))

    assert await marks() == once_each(event_ids)
    assert await OutboxEvent.filter(delivered_at=None).count() == 0


async def test_a_cancelled_consumer_task_leaves_nothing_half_done(app: Starlette) -> None:
    event_ids = await emit_many(6)
    stuck = asyncio.Event()
    never = asyncio.Event()
    delivered: list[int] = []

    async def hangs_on_the_third(event: Event) -> None:
        await leave_mark(event)
        delivered.append(event.id)
        if len(delivered) == 3:
            stuck.set()
            await never.wait()

    handlers = Handlers()
    handlers.register("marks", [TOPIC], hangs_on_the_third)
    async with Consumer(handlers, batch_size=10).running():
        await stuck.wait()
    assert await marks() == once_each(event_ids[:2])  # the third's mark rolled back

    restarted = Handlers()
    restarted.register("marks", [TOPIC], leave_mark)
    await drain(Consumer(restarted))
    assert await marks() == once_each(event_ids)


async def test_two_consumers_never_deliver_an_event_twice_to_one_handler(
    app: Starlette,
) -> None:
    if not PG_URL:
        pytest.skip("SQLite runs one transaction at a time: consumers cannot overlap there")
    event_ids = await emit_many(120)
    calls: list[int] = []

    async def counted(event: Event) -> None:
        calls.append(event.id)
        await leave_mark(event)
        await asyncio.sleep(0)

    handlers = Handlers()
    handlers.register("marks", [TOPIC], counted)
    consumers = [Consumer(handlers, batch_size=7) for _ in range(3)]

    await asyncio.gather(*(drain(consumer) for consumer in consumers))

    assert sorted(calls) == event_ids
    assert await marks() == once_each(event_ids)
    # Consumers took disjoint batches: none ever met another's receipt.
    assert await OutboxEvent.filter(attempts__gt=0).count() == 0


async def test_lag_counts_undelivered_events_and_the_age_of_the_oldest(app: Starlette) -> None:
    assert await outbox.lag() == outbox.Lag(0, 0.0)
    await emit_many(3)
    [first] = await OutboxEvent.all().order_by("id").limit(1)

    lag = await outbox.lag(first.created_at + timedelta(seconds=30))

    assert lag.pending == 3
    assert lag.oldest_seconds == pytest.approx(30.0)


async def test_events_without_a_handler_are_marked_delivered(app: Starlette) -> None:
    await emit_many(2)
    await drain(Consumer(Handlers()))
    assert await outbox.lag() == outbox.Lag(0, 0.0)


async def test_the_server_consumes_the_outbox_when_configured(make_app: object) -> None:
    assert callable(make_app)
    async with make_app(run_outbox_consumer=True, outbox_poll_milliseconds=10):
        await emit_many(3)
        for _ in range(500):
            if (await outbox.lag()).pending == 0:
                break
            await asyncio.sleep(0.01)
        assert await outbox.lag() == outbox.Lag(0, 0.0)


def test_a_handler_name_is_registered_once() -> None:
    handlers = Handlers()
    handlers.register("marks", [TOPIC], leave_mark)
    with pytest.raises(ValueError, match="already registered"):
        handlers.register("marks", ["other"], leave_mark)


async def test_after_commit_callbacks_run_once_the_batch_commits_and_never_for_a_failure(
    app: Starlette,
) -> None:
    [good, bad] = await emit_many(2)
    seen: list[tuple[int, bool]] = []

    def announcing(event_id: int) -> outbox.AfterCommit:
        async def announce() -> None:
            # Read on another connection (PostgreSQL): only committed rows show.
            delivered = await OutboxEvent.filter(id=event_id).first()
            seen.append((event_id, delivered is not None and delivered.delivered_at is not None))

        return announce

    async def handler(event: Event) -> None:
        outbox.after_commit(announcing(event.id))
        if event.id == bad:
            raise RuntimeError("rolled back: its announcement must not go out")

    handlers = Handlers()
    handlers.register("announcer", [TOPIC], handler)
    await Consumer(handlers).run_once()

    assert seen == [(good, True)]
    with pytest.raises(RuntimeError):
        outbox.after_commit(announcing(good))


async def test_delivered_events_past_the_retention_are_pruned_in_batches_and_undelivered_never(
    app: Starlette,
) -> None:
    *old, recent, failing = await emit_many(7)

    async def fails_on_one(event: Event) -> None:
        if event.id == failing:
            raise RuntimeError("never applies")

    handlers = Handlers()
    handlers.register("marks", [TOPIC], leave_mark)
    handlers.register("picky", [TOPIC], fails_on_one)
    await drain(Consumer(handlers))
    long_ago = datetime.now(UTC) - timedelta(days=10)
    await OutboxEvent.filter(id__in=old).update(delivered_at=long_ago)
    await OutboxEvent.filter(id=failing).update(created_at=long_ago - timedelta(days=30))

    pruned = await outbox.prune_delivered(datetime.now(UTC) - timedelta(days=7), batch_size=2)

    assert pruned == len(old) == 5  # batches of two, two and one
    assert {event.id for event in await OutboxEvent.all()} == {recent, failing}
    assert {r.event_id for r in await OutboxReceipt.all()} == {recent, failing}
    assert (await outbox.lag()).pending == 1  # the failing event still waits for its retry

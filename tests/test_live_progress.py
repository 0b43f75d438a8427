"""Live group progress through real WebSocket clients speaking graphql-transport-ws.

In-process tests drive the app with httpx-ws; the cross-process test runs two
uvicorn servers and subscribes with the ``gql`` library over a network socket.
Every wait is bounded, so a missing event fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from httpx_ws import AsyncWebSocketSession, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from redis.asyncio import Redis
from starlette.applications import Starlette
from tortoise.expressions import F

from pintuan.catalog.models import Product, ProductStatus
from pintuan.graphql.ids import NodeType, from_global_id, to_global_id
from pintuan.groupbuys.announce import group_state
from pintuan.groupbuys.expiry import expire_group
from pintuan.groupbuys.models import Group, GroupStatus
from pintuan.groupbuys.order_models import Order, OrderStatus, PaymentTransaction, TransactionKind
from pintuan.groupbuys.progress import GroupEvent, GroupProgress
from pintuan.settings import Settings
from tests import factories
from tests.conftest import PG_URL, REDIS_URL, TEST_SECRET_KEY, GraphQLClient
from tests.groupbuy_ops import UPDATE_OFFER, join, start
from tests.servers import running_servers

WAIT_SECONDS = 15.0  # a bound on liveness, generous for a loaded machine; never a timing claim
PROGRESS = """subscription($id: ID, $code: String) {
  groupProgress(groupId: $id, shareCode: $code) {
    event memberCount size slotsLeft status expiresAt secondsLeft serverTime changedAt
    group { id shareCode members { paid } }
  }
}"""
ACTIVITY = """subscription($offer: ID!) {
  groupBuyActivity(groupBuyId: $offer) { event memberCount status group { id } }
}"""

Message = dict[str, Any]
Progress = dict[str, Any]


class Subscription:
    """One graphql-transport-ws connection carrying one subscription (id "1")."""

    def __init__(self, ws: AsyncWebSocketSession) -> None:
        self.ws = ws

    async def message(self) -> Message:
        """The next protocol message for the subscription, answering pings on the way."""
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                message: Message = await self.ws.receive_json()
                if message["type"] == "ping":
                    await self.ws.send_json({"type": "pong"})
                    continue
                if message["type"] == "pong":
                    continue
                assert message.get("id") == "1", message
                return message

    async def event(self) -> Progress:
        """The next event; fails if the server completed or errored instead."""
        message = await self.message()
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        data: Progress = next(iter(message["payload"]["data"].values()))
        return data

    async def until_complete(self) -> list[Progress]:
        """Every further event, up to and including the server's `complete`."""
        events: list[Progress] = []
        while True:
            message = await self.message()
            if message["type"] == "complete":
                return events
            assert message["type"] == "next", message
            assert "errors" not in message["payload"], message
            events.append(message["payload"]["data"]["groupProgress"])

    async def completes(self) -> None:
        assert (await self.message())["type"] == "complete"


@asynccontextmanager
async def subscribe(
    app: Starlette, query: str, variables: dict[str, Any], init: dict[str, str] | None = None
) -> AsyncIterator[Subscription]:
    """``init`` is the connection_init payload (credentials); anonymous without it."""
    transport = ASGIWebSocketTransport(app=app)
    ws: AsyncWebSocketSession
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
        aconnect_ws("/graphql", client, subprotocols=["graphql-transport-ws"]) as ws,
    ):
        assert ws.subprotocol == "graphql-transport-ws"
        await ws.send_json({"type": "connection_init", "payload": init or {}})
        subscription = Subscription(ws)
        async with asyncio.timeout(WAIT_SECONDS):
            assert (await ws.receive_json())["type"] == "connection_ack"
        await ws.send_json(
            {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )
        yield subscription


async def shoppers(settings: Settings, count: int) -> list[dict[str, str]]:
    return [factories.bearer(await factories.user(), settings) for _ in range(count)]


async def open_group(gql: GraphQLClient, settings: Settings, *, size: int) -> dict[str, Any]:
    """A group on a new offer, started by a leader of its own (as groupStart returned it)."""
    offer = await factories.offer(group_size=size)
    group: dict[str, Any] = (await start(gql, (await shoppers(settings, 1))[0], offer.id))["group"]
    return group


async def join_in_turn(
    gql: GraphQLClient, group_id: str, joiners: Sequence[dict[str, str]]
) -> None:
    """Join one after another, each request finished (and announced) before the next."""
    for headers in joiners:
        joined = await join(gql, headers, group_id)
        assert joined["userErrors"] == [], joined


def column(events: Sequence[Progress], name: str) -> list[Any]:
    return [event[name] for event in events]


async def wait_for_listener(redis: Redis, channel: str) -> None:
    """Until Redis confirms someone subscribed ``channel`` (a subscription without a snapshot)."""
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            [(_, listeners)] = await redis.pubsub_numsub(channel)
            if listeners:
                return
            await asyncio.sleep(0.01)


# ---- 1. snapshot, then every change in order, then complete ------------------


async def test_snapshot_then_joins_in_order_then_complete_after_filled(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    group = await open_group(gql, settings, size=3)
    joiners = await shoppers(settings, 2)

    async with subscribe(app, PROGRESS, {"id": group["id"]}) as live:
        snapshot = await live.event()
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(join_in_turn(gql, group["id"], joiners))
            events = await live.until_complete()

    assert snapshot["event"] == "SNAPSHOT"
    assert (snapshot["memberCount"], snapshot["slotsLeft"], snapshot["size"]) == (1, 2, 3)
    assert snapshot["status"] == "OPEN"
    assert snapshot["group"] == {
        "id": group["id"],
        "shareCode": group["shareCode"],
        "members": [{"paid": True}],
    }
    assert 3500 < snapshot["secondsLeft"] <= 3600
    assert column(events, "event") == ["JOINED", "PAID", "JOINED", "FILLED"]
    assert column(events, "memberCount") == [2, 2, 3, 3]
    assert column(events, "slotsLeft") == [1, 1, 0, 0]
    assert column(events, "status") == ["OPEN", "OPEN", "OPEN", "FILLED"]
    everything = [snapshot, *events]
    assert {e["expiresAt"] for e in everything} == {group["expiresAt"]}
    assert {e["group"]["id"] for e in everything} == {group["id"]}
    assert {e["size"] for e in everything} == {3}
    assert all(e["secondsLeft"] > 3500 for e in events[:3])
    assert events[-1]["secondsLeft"] == 0
    assert events[-1]["group"]["members"] == [{"paid": True}] * 3
    times = column(everything, "serverTime")
    assert times == sorted(times)


async def test_each_event_says_when_its_change_was_committed(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer(group_size=3)
    leader, joiner = await shoppers(settings, 2)
    group = (await start(gql, leader, offer.id))["group"]
    progress: GroupProgress = app.state.runtime.progress
    channel = progress.group_channel(from_global_id(group["id"])[1])

    async with (
        subscribe(app, PROGRESS, {"id": group["id"]}) as live,
        progress.bus.listen(channel) as published,
    ):
        snapshot = await live.event()
        sent = datetime.now(UTC)
        joined = await join(gql, joiner, group["id"])
        answered = datetime.now(UTC)
        events = [await live.event(), await live.event()]
        announced = [await anext(published), await anext(published)]

    assert joined["userErrors"] == []
    assert snapshot["changedAt"] == snapshot["serverTime"]
    assert column(events, "event") == ["JOINED", "PAID"]
    # Stamped when the change was announced, in the request, not when it was delivered.
    changed = [datetime.fromisoformat(message["changed_at"]) for message in announced]
    assert sent < changed[0] < changed[1] < answered
    assert [datetime.fromisoformat(at) for at in column(events, "changedAt")] == changed
    delivered = [datetime.fromisoformat(at) for at in column(events, "serverTime")]
    assert all(at <= then for at, then in zip(changed, delivered, strict=True))


async def test_stale_and_repeated_events_are_not_sent(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    """A late publisher's older state (or a replay) never reaches a subscriber."""
    group = await open_group(gql, settings, size=3)
    (second,) = await shoppers(settings, 1)
    pk = from_global_id(group["id"])[1]
    progress: GroupProgress = app.state.runtime.progress
    mirrored = await progress.read(pk)
    assert mirrored is not None

    async with subscribe(app, PROGRESS, {"id": group["id"]}) as live:
        assert (await live.event())["event"] == "SNAPSHOT"
        older = replace(mirrored, version=mirrored.version - 1, member_count=0)
        await progress.bus.publish(
            progress.group_channel(pk), {"event": "LEFT", "state": older.to_json()}
        )
        await progress.bus.publish(
            progress.group_channel(pk), {"event": "PAID", "state": mirrored.to_json()}
        )
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(join_in_turn(gql, group["id"], [second]))
            events = [await live.event() for _ in range(2)]

    assert column(events, "event") == ["JOINED", "PAID"]
    assert column(events, "memberCount") == [2, 2]


async def test_a_new_subscriber_is_not_misled_by_a_lagging_mirror(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    """A change whose announcement was lost (a crash between commit and publish)."""
    group = await open_group(gql, settings, size=3)
    pk = from_global_id(group["id"])[1]
    progress: GroupProgress = app.state.runtime.progress
    await Group.filter(id=pk).update(
        status=GroupStatus.CANCELLED, closed_at=datetime.now(UTC), version=F("version") + 1
    )

    async with subscribe(app, PROGRESS, {"id": group["id"]}) as live:
        snapshot = await live.event()
        await live.completes()

    assert (snapshot["event"], snapshot["status"]) == ("SNAPSHOT", "CANCELLED")
    repaired = await progress.read(pk)
    assert repaired is not None and repaired.status == "CANCELLED"


async def test_the_change_that_fills_a_group_is_reported_as_filled(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    """Two last members pay at once; both announcers read the filled row, and the
    "PAID" one may publish first, making the real "FILLED" a duplicate."""
    group = await open_group(gql, settings, size=3)
    pk = from_global_id(group["id"])[1]
    progress: GroupProgress = app.state.runtime.progress

    async with subscribe(app, PROGRESS, {"id": group["id"]}) as live:
        assert (await live.event())["event"] == "SNAPSHOT"
        await Group.filter(id=pk).update(
            slots_taken=3, paid_count=3, status=GroupStatus.FILLED, version=F("version") + 4
        )
        filled = group_state(await Group.get(id=pk))
        await progress.changed(GroupEvent.PAID, filled)
        await progress.changed(GroupEvent.FILLED, filled)
        events = await live.until_complete()

    assert [(e["event"], e["status"], e["memberCount"]) for e in events] == [
        ("FILLED", "FILLED", 3)
    ]


# ---- 2. a group that runs out of time ---------------------------------------


async def test_expired_group_sends_failed_completes_and_refunds_the_paid(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    group = await open_group(gql, settings, size=3)
    (second,) = await shoppers(settings, 1)
    pk = from_global_id(group["id"])[1]

    async def join_then_time_out() -> bool:
        await join_in_turn(gql, group["id"], [second])
        await factories.time_group(pk, datetime.now(UTC) - timedelta(seconds=1))
        expired: bool = await expire_group(pk, app.state.runtime)
        return expired

    async with subscribe(app, PROGRESS, {"id": group["id"]}) as live:
        snapshot = await live.event()
        async with asyncio.TaskGroup() as tasks:
            expiring = tasks.create_task(join_then_time_out())
            events = await live.until_complete()

    assert expiring.result() is True
    assert snapshot["event"] == "SNAPSHOT"
    assert column(events, "event") == ["JOINED", "PAID", "FAILED"]
    failed = events[-1]
    assert (failed["status"], failed["memberCount"], failed["secondsLeft"]) == ("FAILED", 2, 0)
    orders = await Order.filter(group_id=pk)
    assert len(orders) == 2
    assert {o.status for o in orders} == {OrderStatus.REFUNDED}
    refunds = await PaymentTransaction.filter(
        order_id__in=[o.id for o in orders], kind=TransactionKind.REFUND
    ).count()
    assert refunds == 2
    assert (await Group.get(id=pk)).status == GroupStatus.FAILED


async def test_extending_an_offer_lets_groups_its_end_cut_short_run_on(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    owner = await factories.merchant()
    staff = factories.bearer(await factories.user(staff_of=owner), settings)
    old_end = datetime.now(UTC) + timedelta(minutes=30)
    offer = await factories.offer(owner, duration_seconds=3600, ends_at=old_end)
    leaders = await shoppers(settings, 3)
    cut, natural, failed = [(await start(gql, s, offer.id))["group"] for s in leaders]
    now = datetime.now(UTC)
    # An older group whose own timer ends before the offer does, and one already over.
    await Group.filter(id=from_global_id(natural["id"])[1]).update(
        opened_at=now - timedelta(minutes=50), expires_at=now + timedelta(minutes=10)
    )
    await Group.filter(id=from_global_id(failed["id"])[1]).update(status=GroupStatus.FAILED)
    cut_pk = from_global_id(cut["id"])[1]
    opened_at = (await Group.get(id=cut_pk)).opened_at
    assert datetime.fromisoformat(cut["expiresAt"]) == old_end
    untouched = await Group.filter(id__not=cut_pk).order_by("id").values("expires_at", "version")
    offer_id = to_global_id(NodeType.GROUP_BUY, offer.id)

    async def extend(to: datetime) -> None:
        body = await gql(UPDATE_OFFER, {"i": {"id": offer_id, "endsAt": to.isoformat()}}, staff)
        assert body["data"]["groupBuyUpdate"]["userErrors"] == []

    def score_of(pk: int) -> Any:
        return app.state.runtime.redis.zscore(app.state.runtime.group_deadlines.key, str(pk))

    async with subscribe(app, PROGRESS, {"id": cut["id"]}) as live:
        assert (await live.event())["event"] == "SNAPSHOT"
        shortly = old_end + timedelta(minutes=10)
        await extend(shortly)  # before the group's full hour: the new end cuts it again
        first = await live.event()
        assert await score_of(cut_pk) == shortly.timestamp()
        await extend(old_end + timedelta(hours=5))  # past it: the full hour
        second = await live.event()

    assert [first["event"], second["event"]] == ["EXTENDED", "EXTENDED"]
    assert datetime.fromisoformat(first["expiresAt"]) == shortly
    full_hour = opened_at + timedelta(hours=1)
    assert datetime.fromisoformat(second["expiresAt"]) == full_hour
    assert second["status"] == "OPEN" and second["secondsLeft"] > 3500
    assert (await Group.get(id=cut_pk)).expires_at == full_hour
    assert await score_of(cut_pk) == full_hour.timestamp()
    after = await Group.filter(id__not=cut_pk).order_by("id").values("expires_at", "version")
    assert after == untouched


# ---- 3. share codes, closed groups, unknown groups ----------------------------


async def test_subscribe_by_share_code(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    group = await open_group(gql, settings, size=2)
    (second,) = await shoppers(settings, 1)

    code = f"  {group['shareCode'].lower()} "
    async with subscribe(app, PROGRESS, {"code": code}) as live:
        snapshot = await live.event()
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(join_in_turn(gql, group["id"], [second]))
            events = await live.until_complete()

    assert (snapshot["event"], snapshot["group"]["id"]) == ("SNAPSHOT", group["id"])
    assert column(events, "event") == ["JOINED", "FILLED"]
    assert column(events, "memberCount") == [2, 2]


async def test_a_filled_group_gives_its_snapshot_and_completes_at_once(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    group = await open_group(gql, settings, size=2)
    (second,) = await shoppers(settings, 1)
    await join_in_turn(gql, group["id"], [second])

    for variables in ({"id": group["id"]}, {"code": group["shareCode"]}):
        async with subscribe(app, PROGRESS, variables) as live:
            snapshot = await live.event()
            await live.completes()
        assert snapshot["event"] == "SNAPSHOT"
        assert (snapshot["status"], snapshot["memberCount"], snapshot["slotsLeft"]) == (
            "FILLED",
            2,
            0,
        )
        assert snapshot["secondsLeft"] == 0
        assert snapshot["group"]["members"] == [{"paid": True}] * 2


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        (PROGRESS, {"id": to_global_id(NodeType.GROUP, 987654)}, "NOT_FOUND"),
        (PROGRESS, {"code": "NOSUCHCD"}, "NOT_FOUND"),
        (PROGRESS, {}, "INVALID_ARGUMENTS"),
        (PROGRESS, {"code": "AB\x00CD"}, "INVALID_TEXT"),
        (ACTIVITY, {"offer": to_global_id(NodeType.GROUP_BUY, 987654)}, "NOT_FOUND"),
    ],
)
async def test_unknown_targets_get_a_graphql_error_not_a_hang(
    app: Starlette, query: str, variables: dict[str, Any], code: str
) -> None:
    async with subscribe(app, query, variables) as live:
        assert await refusal(live) == [code]


async def test_groups_of_a_product_off_sale_cannot_be_watched_by_the_public(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer(group_size=3)
    group = (await start(gql, (await shoppers(settings, 1))[0], offer.id))["group"]
    await Product.filter(id=offer.product_id).update(status=ProductStatus.DRAFT)

    for query, variables in [
        (PROGRESS, {"code": group["shareCode"]}),
        (PROGRESS, {"id": group["id"]}),
        (ACTIVITY, {"offer": to_global_id(NodeType.GROUP_BUY, offer.id)}),
    ]:
        async with subscribe(app, query, variables) as live:
            assert await refusal(live) == ["NOT_FOUND"]


async def refusal(live: Subscription) -> list[str]:
    """The error codes a refused subscription ends with."""
    message = await live.message()
    if message["type"] == "next":  # an execution error, then the end of the stream
        errors = message["payload"]["errors"]
        assert message["payload"].get("data") is None
        await live.completes()
    else:  # a request error ends the operation by itself
        assert message["type"] == "error", message
        errors = message["payload"]
    return [e["extensions"]["code"] for e in errors]


# ---- 4. one offer's activity, and only that offer's ---------------------------


async def test_group_buy_activity_follows_one_offer_only(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    watched = await factories.offer(group_size=2)
    other = await factories.offer(group_size=2)
    people = iter(await shoppers(settings, 6))
    offer_id = to_global_id(NodeType.GROUP_BUY, watched.id)

    async with subscribe(app, ACTIVITY, {"offer": offer_id}) as live:
        await wait_for_listener(
            app.state.runtime.redis, app.state.runtime.progress.offer_channel(watched.id)
        )
        first = (await start(gql, next(people), watched.id))["group"]["id"]
        # The other offer's whole life happens before the watched offer's last events:
        # had any of it leaked, it would arrive before them.
        elsewhere = (await start(gql, next(people), other.id))["group"]["id"]
        await join_in_turn(gql, elsewhere, [next(people)])
        second = (await start(gql, next(people), watched.id))["group"]["id"]
        await join_in_turn(gql, first, [next(people)])
        seen: list[Progress] = []
        while not seen or (seen[-1]["event"], seen[-1]["group"]["id"]) != ("FILLED", first):
            seen.append(await live.event())

    assert [(e["event"], e["group"]["id"]) for e in seen] == [
        ("JOINED", first),
        ("PAID", first),
        ("JOINED", second),
        ("PAID", second),
        ("JOINED", first),
        ("FILLED", first),
    ]
    assert column(seen, "memberCount") == [1, 1, 1, 1, 2, 2]
    assert column(seen, "status") == ["OPEN", "OPEN", "OPEN", "OPEN", "OPEN", "FILLED"]


# ---- 5. subscribe on one server, join on another -------------------------------


@pytest.mark.skipif(
    not (PG_URL and REDIS_URL), reason="needs PostgreSQL and Redis shared by processes"
)
async def test_subscriber_on_one_server_sees_joins_made_on_another(
    app: Starlette, settings: Settings
) -> None:
    offer = await factories.offer(group_size=3)
    leader, *joiners = await shoppers(settings, 3)
    env = {
        "PINTUAN_DATABASE_URL": settings.database_url,
        "PINTUAN_REDIS_URL": settings.redis_url or "",
        "PINTUAN_SECRET_KEY": TEST_SECRET_KEY,
        "PINTUAN_RUN_SCHEDULER": "false",
        "PINTUAN_LOG_LEVEL": "WARNING",
    }
    with running_servers(2, env) as (server_a, server_b):
        async with httpx.AsyncClient(base_url=server_b) as http_b:
            on_b = GraphQLClient(http_b)
            group = (await start(on_b, leader, offer.id))["group"]
            ws_url = server_a.replace("http://", "ws://") + "/graphql"
            transport = WebsocketsTransport(
                url=ws_url, subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL]
            )
            request = GraphQLRequest(PROGRESS, variable_values={"id": group["id"]})
            async with asyncio.timeout(3 * WAIT_SECONDS), Client(transport=transport) as session:
                stream = session.subscribe(request)
                snapshot = (await anext(stream))["groupProgress"]
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(join_in_turn(on_b, group["id"], joiners))
                    events = [result["groupProgress"] async for result in stream]

    assert transport.subprotocol == WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL
    assert (snapshot["event"], snapshot["memberCount"]) == ("SNAPSHOT", 1)
    assert column(events, "event") == ["JOINED", "PAID", "JOINED", "FILLED"]
    assert column(events, "memberCount") == [2, 2, 3, 3]
    assert events[-1]["group"]["members"] == [{"paid": True}] * 3


# ---- 6. the live layer loses everything mid-way --------------------------------


async def test_progress_survives_a_flushed_live_layer(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer(group_size=4)
    leader, *joiners = await shoppers(settings, 4)
    group = (await start(gql, leader, offer.id))["group"]
    pk = from_global_id(group["id"])[1]
    progress: GroupProgress = app.state.runtime.progress
    redis: Redis = app.state.runtime.redis

    async with subscribe(app, PROGRESS, {"id": group["id"]}) as early:
        assert (await early.event())["memberCount"] == 1
        await join_in_turn(gql, group["id"], joiners[:1])
        assert [(await early.event())["event"] for _ in range(2)] == ["JOINED", "PAID"]

        await redis.flushdb()
        assert await progress.read(pk) is None

        async with subscribe(app, PROGRESS, {"id": group["id"]}) as late:
            snapshot = await late.event()
            rebuilt = await progress.read(pk)
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(join_in_turn(gql, group["id"], joiners[1:]))
                late_events = await late.until_complete()
                early_events = await early.until_complete()

    assert snapshot["event"] == "SNAPSHOT"
    assert (snapshot["memberCount"], snapshot["slotsLeft"], snapshot["status"]) == (2, 2, "OPEN")
    assert rebuilt is not None and rebuilt.member_count == 2
    for events in (early_events, late_events):
        assert column(events, "event") == ["JOINED", "PAID", "JOINED", "FILLED"]
        assert column(events, "memberCount") == [3, 3, 4, 4]
    assert await progress.read(pk) is not None  # mirrored again by the later changes


# ---- 7. one rendering per change, never shared across viewers -------------------

MEMBERS = """subscription($id: ID) {
  groupProgress(groupId: $id) { event memberCount group { members { paid user { id } } } }
}"""
LEADER_EMAIL = """subscription($id: ID) {
  groupProgress(groupId: $id) { event memberCount group { leader { email } } }
}"""


async def deliveries_of_one_join(
    app: Starlette,
    gql: GraphQLClient,
    settings: Settings,
    watchers: int,
    sql: list[str],
    signed_in: bool,
) -> list[list[Progress]]:
    """What ``watchers`` subscribers of a new group receive for one join; SQL counted meanwhile.

    Signed in, each watcher is a different user.
    """
    group = await open_group(gql, settings, size=3)
    (second,) = await shoppers(settings, 1)
    credentials = await shoppers(settings, watchers) if signed_in else [None] * watchers
    async with AsyncExitStack() as stack:
        subs = [
            await stack.enter_async_context(
                subscribe(app, MEMBERS, {"id": group["id"]}, init=headers)
            )
            for headers in credentials
        ]
        for sub in subs:
            assert (await sub.event())["event"] == "SNAPSHOT"
        sql.clear()
        await join_in_turn(gql, group["id"], [second])
        return [[await sub.event() for _ in range(2)] for sub in subs]


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
async def test_a_change_is_rendered_once_for_all_its_watchers(
    app: Starlette,
    gql: GraphQLClient,
    settings: Settings,
    sql_statements: list[str],
    signed_in: bool,
) -> None:
    """The database work behind an event does not grow with the number of watchers, when
    what they asked for does not depend on who they are."""
    alone = await deliveries_of_one_join(app, gql, settings, 1, sql_statements, signed_in)
    statements_alone = len(sql_statements)
    crowd = await deliveries_of_one_join(app, gql, settings, 12, sql_statements, signed_in)

    assert len(sql_statements) == statements_alone
    assert [column(events, "event") for events in alone + crowd] == [["JOINED", "PAID"]] * 13
    assert all(events == crowd[0] for events in crowd)
    assert [len(e["group"]["members"]) for e in crowd[0]] == [2, 2]


async def test_watchers_never_see_fields_rendered_for_another_viewer(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer(group_size=3)
    leader_account = await factories.user()
    leader = factories.bearer(leader_account, settings)
    (second,) = await shoppers(settings, 1)
    group = (await start(gql, leader, offer.id))["group"]
    variables = {"id": group["id"]}

    async with (
        subscribe(app, LEADER_EMAIL, variables) as stranger,
        subscribe(app, LEADER_EMAIL, variables, init=leader) as themself,
        subscribe(app, LEADER_EMAIL, variables) as another_stranger,
    ):
        for sub in (stranger, themself, another_stranger):
            assert (await sub.event())["event"] == "SNAPSHOT"
        await join_in_turn(gql, group["id"], [second])
        seen = {
            name: [await sub.event() for _ in range(2)]
            for name, sub in (
                ("stranger", stranger),
                ("themself", themself),
                ("another", another_stranger),
            )
        }

    emails = {
        name: [e["group"]["leader"]["email"] for e in events] for name, events in seen.items()
    }
    assert emails == {
        "stranger": [None, None],
        "themself": [leader_account.email] * 2,
        "another": [None, None],
    }


async def test_two_subscriptions_on_one_connection_each_get_their_own_id(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    group = await open_group(gql, settings, size=3)
    (second,) = await shoppers(settings, 1)
    payload = {"query": MEMBERS, "variables": {"id": group["id"]}}

    received: dict[str, list[str]] = {"1": [], "2": []}

    async def receive_until(total: int) -> None:
        async with asyncio.timeout(WAIT_SECONDS):
            while sum(map(len, received.values())) < total:
                message = await live.ws.receive_json()
                if message["type"] == "next":
                    progress = message["payload"]["data"]["groupProgress"]
                    received[message["id"]].append(progress["event"])

    async with subscribe(app, MEMBERS, {"id": group["id"]}) as live:
        await live.ws.send_json({"id": "2", "type": "subscribe", "payload": payload})
        await receive_until(2)  # both snapshots: both are listening
        await join_in_turn(gql, group["id"], [second])
        await receive_until(6)

    assert received == {"1": ["SNAPSHOT", "JOINED", "PAID"], "2": ["SNAPSHOT", "JOINED", "PAID"]}


async def test_the_legacy_graphql_ws_protocol_still_receives_every_event(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    """graphql-ws has no operation to push onto; its events go through Strawberry."""
    group = await open_group(gql, settings, size=2)
    (second,) = await shoppers(settings, 1)
    transport = ASGIWebSocketTransport(app=app)
    events: list[str] = []
    ws: AsyncWebSocketSession
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
        aconnect_ws("/graphql", client, subprotocols=["graphql-ws"]) as ws,
        asyncio.timeout(WAIT_SECONDS),
    ):
        await ws.send_json({"type": "connection_init", "payload": {}})
        payload = {"query": MEMBERS, "variables": {"id": group["id"]}}
        await ws.send_json({"id": "1", "type": "start", "payload": payload})
        while True:
            message = await ws.receive_json()
            if message["type"] == "data":
                events.append(message["payload"]["data"]["groupProgress"]["event"])
                if events == ["SNAPSHOT"]:
                    await join_in_turn(gql, group["id"], [second])
            elif message["type"] == "complete":
                break

    assert events == ["SNAPSHOT", "JOINED", "FILLED"]


async def test_the_last_watcher_leaving_ends_the_channel_subscription(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    group = await open_group(gql, settings, size=3)
    progress: GroupProgress = app.state.runtime.progress
    channel = progress.group_channel(from_global_id(group["id"])[1])

    async def listeners() -> int:
        [(_, count)] = await progress.redis.pubsub_numsub(channel)
        return int(count)

    async with subscribe(app, MEMBERS, {"id": group["id"]}) as first:
        await first.event()
        async with subscribe(app, MEMBERS, {"id": group["id"]}) as second:
            await second.event()
            assert await listeners() == 1  # one per process, however many watch
        assert await listeners() == 1
    async with asyncio.timeout(WAIT_SECONDS):
        while await listeners():  # noqa: ASYNC110 - Redis is polled, nothing to wait on here
            await asyncio.sleep(0.01)


async def test_an_event_that_cannot_be_rendered_reaches_its_watchers_as_an_error(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    group = await open_group(gql, settings, size=3)
    pk = from_global_id(group["id"])[1]
    progress: GroupProgress = app.state.runtime.progress
    mirrored = await progress.read(pk)
    assert mirrored is not None
    vanished = replace(mirrored, group_id=pk + 10_000, version=mirrored.version + 1)

    async with subscribe(app, MEMBERS, {"id": group["id"]}) as live:
        assert (await live.event())["event"] == "SNAPSHOT"
        await progress.bus.publish(
            progress.group_channel(pk), {"event": "JOINED", "state": vanished.to_json()}
        )
        message = await live.message()

    assert message["type"] == "next"
    assert message["payload"]["data"] is None
    [error] = message["payload"]["errors"]
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["path"] == ["groupProgress", "group"]

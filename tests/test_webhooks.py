"""The webhook gateway: orders wait for a signed event; each event counts once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.groupbuys import expiry
from pintuan.groupbuys.gateways import sign_webhook
from pintuan.groupbuys.models import Group
from pintuan.groupbuys.order_models import (
    Order,
    OrderStatus,
    PaymentEvent,
    PaymentTransaction,
    TransactionKind,
)
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient
from tests.groupbuy_ops import UPDATE_OFFER, join, start

SECRET = "webhook-secret-for-tests"


@pytest.fixture
async def webhook_app(make_app: Any) -> AsyncIterator[Starlette]:
    async with make_app(payment_gateway="webhook", webhook_secret=SECRET) as app:
        yield app


@pytest.fixture
async def client(webhook_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=webhook_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


async def deliver(
    http: httpx.AsyncClient, event: dict[str, Any], *, secret: str = SECRET
) -> httpx.Response:
    body = json.dumps(event).encode()
    return await http.post(
        "/webhooks/payments",
        content=body,
        headers={"x-pintuan-signature": sign_webhook(secret, body)},
    )


def refusal_code(response: httpx.Response) -> str:
    """The code of a refused event, in the shape every edge refusal has."""
    return str(response.json()["errors"][0]["extensions"]["code"])


def succeeded(order_id: str, event_id: str = "evt_1") -> dict[str, Any]:
    return {"id": event_id, "type": "payment.succeeded", "orderId": order_id, "reference": "ch_9"}


async def pending_group(client: httpx.AsyncClient, settings: Settings) -> dict[str, Any]:
    offer = await factories.offer(group_size=2)
    return await start(
        GraphQLClient(client), factories.bearer(await factories.user(), settings), offer.id
    )


async def test_orders_wait_for_payment_holding_their_slot(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    started = await pending_group(client, settings)

    assert started["userErrors"] == []
    assert started["order"]["status"] == "PENDING_PAYMENT"
    assert started["group"]["memberCount"] == 1
    order = await Order.get()
    assert order.payment_due_at is not None
    assert order.payment_due_at - datetime.now(UTC) <= timedelta(minutes=10)


async def test_a_valid_event_pays_once_and_replays_change_nothing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    started = await pending_group(client, settings)
    event = succeeded(started["order"]["id"])

    first = await deliver(client, event)
    replay = await deliver(client, event)

    assert first.json() == {"outcome": "PAID"}
    assert replay.json() == {"outcome": "DUPLICATE"}
    assert (await Order.get()).status == OrderStatus.PAID
    assert await PaymentTransaction.filter(kind=TransactionKind.CHARGE).count() == 1
    assert (await Group.get()).paid_count == 1


async def test_the_last_payment_fills_the_group(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    started = await pending_group(client, settings)
    joined = await join(
        GraphQLClient(client),
        factories.bearer(await factories.user(), settings),
        started["group"]["id"],
    )
    await deliver(client, succeeded(started["order"]["id"], "evt_a"))
    assert (await Group.get()).status == "OPEN"

    await deliver(client, succeeded(joined["order"]["id"], "evt_b"))

    group = await Group.get()
    assert (group.status, group.paid_count) == ("FILLED", 2)


async def test_a_bad_signature_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    started = await pending_group(client, settings)
    event = succeeded(started["order"]["id"])
    body = json.dumps(event).encode()

    forged = await deliver(client, event, secret="not-the-secret")
    tampered = await client.post(
        "/webhooks/payments",
        content=body.replace(b"ch_9", b"ch_8"),
        headers={"x-pintuan-signature": sign_webhook(SECRET, body)},
    )
    unsigned = await client.post("/webhooks/payments", content=body)

    assert [r.status_code for r in (forged, tampered, unsigned)] == [401, 401, 401]
    assert {refusal_code(r) for r in (forged, tampered, unsigned)} == {"INVALID_SIGNATURE"}
    assert (await Order.get()).status == OrderStatus.PENDING_PAYMENT
    assert await PaymentTransaction.all().count() == 0


async def test_a_failed_payment_releases_the_slot(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    started = await pending_group(client, settings)
    event = {"id": "evt_f", "type": "payment.failed", "orderId": started["order"]["id"]}

    response = await deliver(client, event)

    assert response.json() == {"outcome": "DECLINED"}
    assert (await Order.get()).status == OrderStatus.CANCELLED
    assert (await Group.get()).slots_taken == 0


async def test_a_payment_after_the_window_is_refunded(
    webhook_app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    started = await pending_group(client, settings)
    order = await Order.get()
    await Order.filter(id=order.id).update(payment_due_at=datetime.now(UTC) - timedelta(seconds=1))
    assert await expiry.sweep(webhook_app.state.runtime) == 1
    assert (await Order.get()).status == OrderStatus.CANCELLED

    late = await deliver(client, succeeded(started["order"]["id"], "evt_late"))

    assert late.json() == {"outcome": "LATE_REFUNDED"}
    order = await Order.get()
    assert order.status == OrderStatus.REFUNDED
    kinds: list[Any] = sorted(
        await PaymentTransaction.filter(order_id=order.id).values_list("kind", flat=True)
    )
    assert kinds == ["CHARGE", "REFUND"]
    assert (await Group.get()).slots_taken == 0


async def test_extending_the_offer_gives_members_still_paying_their_full_window(
    webhook_app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    old_end = datetime.now(UTC) + timedelta(minutes=2)
    offer = await factories.offer(group_size=2, ends_at=old_end)
    leader = factories.bearer(await factories.user(), settings)
    started = await start(GraphQLClient(client), leader, offer.id)
    order = await Order.get()
    assert order.payment_due_at == old_end  # the group's timer, cut by the offer's end
    staff = factories.bearer(await factories.user(staff_of=await offer.merchant), settings)
    new_end = (old_end + timedelta(hours=5)).isoformat()
    extension = {"id": to_global_id(NodeType.GROUP_BUY, offer.id), "endsAt": new_end}

    body = await GraphQLClient(client)(UPDATE_OFFER, {"i": extension}, staff)

    assert body["data"]["groupBuyUpdate"]["userErrors"] == []
    full_window = order.created_at + timedelta(minutes=10)
    assert (await Order.get()).payment_due_at == full_window
    runtime = webhook_app.state.runtime
    deadline = await runtime.redis.zscore(runtime.payment_deadlines.key, str(order.id))
    assert deadline == full_window.timestamp()
    assert not await expiry.lapse_payment(order.id, runtime)  # claimed at the old time
    paid = await deliver(client, succeeded(started["order"]["id"]))
    assert paid.json() == {"outcome": "PAID"}


async def test_malformed_events_are_refused(client: httpx.AsyncClient, settings: Settings) -> None:
    order_id = (await pending_group(client, settings))["order"]["id"]
    for event in (
        {"type": "payment.succeeded"},
        {"id": "e", "type": "x", "orderId": "nope"},
        succeeded(order_id, event_id="e" * 101),  # longer than any id we can record
        succeeded(order_id) | {"reference": "r" * 101},
        succeeded(order_id) | {"type": "payment." + "x" * 30},
    ):
        refused = await deliver(client, event)
        assert (refused.status_code, refusal_code(refused)) == (400, "MALFORMED_EVENT"), event
    assert (await Order.get()).status == OrderStatus.PENDING_PAYMENT
    body = b"not json"
    response = await client.post(
        "/webhooks/payments",
        content=body,
        headers={"x-pintuan-signature": sign_webhook(SECRET, body)},
    )
    assert (response.status_code, refusal_code(response)) == (400, "MALFORMED_EVENT")


def refund_spy(app: Starlette, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The orders the gateway was asked to refund."""
    asked: list[int] = []

    async def refund(order_id: int, amount: int, currency: str) -> str:
        asked.append(order_id)
        return f"re_{order_id}"

    monkeypatch.setattr(app.state.runtime.gateway, "refund", refund)
    return asked


async def assert_never_charged(order_id: int) -> None:
    order = await Order.get(id=order_id)
    assert (order.status, order.refunded_at) == (OrderStatus.CANCELLED, None)
    assert await PaymentTransaction.filter(order_id=order_id).count() == 0


async def test_a_payment_claimed_for_a_declined_order_is_recorded_and_ignored(
    webhook_app: Starlette,
    client: httpx.AsyncClient,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refunds = refund_spy(webhook_app, monkeypatch)
    started = await pending_group(client, settings)
    failed = {"id": "evt_f", "type": "payment.failed", "orderId": started["order"]["id"]}
    assert (await deliver(client, failed)).json() == {"outcome": "DECLINED"}

    stray = await deliver(client, succeeded(started["order"]["id"], "evt_stray"))

    assert stray.json() == {"outcome": "IGNORED"}
    order = await Order.get()
    await assert_never_charged(order.id)
    assert refunds == []
    assert await PaymentEvent.filter(event_id="evt_stray", outcome="IGNORED").exists()


async def test_the_instant_gateway_believes_no_payment_event(
    make_app: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with make_app(payment_gateway="instant", webhook_secret=SECRET) as app:
        refunds = refund_spy(app, monkeypatch)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            offer = await factories.offer(group_size=2)
            buyer = factories.bearer(await factories.user(), settings)
            declined = await start(GraphQLClient(http), buyer, offer.id, token="tok_decline")
            assert declined["order"]["status"] == "CANCELLED"

            forged = await deliver(http, succeeded(declined["order"]["id"], "evt_forged"))

        assert forged.json() == {"outcome": "IGNORED"}
        await assert_never_charged((await Order.get()).id)
        assert refunds == []
        assert await PaymentEvent.filter(event_id="evt_forged", outcome="IGNORED").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "evt\x00"),
        ("type", "payment.succeeded\x00"),
        ("id", "evt\ud800"),
        ("reference", "\udfff"),
    ],
)
async def test_events_with_unstorable_text_are_refused_with_a_code_and_recorded_nowhere(
    client: httpx.AsyncClient, settings: Settings, field: str, value: str
) -> None:
    order_id = (await pending_group(client, settings))["order"]["id"]

    response = await deliver(client, succeeded(order_id) | {field: value})

    assert response.status_code == 400
    assert refusal_code(response) == "INVALID_TEXT"
    assert (await Order.get()).status == OrderStatus.PENDING_PAYMENT
    assert await PaymentEvent.all().count() == 0
    assert await PaymentTransaction.all().count() == 0

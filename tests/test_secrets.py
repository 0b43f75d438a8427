"""No secret written in the source is accepted: a debug server makes its own key, and
payment webhooks stay shut until their secret is configured."""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from starlette.applications import Starlette

from pintuan.accounts.keyfile import key_file_path
from pintuan.groupbuys.gateways import sign_webhook
from pintuan.groupbuys.order_models import Order, PaymentEvent, PaymentTransaction
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient
from tests.groupbuy_ops import start

# The keys that shipped in settings.py: anyone could read them.
OLD_DEV_SECRET_KEY = "pintuan-development-secret-key-not-for-production"
OLD_DEV_WEBHOOK_SECRET = "pintuan-development-webhook-secret"
ME = "{ me { email } }"
SIGN_IN = """mutation($email: String!, $password: String!) {
  tokenCreate(input: { email: $email, password: $password }) { accessToken } }"""


@pytest.fixture(autouse=True)
def key_file_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings) -> None:
    """Where the database is not a file the key lives in the working directory."""
    monkeypatch.chdir(tmp_path)
    key_file_path(settings).unlink(missing_ok=True)


@asynccontextmanager
async def client_of(app: Starlette) -> AsyncIterator[GraphQLClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield GraphQLClient(http)


def old_dev_token(user_id: int, settings: Settings) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "sid": uuid.uuid4().hex,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    return jwt.encode(claims, OLD_DEV_SECRET_KEY, algorithm="HS256")


async def test_a_token_signed_with_the_old_development_key_is_refused(
    make_app: Any, settings: Settings
) -> None:
    """A server started with no PINTUAN_SECRET_KEY, as the demo is, takes the
    settings' own default: it must not be a key anyone can read."""
    unconfigured = Settings.from_env({}).secret_key
    async with make_app(secret_key=unconfigured) as app, client_of(app) as gql:
        admin = await factories.user(admin=True)
        headers = {"authorization": f"Bearer {old_dev_token(admin.id, settings)}"}

        response = await gql.post(ME, headers=headers)

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_debug_server_generates_its_key_once_and_keeps_it_private(
    make_app: Any, settings: Settings
) -> None:
    async with make_app(secret_key="") as app, client_of(app) as gql:
        await factories.user("keep@example.com")
        signed_in = await gql(
            SIGN_IN, {"email": "keep@example.com", "password": factories.DEFAULT_PASSWORD}
        )
        token = signed_in["data"]["tokenCreate"]["accessToken"]
    key_file = key_file_path(settings)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text()

    async with make_app(secret_key="") as restarted, client_of(restarted) as gql:
        await factories.user("keep@example.com")  # the tables start empty again, same id
        after_restart = await gql.post(ME, headers={"authorization": f"Bearer {token}"})

    assert key_file.read_text() == key
    assert after_restart.status_code == 200, after_restart.text


async def signed_event(http: httpx.AsyncClient, order_id: str, secret: str) -> httpx.Response:
    event = {"id": "evt_x", "type": "payment.succeeded", "orderId": order_id, "reference": "ch"}
    body = json.dumps(event).encode()
    return await http.post(
        "/webhooks/payments",
        content=body,
        headers={"x-pintuan-signature": sign_webhook(secret, body)},
    )


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param({"debug": True, "payment_gateway": "webhook"}, id="debug-webhook-gateway"),
        pytest.param({"debug": False, "payment_gateway": "instant"}, id="production-instant"),
    ],
)
async def test_webhooks_without_a_configured_secret_are_refused(
    make_app: Any, settings: Settings, mode: dict[str, Any]
) -> None:
    async with make_app(**mode) as app, client_of(app) as gql:
        offer = await factories.offer(group_size=2)
        buyer = factories.bearer(await factories.user(), settings)
        order_id = (await start(gql, buyer, offer.id))["order"]["id"]
        before = (await Order.get()).status
        ledger = await PaymentTransaction.all().count()

        responses = [
            await signed_event(gql.http, order_id, secret)
            for secret in (OLD_DEV_WEBHOOK_SECRET, "")
        ]

        assert [r.status_code for r in responses] == [503, 503]
        codes = {r.json()["errors"][0]["extensions"]["code"] for r in responses}
        assert codes == {"WEBHOOKS_NOT_CONFIGURED"}
        assert (await Order.get()).status == before
        assert await PaymentTransaction.all().count() == ledger
        assert await PaymentEvent.all().count() == 0

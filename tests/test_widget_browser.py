"""The widget in a real browser (headless system Chromium, driven by Playwright).

The API runs as a server process of its own; the page embedding the widget is
served from a second local port (another origin) under a strict Content Security
Policy. Joins are made through the API from this process, as another shopper's
browser would. Waits are Playwright's expectations with timeouts, never sleeps.
Screenshots of every state, in both locales and themes, go to ``ARTIFACTS``.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect
from starlette.applications import Starlette

from pintuan.accounts import apikeys
from pintuan.accounts.models import ApiKeyKind, Merchant, User
from pintuan.catalog.models import Product
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.groupbuys.models import Group, GroupBuy
from pintuan.settings import Settings
from tests import factories
from tests.conftest import REDIS_URL, TEST_SECRET_KEY, GraphQLClient
from tests.groupbuy_ops import join, start
from tests.servers import clean_env, free_port, running_servers, serve_command, start_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts" / "widget"
LIVE_UPDATE_MS = 1000  # a join elsewhere shows within this
STATE_MS = 8000  # a state the scheduler or the clock brings about (FAILED, ended)
RECONNECT_MS = 20_000  # a server restart plus the back-off's waits
LOCALES = ("en", "zh-CN")
THEMES = ("light", "dark")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")

PRODUCT_SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 72 72">
<rect width="72" height="72" fill="#f4e3c3"/>
<path d="M18 30h30v14a15 15 0 0 1-30 0z" fill="#8a5a2b"/>
<path d="M48 34h4a6 6 0 0 1 0 12h-5" fill="none" stroke="#8a5a2b" stroke-width="3"/>
<path d="M26 18c0 4 4 4 4 8M34 16c0 4 4 4 4 8" stroke="#b08a5a" stroke-width="2" fill="none"/>
</svg>"""
# Hostile global styles: none of them may reach inside the widget.
HOST_CSS = b"body { font-family: serif; margin: 24px; } button { background: lime !important; }"


class HostPage(BaseHTTPRequestHandler):
    """A third-party storefront: no inline script, scripts only from the API's origin."""

    api = ""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/product.svg":
            self._send(PRODUCT_SVG, "image/svg+xml")
        elif url.path == "/host.css":
            self._send(HOST_CSS, "text/css")
        else:
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            lang = query.pop("lang", "en")
            api = query.pop("api", self.api)
            attributes = "".join(f' {k}="{escape(v)}"' for k, v in query.items())
            page = (
                f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
                f'<link rel="stylesheet" href="/host.css">'
                f'<script src="{api}/embed/v1/pintuan.js" defer></script></head>'
                f"<body><h1>A brand's own shop</h1>"
                f"<pintuan-group-buy{attributes}></pintuan-group-buy></body></html>"
            )
            self._send(page.encode(), "text/html; charset=utf-8", api)

    def _send(self, body: bytes, media_type: str, api: str = "") -> None:
        api = api or self.api
        socket_origin = api.replace("http://", "ws://")
        self.send_response(200)
        self.send_header("content-type", media_type)
        self.send_header(
            "content-security-policy",
            f"default-src 'none'; script-src {api}; style-src 'self'; img-src 'self'; "
            f"connect-src {api} {socket_origin}",
        )
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is for failures."""


def server_env(database_url: str) -> dict[str, str]:
    """An API server on the tests' database and Redis, failing expired groups within 1 s."""
    return {
        "PINTUAN_DATABASE_URL": database_url,
        "PINTUAN_REDIS_URL": REDIS_URL or "",
        "PINTUAN_SECRET_KEY": TEST_SECRET_KEY,
        "PINTUAN_SWEEP_INTERVAL_SECONDS": "1",
        "PINTUAN_RUN_OUTBOX_CONSUMER": "false",
        "PINTUAN_LOG_LEVEL": "WARNING",
    }


@pytest.fixture(scope="module")
def api(database_url: str) -> Iterator[str]:
    """One API server process for the module."""
    with running_servers(1, server_env(database_url)) as (url,):
        yield url


@pytest.fixture(scope="module")
def host(api: str) -> Iterator[str]:
    """The storefront's origin: another port than the API's."""
    handler = type("Host", (HostPage,), {"api": api})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class Shop:
    merchant: Merchant
    offer: GroupBuy
    key: str
    shoppers: list[dict[str, str]]
    api: GraphQLClient
    console: list[str] = field(default_factory=list)

    @property
    def offer_id(self) -> str:
        return to_global_id(NodeType.GROUP_BUY, self.offer.id)


NAMES = ("Li Wei", "Zhang Min", "王芳", "Sam Taylor", "Chen Jie")


@pytest.fixture
async def shop(app: Starlette, settings: Settings, api: str, host: str) -> AsyncIterator[Shop]:
    """A merchant whose publishable key allows the storefront's origin, an offer of
    three with a picture, and five signed-in shoppers (no avatars: initials show)."""
    merchant = await factories.merchant(name="Yunnan Tea")
    offer = await factories.offer(merchant, group_size=3, group_price=6900, solo_price=9900)
    await Product.filter(id=offer.product_id).update(
        title="Pu'er tea cake, 357 g", images=[f"{host}/product.svg"]
    )
    created = await apikeys.create_key(merchant.id, ApiKeyKind.PUBLISHABLE, "blog", [host])
    shoppers = []
    for name in NAMES:
        account = await factories.user()
        await User.filter(id=account.id).update(display_name=name)
        shoppers.append(factories.bearer(account, settings))
    async with httpx.AsyncClient(base_url=api) as client:
        yield Shop(merchant, offer, created.secret, shoppers, GraphQLClient(client))


async def open_widget(browser: Browser, host: str, shop: Shop, **attributes: str) -> Page:
    page = await browser.new_page(viewport={"width": 520, "height": 480})
    page.on("console", lambda message: _record(shop, message))
    query = {"key": shop.key, **{k.replace("_", "-"): v for k, v in attributes.items()}}
    await page.goto(f"{host}/?{httpx.QueryParams(query)}")
    return page


def _record(shop: Shop, message: ConsoleMessage) -> None:
    shop.console.append(f"{message.type}: {message.text}")


async def screenshots(page: Page, state: str) -> None:
    """The widget in ``state`` in each locale and theme (attributes re-render in place)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    widget = page.locator("pintuan-group-buy")
    for locale in LOCALES:
        for theme in THEMES:
            await widget.evaluate(
                "(el, [l, t]) => { el.setAttribute('locale', l); el.setAttribute('theme', t); }",
                [locale, theme],
            )
            await widget.screenshot(path=ARTIFACTS / f"{state}-{locale}-{theme}.png")


def no_policy_violations(shop: Shop) -> None:
    assert [m for m in shop.console if "Content Security Policy" in m] == []


async def test_an_offer_renders_and_a_join_in_another_process_shows_within_a_second(
    chromium: Browser, host: str, shop: Shop
) -> None:
    group = (await start(shop.api, shop.shoppers[0], shop.offer.id))["group"]
    page = await open_widget(chromium, host, shop, group_buy=shop.offer_id, locale="en")
    widget = page.locator("pintuan-group-buy")
    await expect(widget.locator(".title")).to_have_text("Pu'er tea cake, 357 g")
    await expect(widget.locator(".group-price")).to_have_text("CN¥69.00")
    await expect(widget.locator(".solo-price")).to_have_text("CN¥99.00")
    row = widget.locator(".group").first
    await expect(row.locator(".needed")).to_have_text("2 more people needed")
    await expect(row.locator(".face.initials")).to_have_text(["LW"])
    await expect(widget.locator(".start")).to_have_text("Start a group")

    await join(shop.api, shop.shoppers[1], group["id"])
    await expect(row.locator(".needed")).to_have_text(
        "1 more person needed", timeout=LIVE_UPDATE_MS
    )
    await expect(row.locator(".face.initials")).to_have_text(["LW", "ZM"])
    await expect(widget.locator("[role=status]")).to_have_text("1 more person needed")

    countdown = row.locator("[data-until]")
    first = await countdown.text_content()
    assert first is not None and first.startswith("00:59:")
    await expect(countdown).not_to_have_text(first, timeout=3000)
    background = await widget.locator(".start").evaluate("b => getComputedStyle(b).backgroundColor")
    assert background != "rgb(0, 255, 0)", "the host page's button style leaked in"
    no_policy_violations(shop)
    await screenshots(page, "offer-open")

    async with page.expect_websocket() as opened:
        await page.reload()
    socket = await opened.value
    await expect(widget.locator(".group .needed")).to_have_text("1 more person needed")
    async with socket.expect_event("close"):  # the element left the page: its socket closes
        await widget.evaluate("el => el.remove()")


async def test_a_share_code_renders_its_group_until_it_fills(
    chromium: Browser, host: str, shop: Shop
) -> None:
    group = (await start(shop.api, shop.shoppers[0], shop.offer.id))["group"]
    page = await open_widget(chromium, host, shop, share_code=group["shareCode"], lang="zh-CN")
    widget = page.locator("pintuan-group-buy")
    await expect(widget.locator(".needed")).to_have_text("还差2人")
    await expect(widget.locator(".join")).to_have_text("去参团")
    await expect(widget.locator(".group-price")).to_have_text("¥69.00")
    await expect(widget.locator(".start")).to_have_count(0)
    await screenshots(page, "group-open")  # leaves it in zh-CN (the last locale)

    await join(shop.api, shop.shoppers[1], group["id"])
    await expect(widget.locator(".needed")).to_have_text("还差1人", timeout=LIVE_UPDATE_MS)
    await join(shop.api, shop.shoppers[2], group["id"])
    await expect(widget.locator(".needed")).to_have_text("已成团", timeout=LIVE_UPDATE_MS)
    await expect(widget).to_have_attribute("data-state", "FILLED")
    await expect(widget.locator(".join")).to_have_count(0)
    await expect(widget.locator(".face:not(.empty)")).to_have_count(3)
    no_policy_violations(shop)
    await screenshots(page, "group-filled")


async def test_a_group_whose_timer_runs_out_renders_failed(
    chromium: Browser, host: str, shop: Shop
) -> None:
    group = (await start(shop.api, shop.shoppers[0], shop.offer.id))["group"]
    page = await open_widget(chromium, host, shop, share_code=group["shareCode"], locale="en")
    widget = page.locator("pintuan-group-buy")
    await expect(widget.locator(".needed")).to_have_text("2 more people needed")
    row = await Group.get(share_code=group["shareCode"])
    await factories.time_group(row.id, datetime.now(UTC) + timedelta(seconds=2))
    await expect(widget).to_have_attribute("data-state", "FAILED", timeout=STATE_MS)
    await expect(widget.locator(".needed")).to_have_text("Group failed: everyone was refunded")
    await screenshots(page, "group-failed")


async def test_the_offer_ending_renders_ended(chromium: Browser, host: str, shop: Shop) -> None:
    await GroupBuy.filter(id=shop.offer.id).update(ends_at=datetime.now(UTC) + timedelta(seconds=6))
    page = await open_widget(chromium, host, shop, group_buy=shop.offer_id, locale="en")
    widget = page.locator("pintuan-group-buy")
    await expect(widget.locator(".start")).to_have_text("Start a group")
    await expect(widget.locator(".ended")).to_have_text("This offer has ended", timeout=STATE_MS)
    await expect(widget.locator(".start")).to_have_count(0)
    await screenshots(page, "offer-ended")


async def test_a_disallowed_origin_gets_no_data_and_a_message_in_the_console(
    chromium: Browser, host: str, shop: Shop, api: str
) -> None:
    elsewhere = await apikeys.create_key(
        shop.merchant.id, ApiKeyKind.PUBLISHABLE, "other shop", ["https://other.example"]
    )
    shop.key = elsewhere.secret
    page = await open_widget(chromium, host, shop, group_buy=shop.offer_id, locale="en")
    widget = page.locator("pintuan-group-buy")
    await expect(widget.locator("[part=error]")).to_have_text("Group buy unavailable")
    await expect(widget.locator(".title")).to_have_count(0)
    refusal = [m for m in shop.console if "[pintuan-group-buy]" in m]
    assert refusal and f"refused this page's origin ({host})" in refusal[0], shop.console
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{api}/graphql",
            json={"query": "{ serverTime }"},
            headers={"origin": host, "x-pintuan-key": elsewhere.secret},
        )
    assert answer.status_code == 403
    assert "access-control-allow-origin" not in answer.headers
    await screenshots(page, "origin-refused")


async def test_tab_then_enter_on_join_fires_the_join_event_with_code_and_ref(
    chromium: Browser, host: str, shop: Shop
) -> None:
    group = (await start(shop.api, shop.shoppers[0], shop.offer.id))["group"]
    page = await open_widget(
        chromium, host, shop, group_buy=shop.offer_id, locale="en", ref="SHARER42"
    )
    widget = page.locator("pintuan-group-buy")
    await expect(widget.locator(".join")).to_have_text("Join")
    await page.evaluate(
        "() => { window.joins = []; document.addEventListener('pintuan:join',"
        " e => { e.preventDefault(); window.joins.push(e.detail); }); }"
    )
    await page.keyboard.press("Tab")
    focused = await widget.evaluate("el => el.shadowRoot.activeElement?.className")
    assert focused == "join"
    await page.keyboard.press("Enter")
    joins = await page.evaluate("() => window.joins")
    assert joins == [
        {
            "action": "join",
            "groupBuyId": shop.offer_id,
            "groupId": group["id"],
            "shareCode": group["shareCode"],
            "ref": "SHARER42",
        }
    ]


async def test_the_demo_storefront_shows_the_widget_under_its_strict_policy(
    chromium: Browser, shop: Shop, api: str
) -> None:
    demo_key = await apikeys.create_key(shop.merchant.id, ApiKeyKind.PUBLISHABLE, "demo", [api])
    group = (await start(shop.api, shop.shoppers[0], shop.offer.id))["group"]
    await join(shop.api, shop.shoppers[3], group["id"])
    page = await chromium.new_page(viewport={"width": 1000, "height": 560})
    page.on("console", lambda message: _record(shop, message))
    query = httpx.QueryParams({"key": demo_key.secret, "group-buy": shop.offer_id})
    await page.goto(f"{api}/embed/demo?{query}")
    widget = page.locator("pintuan-group-buy")
    await expect(widget.locator(".group .needed")).to_have_text("1 more person needed")
    no_policy_violations(shop)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "demo.png")


async def test_after_a_dropped_connection_it_reconnects_and_resynchronises(
    chromium: Browser,
    host: str,
    shop: Shop,
    gql: GraphQLClient,
    database_url: str,
    tmp_path: Path,
) -> None:
    """The API restarts while a join is made elsewhere (in this process): no event
    reaches the widget, yet it shows the join once it is connected again."""
    port = free_port()
    env = clean_env(server_env(database_url))
    restarted = dedicated = start_server(serve_command(port), env, port, tmp_path / "a.log")
    try:
        key = await apikeys.create_key(shop.merchant.id, ApiKeyKind.PUBLISHABLE, "r", [host])
        shop.key = key.secret
        group = (await start(gql, shop.shoppers[0], shop.offer.id))["group"]
        page = await chromium.new_page()
        query = httpx.QueryParams(
            {"key": shop.key, "group-buy": shop.offer_id, "locale": "en", "api": dedicated.url}
        )
        await page.goto(f"{host}/?{query}")
        row = page.locator("pintuan-group-buy .group").first
        await expect(row.locator(".needed")).to_have_text("2 more people needed")
        dedicated.stop()
        await join(gql, shop.shoppers[1], group["id"])
        restarted = start_server(serve_command(port), env, port, tmp_path / "b.log")
        await expect(row.locator(".needed")).to_have_text(
            "1 more person needed", timeout=RECONNECT_MS
        )
    finally:
        restarted.stop()
        dedicated.stop()

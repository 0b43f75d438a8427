"""The widget's bundle, routes and merchant settings, through HTTP and the API."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
from starlette.applications import Starlette

from pintuan.accounts import apikeys
from pintuan.accounts.models import ApiKeyKind, Merchant
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient

BUNDLE = Path(__file__).parent.parent / "src/pintuan/embed/static/pintuan.js"
BUDGET_GZIPPED = 15 * 1024

SETTINGS = "query($m: ID!) { widgetSettings(merchantId: $m) { checkoutUrlTemplate defaultLocale } }"
UPDATE = """mutation($i: WidgetSettingsUpdateInput!) { widgetSettingsUpdate(input: $i) {
  widgetSettings { checkoutUrlTemplate defaultLocale } userErrors { field code } } }"""


async def _staff(shop: Merchant, settings: Settings) -> dict[str, str]:
    member = await factories.user(staff_of=shop)
    return factories.bearer(member, settings)


def test_the_bundle_with_its_websocket_client_is_under_15_kb_gzipped() -> None:
    size = len(gzip.compress(BUNDLE.read_bytes(), compresslevel=9))
    assert size < BUDGET_GZIPPED, f"{size} bytes gzipped"


async def test_the_script_is_served_to_any_page_cacheable_and_revalidated(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/embed/v1/pintuan.js", headers={"origin": "https://blog.example"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.content == BUNDLE.read_bytes()
    again = await http.get(
        "/embed/v1/pintuan.js", headers={"if-none-match": response.headers["etag"]}
    )
    assert again.status_code == 304


async def test_the_demo_page_runs_under_a_strict_policy_and_quotes_its_attributes_safely(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/embed/demo", params={"key": 'pk_"><script>', "group-buy": "x"})
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe" not in policy
    assert '<pintuan-group-buy key="pk_&quot;&gt;&lt;script&gt;" group-buy="x">' in response.text
    assert "<script>" not in response.text.replace('<script src="/embed/v1/pintuan.js"', "")


async def test_the_demo_page_is_served_outside_debug_mode_only_when_enabled(
    make_app: object,
) -> None:
    for changes, expected in (({"debug": False}, 404), ({"debug": False, "embed_demo": True}, 200)):
        async with make_app(**changes) as app:  # type: ignore[operator]
            assert isinstance(app, Starlette)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                assert (await client.get("/embed/demo")).status_code == expected
                assert (await client.get("/embed/v1/pintuan.js")).status_code == 200


async def test_widget_settings_are_the_defaults_until_the_merchant_changes_them(
    gql: GraphQLClient, settings: Settings
) -> None:
    shop = await factories.merchant()
    merchant_id = to_global_id(NodeType.MERCHANT, shop.id)
    before = await gql(SETTINGS, {"m": merchant_id})
    assert before["data"]["widgetSettings"] == {
        "checkoutUrlTemplate": None,
        "defaultLocale": "ZH_CN",
    }
    template = "https://shop.example/checkout?code={shareCode}&ref={ref}&do={action}"
    staff = await _staff(shop, settings)
    changed = await gql(
        UPDATE,
        {"i": {"merchantId": merchant_id, "checkoutUrlTemplate": template, "defaultLocale": "EN"}},
        staff,
    )
    assert changed["data"]["widgetSettingsUpdate"]["userErrors"] == []
    locale_only = await gql(
        UPDATE, {"i": {"merchantId": merchant_id, "defaultLocale": "ZH_CN"}}, staff
    )
    assert locale_only["data"]["widgetSettingsUpdate"]["widgetSettings"] == {
        "checkoutUrlTemplate": template,
        "defaultLocale": "ZH_CN",
    }
    cleared = await gql(
        UPDATE, {"i": {"merchantId": merchant_id, "checkoutUrlTemplate": None}}, staff
    )
    assert cleared["data"]["widgetSettingsUpdate"]["widgetSettings"]["checkoutUrlTemplate"] is None
    after = await gql(SETTINGS, {"m": merchant_id})
    assert after["data"]["widgetSettings"] == {
        "checkoutUrlTemplate": None,
        "defaultLocale": "ZH_CN",
    }


async def test_a_checkout_template_that_is_no_url_or_has_unknown_placeholders_is_refused(
    gql: GraphQLClient, settings: Settings
) -> None:
    shop = await factories.merchant()
    merchant_id = to_global_id(NodeType.MERCHANT, shop.id)
    staff = await _staff(shop, settings)
    for template in (
        "javascript:alert(1)",
        "https://shop.example/c?code={share_code}",
        "https://shop.example/c?code={shareCode",
        "/relative/{shareCode}",
    ):
        answer = await gql(
            UPDATE, {"i": {"merchantId": merchant_id, "checkoutUrlTemplate": template}}, staff
        )
        payload = answer["data"]["widgetSettingsUpdate"]
        assert payload["userErrors"] == [{"field": "checkoutUrlTemplate", "code": "INVALID"}]
        assert payload["widgetSettings"] is None
    unchanged = await gql(SETTINGS, {"m": merchant_id})
    assert unchanged["data"]["widgetSettings"]["checkoutUrlTemplate"] is None


async def test_widget_settings_of_no_merchant_are_null(gql: GraphQLClient) -> None:
    answer = await gql(SETTINGS, {"m": to_global_id(NodeType.MERCHANT, 999_999)})
    assert answer["data"]["widgetSettings"] is None


async def test_the_widgets_data_goes_only_to_origins_its_key_allows(gql: GraphQLClient) -> None:
    shop = await factories.merchant()
    offer = await factories.offer(shop)
    created = await apikeys.create_key(
        shop.id, ApiKeyKind.PUBLISHABLE, "blog", ["https://blog.example"]
    )
    query = "query($id: ID!) { serverTime groupBuy(id: $id) { groupPrice { amount } } }"
    variables = {"id": to_global_id(NodeType.GROUP_BUY, offer.id)}
    for origin, status in (("https://blog.example", 200), ("https://elsewhere.example", 403)):
        headers = {"origin": origin, "x-pintuan-key": created.secret}
        response = await gql.post(query, variables, headers)
        assert response.status_code == status
        if status == 200:
            assert response.json()["data"]["groupBuy"] == {"groupPrice": {"amount": 800}}
            assert response.headers["access-control-allow-origin"] == origin
        else:
            assert "data" not in response.json()
            assert "access-control-allow-origin" not in response.headers

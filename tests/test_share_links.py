"""Share links and attribution: a sharer's link, its visits, and which sharer an order
is credited to, decided once as of the order's creation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from pintuan.accounts.models import User
from pintuan.core.outbox import Consumer
from pintuan.graphql.ids import NodeType, from_global_id, to_global_id
from pintuan.groupbuys.expiry import expire_group
from pintuan.groupbuys.models import GroupBuy
from pintuan.groupbuys.order_models import Order
from pintuan.reactions import outbox_handlers
from pintuan.referrals.models import OrderAttribution, ShareVisit
from pintuan.settings import Settings, SettingsError
from tests import factories
from tests.conftest import GraphQLClient
from tests.groupbuy_ops import purchase

CREATE = """mutation($i: ShareLinkCreateInput!) { shareLinkCreate(input: $i) {
  shareLink { code url target targetId visits orders sales } userErrors { field code } } }"""
VISIT = """mutation($c: String!) { shareVisit(code: $c) {
  target targetId userErrors { field code } } }"""
LINKS = "{ me { shareLinks(first: 10) { edges { node { code visits orders sales } } } } }"


async def consume(settings: Settings) -> None:
    consumer = Consumer(outbox_handlers(settings))
    while await consumer.run_once():
        pass


async def share(
    gql: GraphQLClient, headers: dict[str, str], target: dict[str, str]
) -> dict[str, Any]:
    body = await gql(CREATE, {"i": target}, headers)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["shareLinkCreate"]
    return payload


async def link_to(gql: GraphQLClient, headers: dict[str, str], offer: GroupBuy) -> str:
    payload = await share(gql, headers, {"groupBuyId": to_global_id(NodeType.GROUP_BUY, offer.id)})
    code: str = payload["shareLink"]["code"]
    return code


async def visit(gql: GraphQLClient, code: str, headers: dict[str, str] | None = None) -> Any:
    body = await gql(VISIT, {"c": code}, headers)
    assert "errors" not in body, body
    return body["data"]["shareVisit"]


async def buy_with(
    gql: GraphQLClient, headers: dict[str, str], offer: GroupBuy, ref: str | None
) -> dict[str, Any]:
    target: dict[str, Any] = {"variantId": to_global_id(NodeType.VARIANT, offer.variant_id)}
    if ref is not None:
        target["ref"] = ref
    return await purchase(
        gql, headers, "orderCreate", target, idempotency_key=None, token="tok_visa", quantity=1
    )


async def credited_to(order: dict[str, Any]) -> int | None:
    pk = from_global_id(order["order"]["id"])[1]
    credit = await OrderAttribution.get_or_none(order_id=pk)
    return credit.sharer_id if credit else None


async def links_of(gql: GraphQLClient, headers: dict[str, str]) -> list[tuple[int, int, int]]:
    body = await gql(LINKS, None, headers)
    edges = body["data"]["me"]["shareLinks"]["edges"]
    return [(e["node"]["visits"], e["node"]["orders"], e["node"]["sales"]) for e in edges]


async def test_a_sharer_gets_one_link_per_target_with_its_code_in_the_url(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    sharer = factories.bearer(await factories.user(), settings)
    offer = await factories.offer()
    targets = {
        "productId": to_global_id(NodeType.PRODUCT, offer.product_id),
        "groupBuyId": to_global_id(NodeType.GROUP_BUY, offer.id),
    }
    made = {name: await share(gql, sharer, {name: gid}) for name, gid in targets.items()}
    again = await share(gql, sharer, {"productId": targets["productId"]})

    product_link = made["productId"]["shareLink"]
    assert again["shareLink"]["code"] == product_link["code"]
    assert made["groupBuyId"]["shareLink"]["code"] != product_link["code"]
    assert product_link["url"] == settings.share_url_base + product_link["code"]
    assert (product_link["target"], product_link["targetId"]) == ("PRODUCT", targets["productId"])
    assert made["groupBuyId"]["shareLink"]["target"] == "OFFER"


async def test_share_link_refusals_are_coded(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    sharer = factories.bearer(await factories.user(), settings)
    offer = await factories.offer()
    cases = [
        ({}, "INVALID", "productId"),
        (
            {
                "productId": to_global_id(NodeType.PRODUCT, offer.product_id),
                "groupBuyId": to_global_id(NodeType.GROUP_BUY, offer.id),
            },
            "INVALID",
            "productId",
        ),
        ({"groupId": to_global_id(NodeType.GROUP, 999)}, "NOT_FOUND", "groupId"),
    ]
    for target, code, field in cases:
        refused = await share(gql, sharer, target)
        assert refused["userErrors"] == [{"field": field, "code": code}], target
    assert [e["code"] for e in (await visit(gql, "NOPE2345"))["userErrors"]] == ["NOT_FOUND"]
    assert [e["code"] for e in (await visit(gql, "bad code!"))["userErrors"]] == ["NOT_FOUND"]


async def test_visits_are_counted_on_the_sharers_dashboard(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    sharer = factories.bearer(await factories.user(), settings)
    offer = await factories.offer()
    code = await link_to(gql, sharer, offer)

    opened = await visit(gql, code.lower())
    await visit(gql, code, factories.bearer(await factories.user(), settings))

    assert (opened["target"], opened["targetId"]) == (
        "OFFER",
        to_global_id(NodeType.GROUP_BUY, offer.id),
    )
    assert await links_of(gql, sharer) == [(2, 0, 0)]


async def test_an_order_bought_through_a_link_is_credited_to_its_sharer(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    sharer_user = await factories.user()
    sharer = factories.bearer(sharer_user, settings)
    offer = await factories.offer(solo_price=1200)
    code = await link_to(gql, sharer, offer)
    buyer = factories.bearer(await factories.user(), settings)

    bought = await buy_with(gql, buyer, offer, code)
    plain = await buy_with(gql, factories.bearer(await factories.user(), settings), offer, None)
    await consume(settings)

    assert await credited_to(bought) == sharer_user.id
    assert await credited_to(plain) is None
    assert await links_of(gql, sharer) == [(0, 1, 1200)]


async def three_visits(
    gql: GraphQLClient, settings: Settings
) -> tuple[GroupBuy, list[User], list[str], dict[str, str]]:
    """A buyer visits three sharers' links in turn; the first visit is 31 days old."""
    stale, first, second = [await factories.user() for _ in range(3)]
    offer = await factories.offer()
    codes = [
        await link_to(gql, factories.bearer(u, settings), offer) for u in (stale, first, second)
    ]
    buyer = factories.bearer(await factories.user(), settings)
    for code in codes:
        await visit(gql, code, buyer)
    await ShareVisit.filter(link__code=codes[0]).update(
        visited_at=datetime.now(UTC) - timedelta(days=31)
    )
    return offer, [stale, first, second], codes, buyer


async def test_first_touch_within_the_window_wins(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    offer, [_, first, _], codes, buyer = await three_visits(gql, settings)

    first_touch = await buy_with(gql, buyer, offer, codes[2])
    await consume(settings)

    assert await credited_to(first_touch) == first.id  # the stale visit is out of the window


async def test_last_touch_is_an_option_read_as_the_order_is_made(
    make_app: Any, settings: Settings
) -> None:
    async with (
        make_app(attribution_rule="LAST_TOUCH") as last_touch_app,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=last_touch_app), base_url="http://t"
        ) as http,
    ):
        gql = GraphQLClient(http)
        offer, [_, _, second], _, buyer = await three_visits(gql, settings)

        last_touch = await buy_with(gql, buyer, offer, None)
        await consume(settings)  # the consumer's own rule is not asked again

        assert await credited_to(last_touch) == second.id


async def test_visits_after_an_order_was_made_do_not_change_its_credit(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    early, late = await factories.user(), await factories.user()
    offer = await factories.offer()
    early_code = await link_to(gql, factories.bearer(early, settings), offer)
    late_code = await link_to(gql, factories.bearer(late, settings), offer)
    buyer = factories.bearer(await factories.user(), settings)

    bought = await buy_with(gql, buyer, offer, early_code)
    await visit(gql, late_code, buyer)  # before the payment is consumed, after the order
    await consume(replace(settings, attribution_rule="LAST_TOUCH"))

    assert await credited_to(bought) == early.id


async def test_no_one_earns_on_their_own_link(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    buyer = factories.bearer(await factories.user(), settings)
    offer = await factories.offer()
    code = await link_to(gql, buyer, offer)
    await visit(gql, code, buyer)

    bought = await buy_with(gql, buyer, offer, code)
    await consume(settings)

    assert await credited_to(bought) is None


async def test_a_refund_takes_the_sale_off_the_link(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    sharer = factories.bearer(await factories.user(), settings)
    offer = await factories.offer(group_size=3, group_price=700)
    code = await link_to(gql, sharer, offer)
    buyer = factories.bearer(await factories.user(), settings)
    target = {"groupBuyId": to_global_id(NodeType.GROUP_BUY, offer.id), "ref": code}
    started = await purchase(
        gql, buyer, "groupStart", target, idempotency_key=None, token="tok_visa", quantity=1
    )
    await consume(settings)
    assert await links_of(gql, sharer) == [(0, 1, 700)]

    group_pk = from_global_id(started["group"]["id"])[1]
    await factories.time_group(group_pk, datetime.now(UTC) - timedelta(seconds=1))
    assert await expire_group(group_pk, app.state.runtime)
    await consume(settings)

    assert await links_of(gql, sharer) == [(0, 0, 0)]
    credit = await OrderAttribution.get(order_id=from_global_id(started["order"]["id"])[1])
    assert credit.reversed


async def test_a_first_share_binds_an_unbound_buyer_only_in_that_mode(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    sharer = await factories.user()
    offer = await factories.offer()
    code = await link_to(gql, factories.bearer(sharer, settings), offer)
    unbound, bound, other = [await factories.user() for _ in range(3)]
    await User.filter(id=bound.id).update(inviter_id=other.id)
    later = await factories.user()

    for buyer in (unbound, bound):
        await buy_with(gql, factories.bearer(buyer, settings), offer, code)
    await consume(replace(settings, referral_bind_mode="FIRST_SHARE_IF_UNBOUND"))
    await buy_with(gql, factories.bearer(later, settings), offer, code)
    await consume(settings)

    inviters = {u.id: u.inviter_id for u in await User.all()}
    assert inviters[unbound.id] == sharer.id
    assert inviters[bound.id] == other.id
    assert inviters[later.id] is None  # REGISTER_ONLY, the default


async def test_a_ref_that_is_not_a_share_code_is_refused(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer()
    refused = await buy_with(gql, factories.bearer(await factories.user(), settings), offer, "x!")
    assert refused["userErrors"][0]["field"] == "ref"
    assert refused["userErrors"][0]["code"] == "INVALID"
    assert await Order.all().count() == 0


def test_unknown_bind_modes_and_rules_are_refused_at_start() -> None:
    with pytest.raises(SettingsError, match="PINTUAN_REFERRAL_BIND_MODE"):
        Settings(referral_bind_mode="ALWAYS")
    with pytest.raises(SettingsError, match="PINTUAN_ATTRIBUTION_RULE"):
        Settings.from_env({"PINTUAN_ATTRIBUTION_RULE": "MIDDLE"})

"""Buying alone through an offer: the offer's solo price, its stock, its per-person limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pintuan.catalog.models import Variant
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.groupbuys.models import GroupBuy
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient
from tests.groupbuy_ops import codes, key, purchase, start
from tests.test_groupbuys import holdings

OFFER_STOCK = """query($id: ID!) { groupBuy(id: $id) { stockRemaining } }"""


async def offer_on_sale(**terms: Any) -> GroupBuy:
    """An offer whose solo price (900) is below its variant's own price (1000)."""
    offer = await factories.offer(solo_price=1000, **terms)
    await GroupBuy.filter(id=offer.id).update(solo_price=900)
    return await GroupBuy.get(id=offer.id)


async def buy_through(
    gql: GraphQLClient,
    headers: dict[str, str],
    variant_id: int,
    offer_id: int | None,
    *,
    idempotency_key: str | None = None,
    quantity: int = 1,
    token: str = "tok_visa",
) -> dict[str, Any]:
    target: dict[str, Any] = {"variantId": to_global_id(NodeType.VARIANT, variant_id)}
    if offer_id is not None:
        target["groupBuyId"] = to_global_id(NodeType.GROUP_BUY, offer_id)
    return await purchase(
        gql,
        headers,
        "orderCreate",
        target,
        idempotency_key=idempotency_key,
        token=token,
        quantity=quantity,
    )


async def stock_remaining(gql: GraphQLClient, offer: GroupBuy) -> int:
    body = await gql(OFFER_STOCK, {"id": to_global_id(NodeType.GROUP_BUY, offer.id)})
    remaining: int = body["data"]["groupBuy"]["stockRemaining"]
    return remaining


async def test_buying_alone_through_an_offer_charges_its_solo_price_from_its_stock(
    gql: GraphQLClient, settings: Settings
) -> None:
    offer = await offer_on_sale(stock=10, stock_limit=5, per_user_limit=3)
    buyer = factories.bearer(await factories.user(), settings)

    through_offer = await buy_through(gql, buyer, offer.variant_id, offer.id, quantity=2)
    plain = await buy_through(gql, buyer, offer.variant_id, None)

    assert through_offer["userErrors"] == []
    assert through_offer["order"]["kind"] == "SOLO"
    assert through_offer["order"]["unitPrice"]["amount"] == 900
    assert through_offer["order"]["total"] == {"amount": 1800, "currency": "CNY"}
    assert plain["order"]["unitPrice"]["amount"] == 1000
    assert await stock_remaining(gql, offer) == 3  # only the offer's purchase counts
    variant = await Variant.get(id=offer.variant_id)
    assert (variant.stock_on_hand, variant.stock_reserved) == (7, 0)


async def test_the_offers_per_person_limit_counts_solo_and_group_purchases_together(
    gql: GraphQLClient, settings: Settings
) -> None:
    offer = await offer_on_sale(per_user_limit=2)
    buyer = factories.bearer(await factories.user(), settings)

    bought = await buy_through(gql, buyer, offer.variant_id, offer.id, quantity=2)
    more_alone = await buy_through(gql, buyer, offer.variant_id, offer.id)
    more_in_a_group = await start(gql, buyer, offer.id)
    without_the_offer = await buy_through(gql, buyer, offer.variant_id, None, quantity=2)

    assert bought["userErrors"] == []
    assert codes(more_alone) == ["LIMIT_EXCEEDED"]
    assert codes(more_in_a_group) == ["LIMIT_EXCEEDED"]
    assert without_the_offer["userErrors"] == []


async def test_a_declined_solo_purchase_through_an_offer_gives_back_its_stock_and_allowance(
    gql: GraphQLClient, settings: Settings
) -> None:
    offer = await offer_on_sale(per_user_limit=2, stock_limit=5)
    buyer = factories.bearer(await factories.user(), settings)

    declined = await buy_through(
        gql, buyer, offer.variant_id, offer.id, quantity=2, token="tok_decline"
    )
    again = await buy_through(gql, buyer, offer.variant_id, offer.id, quantity=2)

    assert codes(declined) == ["PAYMENT_DECLINED"]
    assert again["userErrors"] == []
    assert await stock_remaining(gql, offer) == 3


async def test_an_offer_that_does_not_fit_is_refused_and_changes_nothing(
    gql: GraphQLClient, settings: Settings
) -> None:
    offer = await offer_on_sale()
    other = await offer_on_sale()
    ended = await offer_on_sale(
        starts_at=datetime.now(UTC) - timedelta(days=2),
        ends_at=datetime.now(UTC) - timedelta(days=1),
    )
    buyer = factories.bearer(await factories.user(), settings)
    before = await holdings()

    cases = [
        (await buy_through(gql, buyer, offer.variant_id, other.id), "INVALID"),
        (await buy_through(gql, buyer, ended.variant_id, ended.id), "OFFER_NOT_ACTIVE"),
        (await buy_through(gql, buyer, offer.variant_id, 987_654), "NOT_FOUND"),
        (await buy_through(gql, buyer, offer.variant_id, offer.id, quantity=3), "LIMIT_EXCEEDED"),
    ]

    for payload, code in cases:
        assert codes(payload) == [code], (code, payload)
        field = "quantity" if code == "LIMIT_EXCEEDED" else "groupBuyId"
        assert payload["userErrors"][0]["field"] == field
    assert await holdings() == before


async def test_a_retry_naming_another_offer_reuses_the_key_for_a_different_request(
    gql: GraphQLClient, settings: Settings
) -> None:
    offer = await offer_on_sale()
    other = await offer_on_sale()
    buyer = factories.bearer(await factories.user(), settings)
    idempotency_key = key()

    first = await buy_through(
        gql, buyer, offer.variant_id, offer.id, idempotency_key=idempotency_key
    )
    again = await buy_through(
        gql, buyer, offer.variant_id, offer.id, idempotency_key=idempotency_key
    )
    without_offer = await buy_through(
        gql, buyer, offer.variant_id, None, idempotency_key=idempotency_key
    )

    another_offer = await buy_through(
        gql, buyer, offer.variant_id, other.id, idempotency_key=idempotency_key
    )

    assert again == first
    assert codes(without_offer) == ["IDEMPOTENCY_KEY_REUSED"]
    assert codes(another_offer) == ["IDEMPOTENCY_KEY_REUSED"]

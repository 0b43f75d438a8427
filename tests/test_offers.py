"""Merchants run group-buy offers: create, change what is safe, cancel with refunds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from pintuan.catalog.models import Variant
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.groupbuys.models import Group, GroupBuy, GroupStatus
from pintuan.groupbuys.order_models import Order, OrderStatus, PaymentTransaction, TransactionKind
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient
from tests.groupbuy_ops import buy, codes, join, start

FIELDS = """groupBuy { id status groupSize soloPrice { amount } groupPrice { amount }
  endsAt stockLimit stockRemaining perUserLimit } userErrors { field code message }"""
CREATE = f"mutation($i: GroupBuyCreateInput!) {{ groupBuyCreate(input: $i) {{ {FIELDS} }} }}"
UPDATE = f"mutation($i: GroupBuyUpdateInput!) {{ groupBuyUpdate(input: $i) {{ {FIELDS} }} }}"
CANCEL = f"mutation($id: ID!) {{ groupBuyCancel(id: $id) {{ {FIELDS} }} }}"


ADJUST_STOCK = (
    """mutation($i: StockAdjustInput!) { stockAdjust(input: $i) { userErrors { code } } }"""
)


def iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


@pytest.fixture
async def staff(settings: Settings) -> tuple[Variant, dict[str, str]]:
    shop = await factories.merchant()
    item = await factories.product(shop, prices=(1000,), stock=50)
    member = await factories.user(staff_of=shop)
    return await Variant.get(product_id=item.id), factories.bearer(member, settings)


def terms(variant: Variant, **changes: Any) -> dict[str, Any]:
    return {
        "variantId": to_global_id(NodeType.VARIANT, variant.id),
        "groupPrice": 700,
        "groupSize": 3,
        "startsAt": iso(timedelta(minutes=-1)),
        "endsAt": iso(timedelta(days=1)),
        "stockLimit": 30,
        "durationSeconds": 3600,
        "perUserLimit": 2,
    } | changes


async def test_create_an_offer(gql: GraphQLClient, staff: tuple[Variant, dict[str, str]]) -> None:
    variant, headers = staff
    body = await gql(CREATE, {"i": terms(variant)}, headers)
    payload = body["data"]["groupBuyCreate"]
    assert payload["userErrors"] == []
    offer = payload["groupBuy"]
    assert offer["status"] == "ACTIVE"
    assert offer["soloPrice"] == {"amount": 1000}
    assert offer["stockRemaining"] == 30

    listed = await gql(
        "query($p: ID!) { groupBuys(first: 5, productId: $p, status: ACTIVE) { totalCount } }",
        {"p": to_global_id(NodeType.PRODUCT, variant.product_id)},
    )
    assert listed["data"]["groupBuys"]["totalCount"] == 1


async def test_stock_remaining_is_what_the_variant_can_still_supply(
    gql: GraphQLClient, settings: Settings, staff: tuple[Variant, dict[str, str]]
) -> None:
    variant, headers = staff
    created = await gql(CREATE, {"i": terms(variant, stockLimit=40)}, headers)
    offer = created["data"]["groupBuyCreate"]["groupBuy"]
    query = "query($id: ID!) { groupBuy(id: $id) { stockLimit stockRemaining } }"

    async def stock() -> tuple[int, int]:
        shown = (await gql(query, {"id": offer["id"]}))["data"]["groupBuy"]
        return shown["stockLimit"], shown["stockRemaining"]

    async def adjust(delta: int) -> None:
        variables = {"i": {"variantId": to_global_id(NodeType.VARIANT, variant.id), "delta": delta}}
        adjusted = await gql(ADJUST_STOCK, variables, headers)
        assert adjusted["data"]["stockAdjust"]["userErrors"] == []

    assert await stock() == (40, 40)  # the variant has 50
    await adjust(-38)
    assert await stock() == (40, 12)
    buyer = factories.bearer(await factories.user(), settings)
    assert (await buy(gql, buyer, variant.id, quantity=5))["userErrors"] == []
    assert await stock() == (40, 7)  # a solo order took 5 of the 12
    await adjust(-7)
    assert await stock() == (40, 0)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"groupPrice": 1200}, "groupPrice"),
        ({"groupSize": 1}, "groupSize"),
        ({"durationSeconds": 10}, "durationSeconds"),
        ({"endsAt": iso(timedelta(minutes=-30))}, "endsAt"),
        ({"stockLimit": 0}, "stockLimit"),
        ({"perUserLimit": 0}, "perUserLimit"),
        ({"startsAt": "2026-11-01T10:00:00"}, "startsAt"),
    ],
)
async def test_bad_terms_are_refused(
    gql: GraphQLClient,
    staff: tuple[Variant, dict[str, str]],
    changes: dict[str, Any],
    field: str,
) -> None:
    variant, headers = staff
    payload = (await gql(CREATE, {"i": terms(variant, **changes)}, headers))["data"][
        "groupBuyCreate"
    ]
    assert payload["groupBuy"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, "INVALID")]
    assert await GroupBuy.all().count() == 0


async def test_only_safe_changes_once_groups_exist(
    gql: GraphQLClient, settings: Settings, staff: tuple[Variant, dict[str, str]]
) -> None:
    variant, headers = staff
    offer = (await gql(CREATE, {"i": terms(variant)}, headers))["data"]["groupBuyCreate"][
        "groupBuy"
    ]
    early = await gql(UPDATE, {"i": {"id": offer["id"], "groupPrice": 650}}, headers)
    assert early["data"]["groupBuyUpdate"]["groupBuy"]["groupPrice"] == {"amount": 650}

    pk = int((await GroupBuy.get()).id)
    await start(gql, factories.bearer(await factories.user(), settings), pk, quantity=2)

    locked = await gql(UPDATE, {"i": {"id": offer["id"], "groupSize": 5}}, headers)
    shorter = await gql(
        UPDATE, {"i": {"id": offer["id"], "endsAt": iso(timedelta(hours=2))}}, headers
    )
    too_little = await gql(UPDATE, {"i": {"id": offer["id"], "stockLimit": 1}}, headers)
    longer = await gql(
        UPDATE,
        {"i": {"id": offer["id"], "endsAt": iso(timedelta(days=3)), "stockLimit": 40}},
        headers,
    )

    assert codes(locked["data"]["groupBuyUpdate"]) == ["GROUPS_EXIST"]
    assert codes(shorter["data"]["groupBuyUpdate"]) == ["GROUPS_EXIST"]
    assert codes(too_little["data"]["groupBuyUpdate"]) == ["INVALID"]
    assert longer["data"]["groupBuyUpdate"]["groupBuy"]["stockRemaining"] == 38


async def test_cancelling_refunds_open_groups_and_keeps_filled_ones(
    gql: GraphQLClient, settings: Settings, staff: tuple[Variant, dict[str, str]]
) -> None:
    variant, headers = staff
    offer_id = (await gql(CREATE, {"i": terms(variant, groupSize=2)}, headers))["data"][
        "groupBuyCreate"
    ]["groupBuy"]["id"]
    pk = (await GroupBuy.get()).id
    filled = await start(gql, factories.bearer(await factories.user(), settings), pk)
    await join(gql, factories.bearer(await factories.user(), settings), filled["group"]["id"])
    await start(gql, factories.bearer(await factories.user(), settings), pk)

    cancelled = await gql(CANCEL, {"id": offer_id}, headers)
    again = await gql(CANCEL, {"id": offer_id}, headers)
    late = await start(gql, factories.bearer(await factories.user(), settings), pk)

    assert cancelled["data"]["groupBuyCancel"]["groupBuy"]["status"] == "CANCELLED"
    assert codes(again["data"]["groupBuyCancel"]) == ["ALREADY_CANCELLED"]
    assert codes(late) == ["OFFER_NOT_ACTIVE"]
    statuses: list[Any] = sorted(await Group.all().values_list("status", flat=True))
    assert statuses == [GroupStatus.CANCELLED, GroupStatus.FILLED]
    assert await Order.filter(status=OrderStatus.REFUNDED).count() == 1
    assert await Order.filter(status=OrderStatus.PAID).count() == 2
    assert await PaymentTransaction.filter(kind=TransactionKind.REFUND).count() == 1
    assert (await Variant.get(id=variant.id)).stock_on_hand == 48


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
async def test_times_with_no_utc_equivalent_are_refused_with_a_code(
    gql: GraphQLClient, staff: tuple[Variant, dict[str, str]], moment: str
) -> None:
    """An offset can carry a time past the years UTC can hold; nothing can store it."""
    variant, headers = staff
    created = await gql(CREATE, {"i": terms(variant)}, headers)
    offer_id = created["data"]["groupBuyCreate"]["groupBuy"]["id"]

    answers = [
        await gql(CREATE, {"i": terms(variant, startsAt=moment)}, headers),
        await gql(CREATE, {"i": terms(variant, endsAt=moment)}, headers),
        await gql(UPDATE, {"i": {"id": offer_id, "endsAt": moment}}, headers),
    ]

    for body in answers:
        assert body["data"] is None, body
        assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID"], body
    assert await GroupBuy.all().count() == 1
    assert (await GroupBuy.get()).ends_at > datetime.now(UTC)


async def test_times_are_kept_in_utc_whatever_offset_they_came_with(
    gql: GraphQLClient, staff: tuple[Variant, dict[str, str]]
) -> None:
    variant, headers = staff
    ends = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    in_shanghai = ends.astimezone(timezone(timedelta(hours=8))).isoformat()

    body = await gql(CREATE, {"i": terms(variant, endsAt=in_shanghai)}, headers)

    assert body["data"]["groupBuyCreate"]["groupBuy"]["endsAt"] == ends.isoformat()

"""Group buys through the API: offers, starting and joining groups, buying alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from pintuan.accounts import apikeys
from pintuan.accounts.models import ApiKeyKind
from pintuan.catalog.models import Product, ProductStatus, Variant
from pintuan.core.validation import MAX_INT
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.groupbuys.models import Group, GroupBuy, GroupMember, OfferAllowance
from pintuan.groupbuys.order_models import Order, PaymentTransaction
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient
from tests.groupbuy_ops import START, buy, codes, join, key, start


async def shopper(settings: Settings) -> dict[str, str]:
    return factories.bearer(await factories.user(), settings)


async def holdings() -> tuple[Any, ...]:
    """Everything a purchase can change, to prove a refusal changed nothing."""
    variants = sorted(await Variant.all().values_list("id", "stock_on_hand", "stock_reserved"))
    offers = sorted(await GroupBuy.all().values_list("id", "stock_taken"))
    groups = sorted(await Group.all().values_list("id", "slots_taken", "paid_count", "status"))
    return (
        variants,
        offers,
        groups,
        await Order.all().count(),
        await GroupMember.all().count(),
        sorted(await OfferAllowance.filter(quantity__gt=0).values_list("id", "quantity")),
        await PaymentTransaction.all().count(),
    )


async def test_start_then_join_until_the_group_fills(
    gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer(group_size=3, group_price=800, stock=20)
    leader = await shopper(settings)

    started = await start(gql, leader, offer.id, quantity=2)
    group = started["group"]
    assert started["userErrors"] == []
    assert started["order"]["kind"] == "GROUP"
    assert started["order"]["status"] == "PAID"
    assert started["order"]["total"] == {"amount": 1600, "currency": "CNY"}
    assert group["status"] == "OPEN"
    assert (group["memberCount"], group["slotsLeft"], group["size"]) == (1, 2, 3)
    assert 3500 < group["secondsLeft"] <= 3600

    second = await join(gql, await shopper(settings), group["id"])
    third = await join(gql, await shopper(settings), share_code=group["shareCode"].lower())

    assert second["group"]["slotsLeft"] == 1
    assert third["group"]["status"] == "FILLED"
    assert third["group"]["filledAt"] is not None
    variant = await Variant.get(id=offer.variant_id)
    assert (variant.stock_on_hand, variant.stock_reserved) == (16, 0)
    assert (await GroupBuy.get(id=offer.id)).stock_taken == 4
    assert await PaymentTransaction.all().count() == 3


async def test_group_reads(gql: GraphQLClient, settings: Settings) -> None:
    offer = await factories.offer(group_size=3)
    leader_user = await factories.user()
    started = await start(gql, factories.bearer(leader_user, settings), offer.id)
    group_id = started["group"]["id"]
    query = """query($id: ID!) { group(id: $id) {
        leader { handle } members { isLeader paid user { handle } }
        groupBuy { id groupSize status soloPrice { formatted } groupPrice { formatted }
                   stockRemaining filledGroupsCount product { title } variant { sku }
                   merchant { handle } } } }"""

    body = await gql(query, {"id": group_id})

    group = body["data"]["group"]
    assert group["leader"] == {"handle": leader_user.handle}
    assert group["members"] == [
        {"isLeader": True, "paid": True, "user": {"handle": leader_user.handle}}
    ]
    assert group["groupBuy"]["status"] == "ACTIVE"
    assert group["groupBuy"]["soloPrice"]["formatted"] == "¥10.00"
    assert group["groupBuy"]["groupPrice"]["formatted"] == "¥8.00"
    assert group["groupBuy"]["stockRemaining"] == 49
    assert group["groupBuy"]["filledGroupsCount"] == 0


async def test_open_groups_list_the_nearly_full_first(
    gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer(group_size=4)
    groups = []
    for members in (1, 3, 2):
        started = await start(gql, await shopper(settings), offer.id)
        for _ in range(members - 1):
            await join(gql, await shopper(settings), started["group"]["id"])
        groups.append(started["group"]["id"])
    full = await start(gql, await shopper(settings), offer.id)
    for _ in range(3):
        await join(gql, await shopper(settings), full["group"]["id"])
    query = """query($id: ID!, $after: String) { groupBuy(id: $id) {
        openGroups(first: 2, after: $after) { totalCount edges { node { id slotsLeft } }
        pageInfo { hasNextPage endCursor } } filledGroupsCount } }"""
    offer_id = to_global_id(NodeType.GROUP_BUY, offer.id)

    first = (await gql(query, {"id": offer_id}))["data"]["groupBuy"]
    after = first["openGroups"]["pageInfo"]["endCursor"]
    second = (await gql(query, {"id": offer_id, "after": after}))["data"]["groupBuy"]

    listed = [e["node"] for e in first["openGroups"]["edges"] + second["openGroups"]["edges"]]
    assert [n["id"] for n in listed] == [groups[1], groups[2], groups[0]]
    assert [n["slotsLeft"] for n in listed] == [1, 2, 3]
    assert first["openGroups"]["totalCount"] == 3
    assert first["filledGroupsCount"] == 1


async def test_refusals_have_codes_and_change_nothing(
    gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer(group_size=2, stock=10, per_user_limit=2)
    leader = await shopper(settings)
    started = await start(gql, leader, offer.id)
    group_id = started["group"]["id"]
    full_group = (await start(gql, await shopper(settings), offer.id))["group"]["id"]
    filler = await shopper(settings)
    await join(gql, filler, full_group)
    scheduled = await factories.offer(starts_at=datetime.now(UTC) + timedelta(hours=1))
    ended = await factories.offer(
        starts_at=datetime.now(UTC) - timedelta(days=2),
        ends_at=datetime.now(UTC) - timedelta(days=1),
    )
    before = await holdings()

    cases = [
        (await join(gql, leader, group_id), "ALREADY_MEMBER"),
        (await join(gql, await shopper(settings), full_group), "GROUP_CLOSED"),
        (await join(gql, filler, full_group), "ALREADY_MEMBER"),
        (await join(gql, await shopper(settings), group_id, quantity=3), "LIMIT_EXCEEDED"),
        (await join(gql, await shopper(settings), group_id, quantity=0), "INVALID_QUANTITY"),
        (
            await join(gql, await shopper(settings), group_id, token="tok_decline"),
            "PAYMENT_DECLINED",
        ),
        (await start(gql, await shopper(settings), scheduled.id), "OFFER_NOT_ACTIVE"),
        (await start(gql, await shopper(settings), ended.id), "OFFER_NOT_ACTIVE"),
        (await start(gql, await shopper(settings), 987_654), "NOT_FOUND"),
        (await join(gql, await shopper(settings), share_code="NOPE0000"), "NOT_FOUND"),
    ]
    for payload, code in cases:
        assert codes(payload) == [code], (code, payload)

    after = await holdings()
    assert after[:3] == before[:3]  # no stock, slot or group moved
    assert after[4:] == before[4:]
    assert after[3] == before[3] + 1  # the declined attempt is on record, cancelled


async def test_refusals_point_at_the_input_that_named_the_group(
    gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer(group_size=2)
    leader = await shopper(settings)
    group = (await start(gql, leader, offer.id))["group"]
    await join(gql, await shopper(settings), group["id"])

    def refusal(payload: dict[str, Any]) -> tuple[str, str]:
        (error,) = payload["userErrors"]
        return error["field"], error["code"]

    by_code = {"share_code": group["shareCode"]}
    assert refusal(await join(gql, leader, **by_code)) == ("shareCode", "ALREADY_MEMBER")
    late = await shopper(settings)
    assert refusal(await join(gql, late, **by_code)) == ("shareCode", "GROUP_CLOSED")
    assert refusal(await join(gql, late, group["id"])) == ("groupId", "GROUP_CLOSED")
    invalid = await join(gql, late, quantity=0, **by_code)
    assert refusal(invalid) == ("quantity", "INVALID_QUANTITY")  # other inputs keep their name


async def test_offers_of_products_taken_off_sale_refuse_buyers_and_hide_from_the_public(
    gql: GraphQLClient, settings: Settings
) -> None:
    owner = await factories.merchant()
    offer = await factories.offer(owner, group_size=3)
    group = (await start(gql, await shopper(settings), offer.id))["group"]
    query = """query($offer: ID!, $group: ID!, $code: String!) {
        groupBuy(id: $offer) { id } node(id: $offer) { id }
        group(id: $group) { id } byCode: group(shareCode: $code) { id } }"""
    variables = {
        "offer": to_global_id(NodeType.GROUP_BUY, offer.id),
        "group": group["id"],
        "code": group["shareCode"],
    }
    staff = factories.bearer(await factories.user(staff_of=owner), settings)
    outsider = await shopper(settings)

    for status in (ProductStatus.ARCHIVED, ProductStatus.DRAFT):
        await Product.filter(id=offer.product_id).update(status=status)
        before = await holdings()
        assert codes(await start(gql, await shopper(settings), offer.id)) == ["OFFER_NOT_ACTIVE"]
        assert codes(await join(gql, await shopper(settings), group["id"])) == ["OFFER_NOT_ACTIVE"]
        assert await holdings() == before

        for headers in ({}, outsider):
            hidden = (await gql(query, variables, headers=headers))["data"]
            assert hidden == {"groupBuy": None, "node": None, "group": None, "byCode": None}
        seen = (await gql(query, variables, headers=staff))["data"]
        assert seen["groupBuy"] == seen["node"] == {"id": variables["offer"]}
        assert seen["group"] == seen["byCode"] == {"id": group["id"]}

    await Product.filter(id=offer.product_id).update(status=ProductStatus.ACTIVE)
    assert codes(await join(gql, await shopper(settings), group["id"])) == []


async def test_malformed_purchase_inputs_are_refused_with_the_field_at_fault(
    gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer(group_size=3)
    buyer = await shopper(settings)
    before = await holdings()
    ok = {"groupBuyId": to_global_id(NodeType.GROUP_BUY, offer.id), "quantity": 1}
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"quantity": 0}, "INVALID_QUANTITY", "quantity"),
        ({"quantity": 1001}, "INVALID_QUANTITY", "quantity"),
        ({"idempotencyKey": ""}, "INVALID", "idempotencyKey"),
        ({"idempotencyKey": "k" * 101}, "INVALID", "idempotencyKey"),
        ({"paymentToken": ""}, "INVALID", "paymentToken"),
        ({"paymentToken": "t" * 256}, "INVALID", "paymentToken"),
    ]
    for change, code, field in cases:
        sent = ok | {"idempotencyKey": key(), "paymentToken": "tok_visa"} | change
        body = await gql(START, {"i": sent}, buyer)
        [error] = body["data"]["groupStart"]["userErrors"]
        assert (error["code"], error["field"]) == (code, field), change
    assert await holdings() == before


async def test_an_order_may_not_total_more_than_amounts_can_hold(
    gql: GraphQLClient, settings: Settings
) -> None:
    """Amounts are 32-bit minor units: a costly item times a large quantity is refused
    up front, never left half-paid by a ledger that cannot record it."""
    top = MAX_INT
    offer = await factories.offer(
        group_price=top // 2, solo_price=top, stock=10, stock_limit=10, per_user_limit=5
    )
    buyer = await shopper(settings)
    before = await holdings()

    too_much_together = await start(gql, buyer, offer.id, quantity=3)
    too_much_alone = await buy(gql, buyer, offer.variant_id, quantity=2)

    assert codes(too_much_together) == codes(too_much_alone) == ["INVALID_QUANTITY"]
    assert await holdings() == before
    most = await start(gql, buyer, offer.id, quantity=2)
    assert most["userErrors"] == []
    assert most["order"]["total"]["amount"] == 2 * (top // 2)


async def test_out_of_stock_and_group_full(gql: GraphQLClient, settings: Settings) -> None:
    offer = await factories.offer(group_size=2, stock=3, stock_limit=3, per_user_limit=3)
    started = await start(gql, await shopper(settings), offer.id, quantity=2)
    before = await holdings()

    too_many = await join(gql, await shopper(settings), started["group"]["id"], quantity=2)
    assert codes(too_many) == ["OUT_OF_STOCK"]
    assert await holdings() == before

    await join(gql, await shopper(settings), started["group"]["id"])
    exhausted = await start(gql, await shopper(settings), offer.id)
    assert codes(exhausted) == ["OUT_OF_STOCK"]


async def test_a_retried_request_returns_the_first_result(
    gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer(group_size=3)
    buyer = await shopper(settings)

    first = await start(gql, buyer, offer.id, idempotency_key="retry-1")
    again = await start(gql, buyer, offer.id, idempotency_key="retry-1")
    different = await start(gql, buyer, offer.id, idempotency_key="retry-1", quantity=2)

    assert again == first
    assert codes(different) == ["IDEMPOTENCY_KEY_REUSED"]
    assert await Group.all().count() == 1
    assert await PaymentTransaction.all().count() == 1


async def test_a_declined_payment_frees_the_slot_and_its_retry_says_declined(
    gql: GraphQLClient, settings: Settings
) -> None:
    offer = await factories.offer(group_size=2)
    group_id = (await start(gql, await shopper(settings), offer.id))["group"]["id"]
    buyer = await shopper(settings)

    declined = await join(gql, buyer, group_id, idempotency_key="k", token="tok_decline")
    replayed = await join(gql, buyer, group_id, idempotency_key="k", token="tok_decline")
    paid = await join(gql, buyer, group_id, token="tok_visa")

    assert codes(declined) == ["PAYMENT_DECLINED"]
    assert declined["order"]["status"] == "CANCELLED"
    assert codes(replayed) == ["PAYMENT_DECLINED"]
    assert paid["group"]["status"] == "FILLED"


async def test_buy_alone_at_the_solo_price(gql: GraphQLClient, settings: Settings) -> None:
    offer = await factories.offer(solo_price=1000, stock=5)
    buyer = await shopper(settings)

    bought = await buy(gql, buyer, offer.variant_id, quantity=2)
    too_many = await buy(gql, buyer, offer.variant_id, quantity=4)

    assert bought["order"]["kind"] == "SOLO"
    assert bought["order"]["status"] == "PAID"
    assert bought["order"]["total"]["amount"] == 2000
    assert bought["group"] is None
    assert codes(too_many) == ["OUT_OF_STOCK"]
    variant = await Variant.get(id=offer.variant_id)
    assert (variant.stock_on_hand, variant.stock_reserved) == (3, 0)


async def test_orders_are_readable_by_buyer_staff_and_admins_only(
    gql: GraphQLClient, settings: Settings
) -> None:
    shop = await factories.merchant()
    offer = await factories.offer(shop)
    buyer = await factories.user()
    bought = await buy(gql, factories.bearer(buyer, settings), offer.variant_id)
    query = "query($id: ID!) { node(id: $id) { ... on Order { status buyer { handle } } } }"
    variables = {"id": bought["order"]["id"]}
    readers = {
        "buyer": factories.bearer(buyer, settings),
        "staff": factories.bearer(await factories.user(staff_of=shop), settings),
        "admin": factories.bearer(await factories.user(admin=True), settings),
    }
    strangers = {
        "anonymous": {},
        "customer": factories.bearer(await factories.user(), settings),
        "other staff": factories.bearer(
            await factories.user(staff_of=await factories.merchant()), settings
        ),
    }

    for who, headers in readers.items():
        assert (await gql(query, variables, headers))["data"]["node"]["status"] == "PAID", who
    for who, headers in strangers.items():
        assert (await gql(query, variables, headers))["data"]["node"] is None, who


async def test_my_orders_and_groups(gql: GraphQLClient, settings: Settings) -> None:
    offer = await factories.offer(group_size=2)
    me = await shopper(settings)
    first = await start(gql, me, offer.id)
    await buy(gql, me, offer.variant_id)
    other = await start(gql, await shopper(settings), offer.id)
    await join(gql, me, other["group"]["id"])
    query = """{ me { orders(first: 10) { totalCount edges { node { kind } } }
        open: groups(first: 10, status: OPEN) { edges { node { id } } }
        groups(first: 10) { totalCount } } }"""

    body = (await gql(query, headers=me))["data"]["me"]

    assert body["orders"]["totalCount"] == 3
    assert [e["node"]["kind"] for e in body["orders"]["edges"]] == ["GROUP", "SOLO", "GROUP"]
    assert body["open"]["edges"] == [{"node": {"id": first["group"]["id"]}}]
    assert body["groups"]["totalCount"] == 2


async def test_buying_needs_a_signed_in_shopper(gql: GraphQLClient) -> None:
    offer = await factories.offer()
    body = await gql(
        "mutation($i: GroupStartInput!) { groupStart(input: $i) { userErrors { code } } }",
        {
            "i": {
                "groupBuyId": to_global_id(NodeType.GROUP_BUY, offer.id),
                "idempotencyKey": "k",
                "paymentToken": "t",
            }
        },
    )
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await Order.all().count() == 0


async def test_a_group_whose_slots_await_payment_is_full(make_app: Any, settings: Settings) -> None:
    async with make_app(payment_gateway="webhook") as app:
        offer = await factories.offer(group_size=2)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            client = GraphQLClient(http)
            started = await start(client, await shopper(settings), offer.id)
            await join(client, await shopper(settings), started["group"]["id"])
            before = await holdings()

            full = await join(client, await shopper(settings), started["group"]["id"])

            assert codes(full) == ["GROUP_FULL"]
            assert await holdings() == before
            assert (await Group.get()).status == "OPEN"


async def test_a_product_lists_its_offers(gql: GraphQLClient) -> None:
    offer = await factories.offer()
    query = """query($id: ID) { product(id: $id) {
        groupBuys(first: 5) { totalCount edges { node { id groupSize } } } } }"""

    body = await gql(query, {"id": to_global_id(NodeType.PRODUCT, offer.product_id)})

    offers = body["data"]["product"]["groupBuys"]
    assert offers["totalCount"] == 1
    assert offers["edges"] == [
        {"node": {"id": to_global_id(NodeType.GROUP_BUY, offer.id), "groupSize": 3}}
    ]


MERCHANT_ORDERS = """query($m: ID!, $status: OrderStatus, $after: String) {
  merchantOrders(merchantId: $m, status: $status, first: 2, after: $after) {
    edges { node { id status group { status } } } pageInfo { hasNextPage endCursor } } }"""


async def test_merchant_staff_list_their_own_orders_newest_first(
    gql: GraphQLClient, settings: Settings
) -> None:
    owner, other = await factories.merchant(), await factories.merchant()
    offer = await factories.offer(owner, group_size=2)
    group = (await start(gql, await shopper(settings), offer.id))["group"]
    await join(gql, await shopper(settings), group["id"])
    declined = await start(gql, await shopper(settings), offer.id, token="tok_decline")
    await start(gql, await shopper(settings), (await factories.offer(other)).id)
    mine = {"m": to_global_id(NodeType.MERCHANT, owner.id)}
    staff = factories.bearer(await factories.user(staff_of=owner), settings)

    first = (await gql(MERCHANT_ORDERS, mine, staff))["data"]["merchantOrders"]
    rest = (await gql(MERCHANT_ORDERS, mine | {"after": first["pageInfo"]["endCursor"]}, staff))[
        "data"
    ]["merchantOrders"]
    paid = (await gql(MERCHANT_ORDERS, mine | {"status": "PAID"}, staff))["data"]["merchantOrders"]

    listed = [edge["node"] for edge in first["edges"] + rest["edges"]]
    assert [node["status"] for node in listed] == ["CANCELLED", "PAID", "PAID"]
    assert listed[0]["id"] == declined["order"]["id"]
    assert [node["group"]["status"] for node in listed[1:]] == ["FILLED", "FILLED"]
    assert (first["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasNextPage"]) == (True, False)
    assert [edge["node"]["status"] for edge in paid["edges"]] == ["PAID", "PAID"]

    own_key = await apikeys.create_key(owner.id, ApiKeyKind.SECRET, "fulfilment", [])
    by_key = await gql(MERCHANT_ORDERS, mine, {"x-pintuan-key": own_key.secret})
    assert by_key["data"]["merchantOrders"] == first

    outsider = factories.bearer(await factories.user(staff_of=other), settings)
    other_key = await apikeys.create_key(other.id, ApiKeyKind.SECRET, "theirs", [])
    for headers, code in (
        ({}, "UNAUTHENTICATED"),
        (outsider, "FORBIDDEN"),
        ({"x-pintuan-key": other_key.secret}, "FORBIDDEN"),
    ):
        refused = await gql(MERCHANT_ORDERS, mine, headers)
        assert refused["data"] is None
        assert refused["errors"][0]["extensions"]["code"] == code

"""Resellers' invitations: the inviter's share of an invitee's sales past the plan's
threshold, counted from the invitee's real sales."""

from __future__ import annotations

from starlette.applications import Starlette

from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient
from tests.test_checkout import enrol, publish, shop
from tests.test_commission_plans import reseller_input
from tests.test_commissions_end_to_end import consume
from tests.test_promotions import earned_on
from tests.test_share_links import buy_with, link_to

PRICE = 60_000  # the plan's threshold is ¥1,000 (100,000): passed during the second sale


async def test_the_inviters_share_starts_once_the_invitees_sales_pass_the_threshold(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    merchant, staff, offer = await shop(gql, settings, price=PRICE)
    await publish(gql, staff, reseller_input(merchant))
    inviter = await factories.user()
    reseller = await factories.user(inviter=inviter)
    await enrol(gql, staff, merchant, inviter, level="V3")
    await enrol(gql, staff, merchant, reseller, level="V1")
    reseller_headers = factories.bearer(reseller, settings)
    code = await link_to(gql, reseller_headers, offer)

    sold = [
        await buy_with(gql, factories.bearer(await factories.user(), settings), offer, code)
        for _ in range(3)
    ]
    own = await buy_with(gql, reseller_headers, offer, None)
    await consume(settings)

    share = "RESELLER_INVITE_SHARE"
    assert [await earned_on(order) for order in sold] == [
        set(),  # ¥600 of ¥1,000
        {(inviter.id, share, 20_000 * 1_000 // 10_000)},  # ¥200 of this ¥600 is past it
        {(inviter.id, share, PRICE * 1_000 // 10_000)},
    ]
    assert await earned_on(own) == set()  # a reseller's own purchase is not a sale

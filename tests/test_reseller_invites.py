"""Resellers' invitations: the invite quota of their level, held at every bind, and the
inviter's share of an invitee's sales past the plan's threshold, counted from the
invitee's real sales."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest.mock import ANY

import httpx
import pytest
from starlette.applications import Starlette
from tortoise.transactions import in_transaction

from pintuan.accounts.models import User
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.referrals.quotas import InviteQuotas
from pintuan.settings import Settings
from tests import factories
from tests.conftest import PG_URL, SERIAL_SQLITE, GraphQLClient
from tests.test_accounts import register
from tests.test_checkout import enrol, publish, shop
from tests.test_commission_plans import reseller_input
from tests.test_commissions_end_to_end import consume
from tests.test_promotions import earned_on
from tests.test_referral_tree import REBIND
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


async def reseller_with_quota(
    gql: GraphQLClient, settings: Settings, level: str = "V2"
) -> tuple[User, dict[str, str]]:
    """A reseller at ``level`` (V2: a quota of 2 invitees) and the merchant's staff."""
    merchant, staff, _ = await shop(gql, settings)
    await publish(gql, staff, reseller_input(merchant))
    reseller = await factories.user()
    await enrol(gql, staff, merchant, reseller, level=level)
    return reseller, staff


async def test_registrations_at_once_with_a_resellers_code_admit_exactly_the_quota(
    make_app: Any, settings: Settings
) -> None:
    if not PG_URL:
        pytest.skip(SERIAL_SQLITE)
    async with (
        make_app(rate_limit_auth_per_minute=100) as app,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        gql = GraphQLClient(http)
        reseller, _ = await reseller_with_quota(gql, settings)

        results = await asyncio.gather(
            *(
                register(gql, email=f"friend{n}@example.com", inviteCode=reseller.invite_code)
                for n in range(6)
            )
        )

        refusals = [r["userErrors"] for r in results if r["user"] is None]
        full = [{"field": "inviteCode", "code": "INVITE_QUOTA_FULL", "message": ANY}]
        assert len([r for r in results if r["user"] is not None]) == 2
        assert refusals == [full] * 4
        assert await User.filter(inviter_id=reseller.id).count() == 2


async def test_a_full_quota_refuses_a_registration_and_a_rebind_and_others_invite_freely(
    gql: GraphQLClient, settings: Settings
) -> None:
    reseller, _ = await reseller_with_quota(gql, settings, level="V1")  # a quota of 0
    anyone = await factories.user()
    admin = factories.bearer(await factories.user(admin=True), settings)

    refused = await register(gql, email="a@example.com", inviteCode=reseller.invite_code)
    moved = await gql(
        REBIND,
        {
            "i": {
                "userId": to_global_id(NodeType.USER, anyone.id),
                "inviterId": to_global_id(NodeType.USER, reseller.id),
                "reason": "asked to",
            }
        },
        admin,
    )
    free = await register(gql, email="b@example.com", inviteCode=anyone.invite_code)

    assert refused["user"] is None
    assert refused["userErrors"][0]["code"] == "INVITE_QUOTA_FULL"
    assert moved["data"]["referralRebind"]["userErrors"][0] == {
        "field": "inviterId",
        "code": "INVITE_QUOTA_FULL",
        "message": ANY,
    }
    assert free["userErrors"] == []
    assert await User.filter(inviter_id=reseller.id).count() == 0


@pytest.mark.usefixtures("needs_concurrency")
async def test_binds_racing_between_the_count_and_the_write_still_admit_exactly_the_quota(
    gql: GraphQLClient, settings: Settings
) -> None:
    """Registration hashes its password first, which spreads requests out; here every
    bind counts before any has written, the race the per-inviter lock must win."""
    reseller, _ = await reseller_with_quota(gql, settings)

    async def bind() -> bool:
        try:
            async with in_transaction():
                await InviteQuotas().admit(reseller.id, "inviteCode")
                await factories.user(inviter=reseller)
        except DomainError as refused:
            assert refused.code is ErrorCode.INVITE_QUOTA_FULL
            return False
        return True

    admitted = await asyncio.gather(*(bind() for _ in range(10)))

    assert admitted.count(True) == 2
    assert await User.filter(inviter_id=reseller.id).count() == 2

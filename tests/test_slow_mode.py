"""Slow mode, kept on the member's row: one post per window, staff exempt."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pintuan.communities.models import Member, MemberRole
from pintuan.communities.pacing import Paced, claim_post_slot
from pintuan.core.clock import now_utc
from pintuan.settings import Settings
from tests import social_world

pytestmark = pytest.mark.usefixtures("app")


async def test_a_second_post_within_the_window_is_refused_with_the_wait(
    settings: Settings,
) -> None:
    circle = await social_world.circle(settings)
    member = await Member.get(community_id=circle.community.id, user_id=circle.users["member"].id)
    now = now_utc()
    await claim_post_slot(member, 60, now)

    with pytest.raises(Paced) as refused:
        await claim_post_slot(member, 60, now + timedelta(seconds=20))

    assert (refused.value.code, refused.value.retry_after_seconds) == ("SLOW_MODE", 40)
    await claim_post_slot(member, 60, now + timedelta(seconds=60))  # the window has passed
    row = await Member.get(id=member.id)
    assert row.last_posted_at == now + timedelta(seconds=60)


async def test_owners_and_moderators_are_exempt(settings: Settings) -> None:
    circle = await social_world.circle(settings)
    moderator = await Member.get(community_id=circle.community.id, role=MemberRole.MODERATOR)
    now = now_utc()

    for second in range(3):
        await claim_post_slot(moderator, 60, now + timedelta(seconds=second))


async def test_without_slow_mode_every_post_is_let_through(settings: Settings) -> None:
    circle = await social_world.circle(settings)
    member = await Member.get(community_id=circle.community.id, user_id=circle.users["member"].id)
    now = now_utc()

    for second in range(3):
        await claim_post_slot(member, 0, now + timedelta(seconds=second))

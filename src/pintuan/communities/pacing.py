"""How often a user may post and comment: per-user rate limits and per-community slow mode.

Rate limits are token buckets in the live layer (Redis when configured, so they
hold across processes; this process's memory when embedded): a user's posts and
comments across every community spend from one bucket each. A spent token is
given back when the write is then refused, so a refusal changes nothing.

Slow mode is the community's rule, so it is kept with the community's data: the
member row's ``last_posted_at`` is moved by a conditional UPDATE in the
transaction that writes the post. Two posts at once by one member contend for
that one row and the second sees the first's time, on every process, and a
flushed Redis cannot let anyone post early. Owners and moderators are exempt.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tortoise.expressions import Q

from pintuan.communities.models import Member, MemberRole
from pintuan.core.errors import ApiErrorCode
from pintuan.live.ratelimit import RateLimiter
from pintuan.settings import Settings

MAX_SLOW_MODE_SECONDS = 6 * 3600  # Discord's ceiling (21,600 s)


class Action(StrEnum):
    POST = "post"
    COMMENT = "comment"


@dataclass(frozen=True, slots=True)
class Budget:
    capacity: int
    window_seconds: int


def budget(action: Action, settings: Settings) -> Budget:
    if action is Action.POST:
        return Budget(settings.post_rate_limit, settings.post_rate_window_seconds)
    return Budget(settings.comment_rate_limit, settings.comment_rate_window_seconds)


class Paced(Exception):
    """Too soon, by a rate limit or a slow mode; nothing was written. The client may
    try again after ``retry_after_seconds``."""

    def __init__(self, code: ApiErrorCode, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after_seconds = retry_after_seconds


@asynccontextmanager
async def paced(
    limiter: RateLimiter, settings: Settings, action: Action, user_id: int
) -> AsyncIterator[None]:
    """Spends one of the user's ``action`` tokens for the block; refused, or the block
    failing in any way (a refusal or a fault: nothing was written), the token is given
    back."""
    limit = budget(action, settings)
    bucket = f"community:{action}:{user_id}"
    verdict = await limiter.spend(bucket, limit.capacity, limit.window_seconds)
    if not verdict.allowed:
        raise Paced(
            ApiErrorCode.RATE_LIMITED,
            f"At most {limit.capacity} {action}s per {limit.window_seconds} s; "
            f"retry in {verdict.retry_after_seconds} s.",
            verdict.retry_after_seconds,
        )
    try:
        yield
    except BaseException:
        await limiter.give_back(bucket, limit.capacity, limit.window_seconds)
        raise


def is_exempt(member: Member) -> bool:
    return member.role in (MemberRole.OWNER, MemberRole.MODERATOR)


async def claim_post_slot(member: Member, slow_mode_seconds: int, now: datetime) -> None:
    """Records ``now`` as the member's last post, unless the community's slow mode says
    it is too soon; run it in the transaction that writes the post."""
    if slow_mode_seconds <= 0 or is_exempt(member):
        await Member.filter(id=member.id).update(last_posted_at=now)
        return
    earliest = now - timedelta(seconds=slow_mode_seconds)
    due = Q(last_posted_at=None) | Q(last_posted_at__lte=earliest)
    if await Member.filter(due, id=member.id).update(last_posted_at=now):
        return
    last = await Member.filter(id=member.id).first().values_list("last_posted_at", flat=True)
    wait = slow_mode_seconds
    if isinstance(last, datetime):
        wait = max(1, math.ceil((last - earliest).total_seconds()))
    raise Paced(
        ApiErrorCode.SLOW_MODE,
        f"This community allows one post per {slow_mode_seconds} s; retry in {wait} s.",
        wait,
    )

"""Creating and changing communities: only their owner (or an admin) changes one.

The owner is the first member, so the member count starts at one and the owner
passes every visibility check as any other active member does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from pintuan.catalog.models import Product
from pintuan.communities.eligibility import RANKS
from pintuan.communities.models import (
    Community,
    CommunityKind,
    JoinPolicy,
    Member,
    MemberRole,
    MembershipModel,
    MemberState,
    Visibility,
)
from pintuan.core import sql, validation
from pintuan.core.errors import DomainError, ErrorCode

MAX_NAME = 80
MAX_DESCRIPTION = 2_000
MAX_SLOW_MODE_SECONDS = 21_600  # six hours, as Discord caps it
MAX_TERM_DAYS = 3_660
MAX_ADMITTING_PRODUCTS = 20
MAX_MEMBER_CAP = 1_000_000
MAX_PAID_ORDERS_THRESHOLD = 1_000


@dataclass(frozen=True, slots=True)
class Changes:
    """What an owner may set; a None field of an update leaves the value as it is."""

    name: str | None = None
    description: str | None = None
    kind: CommunityKind | None = None
    visibility: Visibility | None = None
    join_policy: JoinPolicy | None = None
    member_cap: int | None = None
    clear_member_cap: bool = False
    membership: MembershipModel | None = None
    term_days: int | None = None
    admitting_product_ids: Sequence[int] | None = None
    entry_min_paid_orders: int | None = None
    entry_referral_rank: str | None = None
    slow_mode_seconds: int | None = None


def _in_range(value: int, low: int, high: int, field: str) -> int:
    if not low <= value <= high:
        raise DomainError(ErrorCode.INVALID, f"Must be {low} to {high}.", field)
    return value


async def _apply(community: Community, s: Changes) -> None:
    """Validate ``s`` and copy it onto ``community``; nothing is saved here."""
    if s.name is not None:
        community.name = validation.text(s.name, "name", max_length=MAX_NAME)
    if s.description is not None:
        community.description = validation.text(
            s.description, "description", min_length=0, max_length=MAX_DESCRIPTION, multiline=True
        )
    for attr in ("kind", "visibility", "join_policy", "membership"):
        value = getattr(s, attr)
        if value is not None:
            setattr(community, attr, value)
    if s.clear_member_cap:
        community.member_cap = None
    elif s.member_cap is not None:
        floor = max(community.member_count, 1)
        community.member_cap = _in_range(s.member_cap, floor, MAX_MEMBER_CAP, "memberCap")
    if s.term_days is not None:
        community.term_days = _in_range(s.term_days, 1, MAX_TERM_DAYS, "termDays")
    if s.entry_min_paid_orders is not None:
        community.entry_min_paid_orders = _in_range(
            s.entry_min_paid_orders, 0, MAX_PAID_ORDERS_THRESHOLD, "entryMinPaidOrders"
        )
    if s.entry_referral_rank is not None:
        community.entry_referral_rank = _rank(s.entry_referral_rank)
    if s.slow_mode_seconds is not None:
        community.slow_mode_seconds = _in_range(
            s.slow_mode_seconds, 0, MAX_SLOW_MODE_SECONDS, "slowModeSeconds"
        )
    if s.admitting_product_ids is not None:
        community.admitting_product_ids = await _products(s.admitting_product_ids)
    if community.membership == MembershipModel.PAID_TERM and community.term_days is None:
        raise DomainError(ErrorCode.INVALID, "A paid term needs its length in days.", "termDays")
    if (
        community.membership == MembershipModel.WITH_PURCHASE
        and not community.admitting_product_ids
    ):
        raise DomainError(
            ErrorCode.INVALID, "Name the products whose buyers are admitted.", "admittingProductIds"
        )


def _rank(raw: str) -> str | None:
    """A referral rank (an owner tier or a reseller level), or "" to clear it."""
    if raw == "":
        return None
    if raw not in RANKS:
        raise DomainError(ErrorCode.INVALID, "Not a referral rank.", "entryReferralRank")
    return raw


async def _products(ids: Sequence[int]) -> list[int]:
    unique = list(dict.fromkeys(ids))
    if len(unique) > MAX_ADMITTING_PRODUCTS:
        raise DomainError(
            ErrorCode.INVALID,
            f"At most {MAX_ADMITTING_PRODUCTS} products.",
            "admittingProductIds",
        )
    found = set(await Product.filter(id__in=unique).values_list("id", flat=True))
    if len(found) != len(unique):
        raise DomainError(ErrorCode.NOT_FOUND, "No such product.", "admittingProductIds")
    return unique


async def create(owner_id: int, handle: str, s: Changes, now: datetime) -> Community:
    if s.name is None or s.kind is None:
        raise DomainError(ErrorCode.INVALID, "A community needs a name and a kind.", "name")
    community = Community(
        handle=validation.handle(handle),
        owner_id=owner_id,
        name="",
        kind=s.kind,
        member_count=1,
        created_at=now,
        updated_at=now,
    )
    await _apply(community, s)
    try:
        async with in_transaction():
            await community.save()
            await Member.create(
                community_id=community.id,
                user_id=owner_id,
                role=MemberRole.OWNER,
                state=MemberState.ACTIVE,
                last_active_at=now,
                joined_at=now,
                updated_at=now,
            )
    except IntegrityError:
        raise DomainError(ErrorCode.HANDLE_TAKEN, "That handle is taken.", "handle") from None
    return community


async def update(community: Community, s: Changes, now: datetime) -> Community:
    await _apply(community, s)
    community.updated_at = now
    await community.save()
    return community


@cache
def _by_handle_statement() -> str:
    return (
        f"SELECT {sql.aliased_columns(Community, 'c')}, {sql.aliased_columns(Member, 'm')} "
        f'FROM "{Community._meta.db_table}" c LEFT JOIN "{Member._meta.db_table}" m '
        "ON m.community_id = c.id AND m.user_id = $2 WHERE c.handle = $1"
    )


async def by_handle(handle: str, user_id: int | None) -> tuple[Community, Member | None] | None:
    """The community with this handle and the user's membership row there, in whatever
    state (None for none, or anonymous): one statement, where a lookup by handle is
    followed by the membership check its visibility needs."""
    found = await sql.rows(_by_handle_statement(), handle, user_id)
    if not found:
        return None
    [row] = found
    member = None if row["m__id"] is None else sql.aliased_instance(Member, "m", row)
    return sql.aliased_instance(Community, "c", row), member

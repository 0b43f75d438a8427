"""Merchant administration: creating merchants and adding their staff."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict, cast

from tortoise.exceptions import IntegrityError

from pintuan.accounts.models import Merchant, MerchantStaff, User
from pintuan.core import batch, cache_tags, validation
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.core.ids import NodeType


async def create_merchant(handle: str, name: str, logo_url: str | None) -> Merchant:
    clean_handle = validation.handle(handle)
    clean_name = validation.text(name, "name", max_length=200)
    logo = validation.url(logo_url, "logoUrl") if logo_url else None
    if await Merchant.exists(handle=clean_handle):
        raise DomainError(ErrorCode.HANDLE_TAKEN, "That handle is taken.", "handle")
    try:
        return await Merchant.create(handle=clean_handle, name=clean_name, logo_url=logo)
    except IntegrityError:
        raise DomainError(ErrorCode.HANDLE_TAKEN, "That handle is taken.", "handle") from None


async def add_staff(merchant: Merchant, user: User) -> MerchantStaff:
    if await MerchantStaff.exists(merchant_id=merchant.id, user_id=user.id):
        raise DomainError(ErrorCode.ALREADY_STAFF, "Already on this merchant's staff.", "userId")
    cache_tags.wrote(cache_tags.entity(NodeType.USER, user.id))  # their roles
    try:
        return await MerchantStaff.create(merchant=merchant, user=user)
    except IntegrityError:
        raise DomainError(
            ErrorCode.ALREADY_STAFF, "Already on this merchant's staff.", "userId"
        ) from None


async def merchant_by_id(merchant_id: int) -> Merchant | None:
    return await Merchant.get_or_none(id=merchant_id)


class MerchantView(TypedDict):
    """The columns of a merchant that reads show, read as values rather than a model
    (which parses a timestamp no read shows)."""

    id: int
    handle: str
    name: str
    logo_url: str | None


MERCHANT_VIEW = tuple(MerchantView.__annotations__)


async def merchant_views(ids: Sequence[int]) -> list[MerchantView | None]:
    rows = await batch.rows_in(Merchant._meta.db_table, "id", sorted(set(ids)), MERCHANT_VIEW)
    found = {row["id"]: cast(MerchantView, row) for row in rows}
    return [found.get(pk) for pk in ids]


def merchant_view(merchant: Merchant) -> MerchantView:
    """A merchant model as the same view, for the writes that hold models."""
    return cast(MerchantView, {name: getattr(merchant, name) for name in MERCHANT_VIEW})

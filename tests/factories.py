"""Catalog rows for tests, written the way the seed writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from argon2 import PasswordHasher

from pintuan.accounts.models import Merchant, MerchantStaff, User
from pintuan.accounts.tokens import issue_access_token, new_session_id
from pintuan.catalog.models import Product, ProductStatus, ProductTag, Variant
from pintuan.groupbuys.models import Group, GroupBuy
from pintuan.settings import Settings

_serial = count(1)
BASE_TIME = datetime(2026, 10, 1, tzinfo=UTC)
DEFAULT_PASSWORD = "correct horse battery"


async def merchant(handle: str | None = None, name: str = "Test Merchant") -> Merchant:
    return await Merchant.create(handle=handle or f"merchant-{next(_serial)}", name=name)


async def product(
    owner: Merchant,
    *,
    title: str | None = None,
    prices: tuple[int, ...] = (1000,),
    currency: str = "CNY",
    tags: tuple[str, ...] = (),
    status: ProductStatus = ProductStatus.ACTIVE,
    created_at: datetime | None = None,
    description: str = "",
    stock: int = 10,
    reserved: int = 0,
) -> Product:
    n = next(_serial)
    row = await Product.create(
        merchant=owner,
        handle=f"product-{n}",
        title=title or f"Product {n}",
        description=description,
        tags=list(tags),
        status=status,
        price_min=min(prices, default=0),
        price_max=max(prices, default=0),
        created_at=created_at or BASE_TIME + timedelta(minutes=n),
    )
    for position, price in enumerate(prices):
        await Variant.create(
            product=row,
            sku=f"sku-{n}-{position}",
            title=f"Variant {position}",
            options=[{"name": "Size", "value": str(position)}],
            price_amount=price,
            currency=currency,
            stock_on_hand=stock,
            stock_reserved=reserved,
            position=position,
        )
    for tag in tags:
        await ProductTag.create(product=row, tag=tag)
    return row


_PASSWORD_HASH = PasswordHasher().hash(DEFAULT_PASSWORD)


async def user(
    email: str | None = None,
    *,
    admin: bool = False,
    staff_of: Merchant | None = None,
    inviter: User | None = None,
) -> User:
    """An account whose password is DEFAULT_PASSWORD (hashed once per run, for speed)."""
    n = next(_serial)
    row = await User.create(
        email=email or f"user{n}@example.com",
        password_hash=_PASSWORD_HASH,
        handle=f"user-{n}",
        display_name=f"User {n}",
        invite_code=f"INV{n:05d}",
        inviter=inviter,
        is_admin=admin,
    )
    if staff_of is not None:
        await MerchantStaff.create(merchant=staff_of, user=row)
    return row


def bearer(account: User, settings: Settings) -> dict[str, str]:
    token = issue_access_token(account.id, new_session_id(), settings).token
    return {"authorization": f"Bearer {token}"}


async def offer(
    owner: Merchant | None = None,
    *,
    group_size: int = 3,
    group_price: int = 800,
    solo_price: int = 1000,
    stock: int = 100,
    stock_limit: int = 50,
    per_user_limit: int = 2,
    duration_seconds: int = 3600,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> GroupBuy:
    shop = owner or await merchant()
    item = await product(shop, prices=(solo_price,), stock=stock)
    variant = await Variant.get(product_id=item.id)
    now = datetime.now(UTC)
    return await GroupBuy.create(
        merchant=shop,
        product=item,
        variant=variant,
        solo_price=solo_price,
        group_price=group_price,
        currency="CNY",
        group_size=group_size,
        duration_seconds=duration_seconds,
        starts_at=starts_at or now - timedelta(days=1),
        ends_at=ends_at or now + timedelta(days=2),
        per_user_limit=per_user_limit,
        stock_limit=stock_limit,
    )


async def time_group(group_id: int, expires_at: datetime) -> None:
    """End a group's timer at ``expires_at``, as if it had opened one full timer before.

    Moving only its expiry would leave a group that looks cut short by an end of
    its offer since extended: at its deadline it would run on, not fail.
    """
    group = await Group.get(id=group_id).select_related("group_buy")
    opened_at = expires_at - timedelta(seconds=group.group_buy.duration_seconds)
    await Group.filter(id=group_id).update(opened_at=opened_at, expires_at=expires_at)

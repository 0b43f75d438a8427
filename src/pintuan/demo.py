"""A believable demo store, generated deterministically so seeding twice adds nothing."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

from pintuan.accounts import users
from pintuan.accounts.models import Merchant, MerchantStaff, User
from pintuan.catalog.models import Product, ProductStatus, ProductTag, Variant
from pintuan.core import cache_tags
from pintuan.core.clock import now_utc
from pintuan.core.ids import NodeType
from pintuan.groupbuys import expiry, offers, orders, purchases
from pintuan.groupbuys.models import Group, GroupBuy
from pintuan.groupbuys.order_models import OrderStatus
from pintuan.groupbuys.purchases import PurchaseRequest
from pintuan.groupbuys.runtime import Runtime
from pintuan.reactions import invite_gate


@dataclass(frozen=True)
class MerchantSpec:
    handle: str
    name: str
    lines: tuple[tuple[str, str, str, int], ...]  # (chinese, english, tag, base price in fen)
    options: tuple[str, tuple[str, ...]]


MERCHANTS = (
    MerchantSpec(
        "yunnan-tea",
        "云南茶园 Yunnan Tea Garden",
        (
            ("普洱茶饼", "Pu'er Tea Cake", "tea", 12800),
            ("滇红功夫茶", "Dianhong Black Tea", "tea", 6800),
            ("古树白茶", "Old-Tree White Tea", "tea", 15800),
            ("玫瑰花茶", "Rose Petal Tea", "tea", 3900),
            ("茶具套装", "Tea Set", "teaware", 25900),
        ),
        ("规格 Size", ("100g", "250g", "357g")),
    ),
    MerchantSpec(
        "orchard-direct",
        "果园直发 Orchard Direct",
        (
            ("赣南脐橙", "Gannan Navel Oranges", "fruit", 3990),
            ("烟台红富士苹果", "Yantai Fuji Apples", "fruit", 4590),
            ("海南芒果", "Hainan Mangoes", "fruit", 5990),
            ("丹东草莓", "Dandong Strawberries", "fruit", 8900),
            ("新疆哈密瓜", "Xinjiang Hami Melon", "fruit", 4990),
        ),
        ("重量 Weight", ("2.5kg", "5kg", "10kg")),
    ),
    MerchantSpec(
        "home-goods",
        "好物之家 Good Home",
        (
            ("竹纤维毛巾", "Bamboo Fibre Towels", "home", 2990),
            ("乳胶枕", "Latex Pillow", "home", 12900),
            ("不粘炒锅", "Non-stick Wok", "kitchen", 8900),
            ("收纳箱", "Storage Box", "home", 3590),
            ("陶瓷餐具", "Ceramic Tableware", "kitchen", 6900),
        ),
        ("颜色 Colour", ("白 White", "灰 Grey", "蓝 Blue")),
    ),
    MerchantSpec(
        "little-sprout",
        "小芽母婴 Little Sprout",
        (
            ("婴儿纸尿裤", "Baby Diapers", "baby", 9900),
            ("有机米粉", "Organic Rice Cereal", "baby", 4800),
            ("儿童保温杯", "Kids' Thermos", "baby", 5900),
            ("湿巾", "Baby Wipes", "baby", 2590),
        ),
        ("规格 Pack", ("1包 x1", "3包 x3", "6包 x6")),
    ),
    MerchantSpec(
        "beauty-lab",
        "美妆研究所 Beauty Lab",
        (
            ("玻尿酸面膜", "Hyaluronic Sheet Masks", "beauty", 8900),
            ("防晒霜", "Sunscreen SPF50", "beauty", 9900),
            ("氨基酸洗面奶", "Amino Acid Cleanser", "beauty", 6900),
            ("护手霜", "Hand Cream", "beauty", 3900),
        ),
        ("规格 Size", ("30ml", "50ml", "100ml")),
    ),
    MerchantSpec(
        "snack-street",
        "零食街 Snack Street",
        (
            ("坚果礼盒", "Mixed Nuts Gift Box", "snacks", 9900),
            ("麻辣牛肉干", "Spicy Beef Jerky", "snacks", 4590),
            ("手工月饼", "Handmade Mooncakes", "snacks", 12800),
            ("螺蛳粉", "Luosifen Rice Noodles", "snacks", 3990),
            ("黑芝麻丸", "Black Sesame Balls", "snacks", 2990),
        ),
        ("口味 Flavour", ("原味 Original", "香辣 Spicy", "甜 Sweet")),
    ),
)

EDITIONS = (
    ("精选", "Select"),
    ("家庭装", "Family Pack"),
    ("礼盒装", "Gift Edition"),
    ("产地直发", "Farm Direct"),
    ("新品", "New Season"),
    ("限量版", "Limited"),
    ("经典款", "Classic"),
    ("尝鲜装", "Taster"),
)
EPOCH = datetime(2026, 9, 1, tzinfo=UTC)


async def seed_catalog(product_count: int, *, seed: int = 7) -> int:
    """Create up to ``product_count`` products across the demo merchants; return how many were new.

    Handles are derived from the index, so a second run finds every product and
    creates nothing.
    """
    rng = random.Random(seed)
    async with in_transaction():
        merchants = {}
        for spec in MERCHANTS:
            merchants[spec.handle], _ = await Merchant.get_or_create(
                handle=spec.handle,
                defaults={
                    "name": spec.name,
                    "logo_url": f"https://img.pintuan.dev/{spec.handle}.png",
                },
            )
        wanted: dict[str, tuple[Product, list[Variant], str]] = {}
        for index in range(product_count):
            spec = MERCHANTS[index % len(MERCHANTS)]
            zh, en, tag, base = spec.lines[(index // len(MERCHANTS)) % len(spec.lines)]
            edition_zh, edition_en = EDITIONS[rng.randrange(len(EDITIONS))]
            handle = f"{spec.handle}-{index:05d}"
            prices = [base * (k + 2) // 2 + rng.randrange(0, 500) for k in range(3)]
            product = Product(
                merchant=merchants[spec.handle],
                handle=handle,
                title=f"{zh}{edition_zh} {en} {edition_en}",
                description=f"{zh}，{edition_zh}。{en}, {edition_en.lower()}, from {spec.name}.",
                images=[f"https://img.pintuan.dev/products/{handle}/{n}.jpg" for n in range(3)],
                tags=[tag, edition_en.lower().replace(" ", "-")],
                # The first product is the README's example, so the drafts come later.
                status=ProductStatus.DRAFT if index % 25 == 24 else ProductStatus.ACTIVE,
                price_min=min(prices),
                price_max=max(prices),
                created_at=EPOCH + timedelta(minutes=7 * index + rng.randrange(5)),
            )
            option_name, option_values = spec.options
            variants = [
                Variant(
                    sku=f"{handle}-{k}",
                    title=value,
                    options=[{"name": option_name, "value": value}],
                    price_amount=prices[k],
                    currency="CNY",
                    stock_on_hand=rng.randrange(0, 400),
                    position=k,
                )
                for k, value in enumerate(option_values)
            ]
            wanted[handle] = (product, variants, tag)
        found = await Product.filter(handle__in=list(wanted)).only("handle")
        existing = {product.handle for product in found}
        fresh = [wanted[h] for h in wanted if h not in existing]
        for start in range(0, len(fresh), 500):
            await _insert(fresh[start : start + 500])
    return len(fresh)


async def _insert(batch: list[tuple[Product, list[Variant], str]]) -> None:
    await Product.bulk_create([product for product, _, _ in batch])
    ids = dict(
        await Product.filter(handle__in=[p.handle for p, _, _ in batch]).values_list("handle", "id")
    )
    variants: list[Variant] = []
    tags: list[ProductTag] = []
    for product, product_variants, _ in batch:
        pid = ids[product.handle]
        for variant in product_variants:
            variant.product_id = pid
            variants.append(variant)
        tags.extend(ProductTag(product_id=pid, tag=tag) for tag in product.tags)
    await Variant.bulk_create(variants)
    await ProductTag.bulk_create(tags)


ADMIN = ("admin@pintuan.dev", "pintuan-admin-demo", "Pintuan Admin")
STAFF_PASSWORD = "pintuan-staff-demo"
CUSTOMER_PASSWORD = "pintuan-demo"
CUSTOMERS = (
    ("alice@example.com", "Alice 爱丽丝"),
    ("bob@example.com", "Bob 小波"),
    ("carol@example.com", "Carol 卡罗"),
    ("dave@example.com", "Dave 大卫"),
)


def staff_email(merchant_handle: str) -> str:
    return f"{merchant_handle}@staff.pintuan.dev"


async def _account(
    email: str, password: str, name: str, *, invited_by: User | None = None, admin: bool = False
) -> User:
    existing = await User.get_or_none(email=email)
    if existing is not None:
        return existing
    code = invited_by.invite_code if invited_by else None
    return await users.register(email, password, name, code, gate=invite_gate(), is_admin=admin)


async def seed_accounts() -> int:
    """The documented demo logins: an admin, staff for each merchant, invited customers."""
    before = await User.all().count()
    await _account(*ADMIN, admin=True)
    for spec in MERCHANTS:
        staff = await _account(staff_email(spec.handle), STAFF_PASSWORD, f"{spec.name} staff")
        merchant = await Merchant.get(handle=spec.handle)
        await MerchantStaff.get_or_create(merchant=merchant, user=staff)
    inviter = None
    for email, name in CUSTOMERS:
        # Each customer invites the next: a small referral chain to explore.
        inviter = await _account(email, CUSTOMER_PASSWORD, name, invited_by=inviter)
    return await User.all().count() - before


# The share code of the first demo group, the one the README's subscription watches.
TOUR_SHARE_CODE = "K7QX2M9A"
OFFER_COUNT = 12
MIN_OFFER_STOCK = 50
OFFER_SIZES = (3, 2, 3, 5, 4)  # the rest alternate 2, 3, 4
# (offer index, members who joined, what becomes of the group)
GROUP_STAGES = (
    (0, 1, "open"),
    (0, 2, "open"),
    (1, 2, "filled"),
    (1, 1, "open"),
    (2, 3, "filled"),
    (2, 1, "failed"),
    (3, 4, "open"),
    (4, 1, "open"),
)


async def seed_group_buys(runtime: Runtime) -> int:
    """Active offers with groups at every stage: forming, one short, filled and failed."""
    shoppers = [await User.get(email=email) for email, _ in CUSTOMERS]
    now = now_utc()
    variants = await Variant.filter(
        product__status=ProductStatus.ACTIVE, position=0, stock_on_hand__gte=MIN_OFFER_STOCK
    ).order_by("id")
    by_index: dict[int, GroupBuy] = {}
    # Made last first: offers list newest first, so those with groups head the list.
    for index, variant in reversed(list(enumerate(variants[:OFFER_COUNT]))):
        offer = await GroupBuy.get_or_none(variant_id=variant.id)
        if offer is None:
            offer = await offers.create_offer(
                variant,
                await Product.get(id=variant.product_id),
                offers.OfferTerms(
                    group_price=variant.price_amount * 3 // 4,
                    group_size=OFFER_SIZES[index] if index < len(OFFER_SIZES) else 2 + index % 3,
                    duration_seconds=24 * 3600,
                    starts_at=now - timedelta(days=2),
                    ends_at=now + timedelta(days=14),
                    per_user_limit=3,
                    stock_limit=200,
                ),
            )
        by_index[index] = offer
    before = await Group.all().count()
    for n, (offer_index, members, fate) in enumerate(GROUP_STAGES):
        offer = by_index[offer_index]
        leader, *friends = shoppers[:members]
        started = await purchases.start_group(
            offer.id, PurchaseRequest(leader.id, 1, f"demo-{n}-leader", "tok_demo"), runtime
        )
        group = started.group
        if group is None:
            continue
        if n == 0:
            await Group.filter(id=group.id).update(share_code=TOUR_SHARE_CODE)
        for k, friend in enumerate(friends):
            request = PurchaseRequest(friend.id, 1, f"demo-{n}-{k}", "tok_demo")
            await purchases.join_group(group.id, request, runtime)
        if fate == "filled" and started.order.status == OrderStatus.PAID:
            await orders.complete(started.order.id)  # the leader's parcel has arrived
        if fate == "failed":  # its full timer ran out five minutes ago
            expired = now - timedelta(minutes=5)
            opened = expired - timedelta(seconds=offer.duration_seconds)
            await Group.filter(id=group.id).update(opened_at=opened, expires_at=expired)
            await expiry.expire_group(group.id, runtime)
    return await Group.all().count() - before


async def seed_demo(runtime: Runtime) -> str:
    """Seed, then purge the cached lists the new rows belong in (a server sharing the
    database and Redis would otherwise list the old store until the answers' ages)."""
    async with cache_tags.purging(runtime.purge):
        created = await seed_catalog(200)
        accounts = await seed_accounts()
        groups = await seed_group_buys(runtime)
        cache_tags.wrote(
            cache_tags.listing(NodeType.PRODUCT),
            cache_tags.listing(NodeType.PRODUCT, "search"),
            cache_tags.listing(NodeType.GROUP_BUY),
            cache_tags.listing(NodeType.GROUP),
        )
    return (
        f"Demo store ready: {created} new products ({len(MERCHANTS)} merchants), "
        f"{accounts} new accounts, {groups} new groups."
    )

"""Per-request DataLoaders: every relation a type exposes is batched here."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from pintuan.models.accounts import User
from pintuan.models.catalog import Merchant, Product, Variant
from pintuan.models.groupbuys import Group, GroupBuy, GroupMember
from pintuan.models.orders import Order
from pintuan.resolvers import accounts, batch, catalog, groupbuys
from pintuan.resolvers.errors import ErrorCode
from pintuan.schema.errors import ApiError

T = TypeVar("T")
M = TypeVar("M", bound=Model)


def _rows(model: type[M]) -> DataLoader[int, M | None]:
    return DataLoader(partial(batch.by_ids, model))


@dataclass
class Loaders:
    merchant: DataLoader[int, Merchant | None] = field(default_factory=lambda: _rows(Merchant))
    product: DataLoader[int, Product | None] = field(default_factory=lambda: _rows(Product))
    public_product: DataLoader[int, Product | None] = field(
        default_factory=lambda: DataLoader(catalog.public_products_by_ids)
    )
    variant: DataLoader[int, Variant | None] = field(default_factory=lambda: _rows(Variant))
    variants_by_product: DataLoader[int, list[Variant]] = field(
        default_factory=lambda: DataLoader(catalog.variants_of_products)
    )
    user: DataLoader[int, User | None] = field(default_factory=lambda: _rows(User))
    staff_of_user: DataLoader[int, frozenset[int]] = field(
        default_factory=lambda: DataLoader(accounts.staff_merchant_ids_by_users)
    )
    group_buy: DataLoader[int, GroupBuy | None] = field(default_factory=lambda: _rows(GroupBuy))
    group: DataLoader[int, Group | None] = field(default_factory=lambda: _rows(Group))
    members: DataLoader[int, list[GroupMember]] = field(
        default_factory=lambda: DataLoader(groupbuys.members_of_groups)
    )
    filled_groups: DataLoader[int, int] = field(
        default_factory=lambda: DataLoader(groupbuys.filled_count)
    )
    order: DataLoader[int, Order | None] = field(default_factory=lambda: _rows(Order))


async def required(
    loader: DataLoader[int, T | None], pk: int, what: str, field: str | None = None
) -> T:
    """Load a row that must exist; a missing one is a NOT_FOUND error naming ``what``."""
    found = await loader.load(pk)
    if found is None:
        raise ApiError(ErrorCode.NOT_FOUND, f"No such {what}.", field)
    return found

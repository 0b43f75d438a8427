"""The accounts domain's DataLoaders: users, merchants and who staffs which."""

from __future__ import annotations

from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader

from pintuan.accounts import users
from pintuan.accounts.merchants import MerchantView, merchant_views
from pintuan.accounts.models import User
from pintuan.graphql.context import Info
from pintuan.graphql.loaders import rows


@dataclass
class AccountLoaders:
    merchant: DataLoader[int, MerchantView | None] = field(
        default_factory=lambda: DataLoader(merchant_views)
    )
    user: DataLoader[int, User | None] = field(default_factory=lambda: rows(User))
    staff_of_user: DataLoader[int, frozenset[int]] = field(
        default_factory=lambda: DataLoader(users.staff_merchant_ids_by_users)
    )


def account_loaders(info: Info) -> AccountLoaders:
    return info.context.loaders.of(AccountLoaders)

"""The group-buy domain's DataLoaders: offers, groups, their members, orders."""

from __future__ import annotations

from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader

from pintuan.graphql.context import Info
from pintuan.graphql.loaders import rows
from pintuan.groupbuys import lookups
from pintuan.groupbuys.models import Group, GroupBuy, GroupMember
from pintuan.groupbuys.order_models import Order


@dataclass
class GroupBuyLoaders:
    group_buy: DataLoader[int, GroupBuy | None] = field(default_factory=lambda: rows(GroupBuy))
    group: DataLoader[int, Group | None] = field(default_factory=lambda: rows(Group))
    members: DataLoader[int, list[GroupMember]] = field(
        default_factory=lambda: DataLoader(lookups.members_of_groups)
    )
    filled_groups: DataLoader[int, int] = field(
        default_factory=lambda: DataLoader(lookups.filled_count)
    )
    order: DataLoader[int, Order | None] = field(default_factory=lambda: rows(Order))


def groupbuy_loaders(info: Info) -> GroupBuyLoaders:
    return info.context.loaders.of(GroupBuyLoaders)

"""The communities' DataLoaders: rows by id, and the viewer's memberships."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader

from pintuan.communities.models import Community, Member, Post
from pintuan.graphql.context import Info
from pintuan.graphql.loaders import rows


async def _memberships(keys: Sequence[tuple[int, int]]) -> list[Member | None]:
    """(user id, community id) -> that membership row: one query for a page."""
    users = {user for user, _ in keys}
    communities = {community for _, community in keys}
    found = await Member.filter(user_id__in=users, community_id__in=communities)
    by_key = {(m.user_id, m.community_id): m for m in found}
    return [by_key.get(key) for key in keys]


@dataclass
class CommunityLoaders:
    community: DataLoader[int, Community | None] = field(default_factory=lambda: rows(Community))
    post: DataLoader[int, Post | None] = field(default_factory=lambda: rows(Post))
    member: DataLoader[int, Member | None] = field(default_factory=lambda: rows(Member))
    membership: DataLoader[tuple[int, int], Member | None] = field(
        default_factory=lambda: DataLoader(_memberships)
    )


def community_loaders(info: Info) -> CommunityLoaders:
    return info.context.loaders.of(CommunityLoaders)

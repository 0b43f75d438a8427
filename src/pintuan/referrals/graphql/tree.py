"""The referral tree in the API: a user's inviter, upline, team and its summary, and
the admin's rebind. The fields sit on ``User`` (accounts) and are answered here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import strawberry
from strawberry.dataloader import DataLoader

from pintuan.accounts.graphql.loaders import account_loaders
from pintuan.accounts.graphql.users import User
from pintuan.accounts.models import User as UserRow
from pintuan.core import cache_tags
from pintuan.core.errors import DomainError
from pintuan.core.pagination import SortKey, parse_int
from pintuan.graphql import provided
from pintuan.graphql.cache_hints import CacheScope, cache_hint
from pintuan.graphql.context import Info
from pintuan.graphql.errors import from_domain
from pintuan.graphql.ids import NodeType, decode_id, to_global_id
from pintuan.graphql.mutations import MutationPayload, mutation
from pintuan.graphql.pagination import Connection, paginate
from pintuan.graphql.permissions import (
    Admin,
    MerchantActor,
    allow,
    forbidden,
    require_merchant,
    unauthenticated,
)
from pintuan.referrals import tree
from pintuan.referrals.models import TREE_DEPTH, ReferralNode

TEAM_ORDER = SortKey(("user_id",), False, (parse_int,))


@cache_hint(inherit=True)
@strawberry.type(description="One level of a team: how many are there and what they bought.")
class TeamLevel:
    level: int
    members: int
    sales: int = strawberry.field(description="Paid totals net of refunds, in minor units.")


@cache_hint(inherit=True)
@strawberry.type(description="Someone in your team, `level` levels below you.")
class TeamMember:
    level: int
    pk: strawberry.Private[int]

    @classmethod
    def under(cls, ancestor_id: int, node: ReferralNode) -> TeamMember:
        return cls(level=node.ancestors().index(ancestor_id) + 1, pk=node.user_id)

    @strawberry.field(description="Null only if the account was deleted meanwhile.")
    async def user(self, info: Info) -> User | None:
        row = await account_loaders(info).user.load(self.pk)
        return User.of(row) if row else None


def _depth(depth: int) -> int:
    try:
        return tree.check_depth(depth)
    except DomainError as exc:
        raise from_domain(exc) from None


async def _user(info: Info, pk: int) -> UserRow | None:
    return await account_loaders(info).user.load(pk)


@provided.provide("User.inviter")
async def inviter(info: Info, row: UserRow) -> User | None:
    found = await _user(info, row.inviter_id) if row.inviter_id is not None else None
    return User.of(found) if found else None


@provided.provide("User.upline")
async def upline(info: Info, user_id: int, depth: int) -> list[User]:
    levels = _depth(depth)
    found = await tree.upline(user_id, levels)
    # The chain to ``levels`` is who invited the user, and who invited each of them.
    for pk in [user_id, *(row.id for row in found)][:levels]:
        cache_tags.read(tree.inviter_tag(pk))
    return [User.of(row) for row in found]


@provided.provide("User.team")
async def team(
    info: Info, user_id: int, depth: int, first: int | None, after: str | None
) -> Connection[TeamMember]:
    query = tree.team(user_id, _depth(depth))

    def member(node: ReferralNode) -> TeamMember:
        return TeamMember.under(user_id, node)

    return await paginate(info, query, TEAM_ORDER, f"TEAM_{depth}", member, first, after)


@provided.provide("User.teamSummary")
async def team_summary(info: Info, user_id: int, depth: int) -> list[TeamLevel]:
    levels = await tree.team_summary(user_id, _depth(depth))
    cache_tags.read(tree.team_tag(user_id))
    return [TeamLevel(level=t.level, members=t.members, sales=t.sales) for t in levels]


async def _invitees(user_ids: Sequence[int]) -> list[int]:
    counts = await tree.direct_invitees(user_ids)
    return [counts.get(pk, 0) for pk in user_ids]


@dataclass
class TreeLoaders:
    invitees: DataLoader[int, int] = field(default_factory=lambda: DataLoader(_invitees))


@cache_hint(inherit=True)
@strawberry.type(description="A user in a referral tree, `level` levels below its root.")
class ReferralTreeNode:
    level: int
    parent_id: strawberry.ID = strawberry.field(
        description="The user's inviter: the node one level up (the root, at level 1)."
    )
    pk: strawberry.Private[int]

    @classmethod
    def of(cls, root: int, level: int, node: ReferralNode) -> ReferralTreeNode:
        # A node below the root has an inviter; at level 1 it is the root itself.
        parent = node.ancestor_1_id or root
        global_id = strawberry.ID(to_global_id(NodeType.USER, parent))
        return cls(level=level, parent_id=global_id, pk=node.user_id)

    @strawberry.field(description="Null only if the account was deleted meanwhile.")
    async def user(self, info: Info) -> User | None:
        row = await account_loaders(info).user.load(self.pk)
        return User.of(row) if row else None

    @strawberry.field(description="How many users this one invited (their own level 1).")
    async def invitees(self, info: Info) -> int:
        return await info.context.loaders.of(TreeLoaders).invitees.load(self.pk)


@cache_hint(inherit=True)
@strawberry.type(
    description=(
        "One level of a referral tree: its counts (the whole team's), and its users page "
        "by page (for a merchant, only members of its plan)."
    )
)
class ReferralTreeLevel:
    level: int
    members: int
    sales: int = strawberry.field(description="Paid totals net of refunds, in minor units.")
    root_pk: strawberry.Private[int]
    merchant_pk: strawberry.Private[int | None]

    @strawberry.field(description="The users of this level, by user id.")
    async def nodes(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ReferralTreeNode]:
        query = tree.level_below(self.root_pk, self.level, self.merchant_pk)
        root, level = self.root_pk, self.level

        def node(row: ReferralNode) -> ReferralTreeNode:
            return ReferralTreeNode.of(root, level, row)

        ordering = f"TREE_{level}:{self.merchant_pk or ''}"
        return await paginate(info, query, TEAM_ORDER, ordering, node, first, after)


# Staff and admins only, and its counts move through the outbox: private, 10 s.
@cache_hint(max_age=10, scope=CacheScope.PRIVATE)
@strawberry.type(description="A user's subtree, level by level, to a depth of at most 3.")
class ReferralTree:
    depth: int
    root_pk: strawberry.Private[int]
    merchant_pk: strawberry.Private[int | None]

    @strawberry.field(description="The tree's root.")
    async def user(self, info: Info) -> User | None:
        row = await account_loaders(info).user.load(self.root_pk)
        return User.of(row) if row else None

    @strawberry.field(description="Levels 1 to `depth`, nearest first (one read).")
    async def levels(self) -> list[ReferralTreeLevel]:
        return [
            ReferralTreeLevel(
                level=t.level,
                members=t.members,
                sales=t.sales,
                root_pk=self.root_pk,
                merchant_pk=self.merchant_pk,
            )
            for t in await tree.team_summary(self.root_pk, self.depth)
        ]


@strawberry.type
class ReferralTreeQuery:
    @strawberry.field(
        extensions=allow(MerchantActor()),
        description=(
            "A user's referral subtree to `depth` levels (1-3). Admins may omit `merchantId`; "
            "a merchant's staff name their merchant and see users in its plan: null when "
            "the user is not a member of it (or does not exist)."
        ),
    )
    async def referral_tree(
        self,
        info: Info,
        user_id: strawberry.ID,
        depth: int = TREE_DEPTH,
        merchant_id: strawberry.ID | None = None,
    ) -> ReferralTree | None:
        root = decode_id(user_id, NodeType.USER, "userId")
        levels = _depth(depth)
        if merchant_id is None:
            if not info.context.viewer.is_admin:
                raise forbidden()
            exists = await _user(info, root) is not None
            return ReferralTree(depth=levels, root_pk=root, merchant_pk=None) if exists else None
        merchant = decode_id(merchant_id, NodeType.MERCHANT, "merchantId")
        require_merchant(info, merchant)
        if not await tree.in_plan_of(root, merchant):
            return None
        return ReferralTree(depth=levels, root_pk=root, merchant_pk=merchant)


@strawberry.input
class ReferralRebindInput:
    user_id: strawberry.ID
    inviter_id: strawberry.ID
    reason: str = strawberry.field(description="Kept with the rebind, for good.")


@strawberry.type
class ReferralRebindPayload(MutationPayload):
    user: User | None = None


@strawberry.type
class ReferralTreeMutation:
    @mutation(
        Admin(),
        description=f"Move a user, and their team, under another inviter; recorded with "
        f"who, when and why. Counts to {TREE_DEPTH} levels follow the move.",
    )
    async def referral_rebind(
        self, info: Info, input: ReferralRebindInput
    ) -> ReferralRebindPayload:
        user_id = decode_id(input.user_id, NodeType.USER, "userId")
        inviter_id = decode_id(input.inviter_id, NodeType.USER, "inviterId")
        admin = info.context.viewer.user
        if admin is None:
            raise unauthenticated()
        await tree.rebind(user_id, inviter_id, admin.id, input.reason)
        return ReferralRebindPayload(user=User.of(await UserRow.get(id=user_id)))

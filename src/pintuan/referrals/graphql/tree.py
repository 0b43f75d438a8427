"""The referral tree in the API: a user's inviter, upline, team and its summary, and
the admin's rebind. The fields sit on ``User`` (accounts) and are answered here."""

from __future__ import annotations

import strawberry

from pintuan.accounts.graphql.loaders import account_loaders
from pintuan.accounts.graphql.users import User
from pintuan.accounts.models import User as UserRow
from pintuan.core.errors import DomainError
from pintuan.core.pagination import SortKey, parse_int
from pintuan.graphql import provided
from pintuan.graphql.context import Info
from pintuan.graphql.errors import from_domain
from pintuan.graphql.ids import NodeType, decode_id
from pintuan.graphql.mutations import MutationPayload, mutation
from pintuan.graphql.pagination import Connection, paginate
from pintuan.graphql.permissions import Admin, unauthenticated
from pintuan.referrals import tree
from pintuan.referrals.models import TREE_DEPTH, ReferralNode

TEAM_ORDER = SortKey(("user_id",), False, (parse_int,))


@strawberry.type(description="One level of a team: how many are there and what they bought.")
class TeamLevel:
    level: int
    members: int
    sales: int = strawberry.field(description="Paid totals net of refunds, in minor units.")


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
    return [User.of(row) for row in await tree.upline(user_id, _depth(depth))]


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
    return [TeamLevel(level=t.level, members=t.members, sales=t.sales) for t in levels]


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

"""Users and sessions: registration, tokens, and the signed-in viewer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import strawberry
from starlette.responses import Response

from pintuan.accounts import models, users
from pintuan.accounts.graphql.loaders import account_loaders
from pintuan.accounts.invites import InviteGate
from pintuan.core import cache_tags
from pintuan.core.errors import ApiErrorCode
from pintuan.graphql import provided
from pintuan.graphql.cache_hints import CacheScope, Hint, cache_hint
from pintuan.graphql.context import Info
from pintuan.graphql.errors import ApiError
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.graphql.mutations import MutationPayload, mutation
from pintuan.graphql.node import Node, register_node
from pintuan.graphql.pagination import Connection

if TYPE_CHECKING:
    from pintuan.groupbuys.graphql.types import Group, Order
    from pintuan.groupbuys.models import GroupStatus
    from pintuan.referrals.graphql.earnings import Balance, Commission, Withdrawal
    from pintuan.referrals.graphql.plans import PlanTier
    from pintuan.referrals.graphql.shares import ShareLink
    from pintuan.referrals.graphql.tree import TeamLevel, TeamMember
    from pintuan.referrals.ledger_models import EntryState


_orders_of_user = provided.declare("User.orders")
_groups_of_user = provided.declare("User.groups")
_commissions_of_user = provided.declare("User.commissions")
_balance_of_user = provided.declare("User.balance")
_withdrawals_of_user = provided.declare("User.withdrawals")
_EARNINGS = "pintuan.referrals.graphql.earnings"
_inviter_of_user = provided.declare("User.inviter")
_upline_of_user = provided.declare("User.upline")
_team_of_user = provided.declare("User.team")
_team_summary_of_user = provided.declare("User.teamSummary")
_share_links_of_user = provided.declare("User.shareLinks")
_tier_of_user = provided.declare("User.tier")
_followers_of_user = provided.declare("User.followers")
_following_of_user = provided.declare("User.following")
_follower_count_of_user = provided.declare("User.followerCount")
_following_count_of_user = provided.declare("User.followingCount")
_viewer_follows_user = provided.declare("User.viewerFollows")
TREE_TYPES = "pintuan.referrals.graphql.tree"
SHARE_TYPES = "pintuan.referrals.graphql.shares"
PLAN_TYPES = "pintuan.referrals.graphql.plans"


@strawberry.enum(description="CUSTOMER applies to everyone; the others are granted.")
class Role(StrEnum):
    CUSTOMER = "CUSTOMER"
    MERCHANT_STAFF = "MERCHANT_STAFF"
    ADMIN = "ADMIN"


# Fields only the user themself (or an admin) sees are private. The upline and the
# team summary carry the tags of the chain and counters they read, which binds and
# the outbox's counts purge. The other referral fields and money, moved by outbox
# deliveries that record no tags for them, are never cached.
_PRIVATE = Hint(scope=CacheScope.PRIVATE)
_UNCACHED = Hint(max_age=0, scope=CacheScope.PRIVATE)
_REFERRALS = ("inviter", "team", "share_links", "tier")
_MONEY = ("commissions", "balance", "withdrawals")


@cache_hint(
    max_age=60,
    fields={
        **{
            name: _PRIVATE
            for name in (
                "email",
                "invite_code",
                "roles",
                "orders",
                "groups",
                "viewer_follows",
                "upline",
                "team_summary",
            )
        },
        **{name: _UNCACHED for name in (*_REFERRALS, *_MONEY)},
    },
)
@strawberry.type(description="A person with an account. Private fields are null to others.")
class User(Node):
    handle: str
    display_name: str
    avatar_url: str | None
    created_at: datetime
    pk: strawberry.Private[int]
    row: strawberry.Private[models.User]

    @classmethod
    def of(cls, u: models.User) -> User:
        cache_tags.read(cache_tags.entity(NodeType.USER, u.id))
        return cls(
            id=strawberry.ID(to_global_id(NodeType.USER, u.id)),
            handle=u.handle,
            display_name=u.display_name,
            avatar_url=u.avatar_url,
            created_at=u.created_at,
            pk=u.id,
            row=u,
        )

    def _private(self, info: Info) -> bool:
        return info.context.viewer.is_admin or self._own(info)

    @strawberry.field(description="Visible to the user themself and to admins.")
    def email(self, info: Info) -> str | None:
        return self.row.email if self._private(info) else None

    @strawberry.field(description="Share it: new users who register with it are your invitees.")
    def invite_code(self, info: Info) -> str | None:
        return self.row.invite_code if self._private(info) else None

    @strawberry.field(description="Your own orders, newest first; null for other users.")
    async def orders(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[Order, strawberry.lazy("pintuan.groupbuys.graphql.types")]] | None:
        if not self._own(info):
            return None
        orders: Connection[Order] = await _orders_of_user(info, self.pk, first, after)
        return orders

    @strawberry.field(description="Groups you are in, newest first; null for other users.")
    async def groups(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: Annotated[GroupStatus, strawberry.lazy("pintuan.groupbuys.graphql.types")]
        | None = None,
    ) -> Connection[Annotated[Group, strawberry.lazy("pintuan.groupbuys.graphql.types")]] | None:
        if not self._own(info):
            return None
        groups: Connection[Group] = await _groups_of_user(info, self.pk, status, first, after)
        return groups

    @strawberry.field(description="Your commission entries, newest first; null for other users.")
    async def commissions(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: Annotated[EntryState, strawberry.lazy(_EARNINGS)] | None = None,
    ) -> Connection[Annotated[Commission, strawberry.lazy(_EARNINGS)]] | None:
        if not self._own(info):
            return None
        entries: Connection[Commission] = await _commissions_of_user(
            info, self.pk, status, first, after
        )
        return entries

    @strawberry.field(
        description="Your commission balance in `currency` (the platform's by default); "
        "null for other users."
    )
    async def balance(
        self, info: Info, currency: str | None = None
    ) -> Annotated[Balance, strawberry.lazy(_EARNINGS)] | None:
        if not self._own(info):
            return None
        balance: Balance = await _balance_of_user(info, self.pk, currency)
        return balance

    @strawberry.field(description="Your withdrawals, newest first; null for other users.")
    async def withdrawals(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[Withdrawal, strawberry.lazy(_EARNINGS)]] | None:
        if not self._own(info):
            return None
        withdrawals: Connection[Withdrawal] = await _withdrawals_of_user(
            info, self.pk, first, after
        )
        return withdrawals

    @strawberry.field(description="Who invited you; null for other users, or if no one did.")
    async def inviter(self, info: Info) -> User | None:
        if not self._private(info):
            return None
        found: User | None = await _inviter_of_user(info, self.row)
        return found

    @strawberry.field(
        description="Your inviter, theirs, and so on, nearest first, to `depth` "
        "levels (at most 3); null for other users."
    )
    async def upline(self, info: Info, depth: int = 3) -> list[User] | None:
        if not self._private(info):
            return None
        found: list[User] = await _upline_of_user(info, self.pk, depth)
        return found

    @strawberry.field(
        description="Everyone up to `depth` levels below you (at most 3), in "
        "order of joining; null for other users."
    )
    async def team(
        self, info: Info, depth: int = 3, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[TeamMember, strawberry.lazy(TREE_TYPES)]] | None:
        if not self._private(info):
            return None
        found: Connection[TeamMember] = await _team_of_user(info, self.pk, depth, first, after)
        return found

    @strawberry.field(
        description="Members and sales per level of your team, to `depth` "
        "levels (at most 3); null for other users."
    )
    async def team_summary(
        self, info: Info, depth: int = 3
    ) -> list[Annotated[TeamLevel, strawberry.lazy(TREE_TYPES)]] | None:
        if not self._private(info):
            return None
        found: list[TeamLevel] = await _team_summary_of_user(info, self.pk, depth)
        return found

    @strawberry.field(
        description="Your tier (owners) or level (resellers) in each merchant's plan "
        "you are enrolled in, or in the one merchant given; null for other users."
    )
    async def tier(
        self, info: Info, merchant_id: strawberry.ID | None = None
    ) -> list[Annotated[PlanTier, strawberry.lazy(PLAN_TYPES)]] | None:
        if not self._private(info):
            return None
        found: list[PlanTier] = await _tier_of_user(info, self.pk, merchant_id)
        return found

    @strawberry.field(
        description="Your share links, newest first, with their visits and "
        "sales; null for other users."
    )
    async def share_links(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[ShareLink, strawberry.lazy(SHARE_TYPES)]] | None:
        if not self._private(info):
            return None
        found: Connection[ShareLink] = await _share_links_of_user(info, self.pk, first, after)
        return found

    @strawberry.field(description="Users who follow this one, newest first.")
    async def followers(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[User]:
        found: Connection[User] = await _followers_of_user(info, self.pk, first, after)
        return found

    @strawberry.field(description="Users this one follows, newest first.")
    async def following(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[User]:
        found: Connection[User] = await _following_of_user(info, self.pk, first, after)
        return found

    @strawberry.field(description="How many users follow this one.")
    async def follower_count(self, info: Info) -> int:
        found: int = await _follower_count_of_user(info, self.pk)
        return found

    @strawberry.field(description="How many users this one follows.")
    async def following_count(self, info: Info) -> int:
        found: int = await _following_count_of_user(info, self.pk)
        return found

    @strawberry.field(description="Whether you follow this user; false when anonymous.")
    async def viewer_follows(self, info: Info) -> bool:
        found: bool = await _viewer_follows_user(info, self.pk)
        return found

    def _own(self, info: Info) -> bool:
        user = info.context.viewer.user
        return user is not None and user.id == self.pk

    @strawberry.field(description="Visible to the user themself and to admins.")
    async def roles(self, info: Info) -> list[Role] | None:
        if not self._private(info):
            return None
        roles = [Role.CUSTOMER]
        if await account_loaders(info).staff_of_user.load(self.pk):
            roles.append(Role.MERCHANT_STAFF)
        if self.row.is_admin:
            roles.append(Role.ADMIN)
        return roles


@strawberry.input
class AccountRegisterInput:
    email: str
    password: str
    display_name: str
    invite_code: str | None = None


@strawberry.type
class AccountRegisterPayload(MutationPayload):
    user: User | None = None


@strawberry.input
class TokenCreateInput:
    email: str
    password: str


@strawberry.type(
    description="A signed-in session: send accessToken as 'Bearer', refresh before it expires."
)
class TokenPayload(MutationPayload):
    access_token: str | None = None
    access_token_expires_at: datetime | None = None
    refresh_token: str | None = None
    refresh_token_expires_at: datetime | None = None
    user: User | None = None

    @classmethod
    def of(cls, session: users.Session) -> TokenPayload:
        return cls(
            access_token=session.access.token,
            access_token_expires_at=session.access.expires_at,
            refresh_token=session.refresh_token,
            refresh_token_expires_at=session.refresh_expires_at,
            user=User.of(session.user),
        )


@strawberry.type
class TokenRevokePayload(MutationPayload):
    revoked: bool = False


async def _limit_auth_attempts(info: Info) -> None:
    """Registration and sign-in share a stricter per-IP budget than the rest of the API."""
    context = info.context
    verdict = await context.limiter.take(
        f"auth:{context.client_ip}", context.settings.rate_limit_auth_per_minute
    )
    if verdict.allowed:
        return
    if isinstance(context.response, Response):
        context.response.status_code = 429
        context.response.headers["Retry-After"] = str(verdict.retry_after_seconds)
    raise ApiError(
        ApiErrorCode.RATE_LIMITED,
        f"Too many sign-in or registration attempts; retry in {verdict.retry_after_seconds} s.",
    )


@cache_hint(fields={"me": Hint(max_age=30, scope=CacheScope.PRIVATE)})
@strawberry.type
class AccountQuery:
    @strawberry.field(description="The signed-in user; null when anonymous.")
    def me(self, info: Info) -> User | None:
        user = info.context.viewer.user
        return User.of(user) if user else None


@strawberry.type
class AccountMutation:
    @mutation()
    async def account_register(
        self, info: Info, input: AccountRegisterInput
    ) -> AccountRegisterPayload:
        await _limit_auth_attempts(info)
        gate: InviteGate = info.context.request.app.state.invite_gate
        user = await users.register(
            input.email, input.password, input.display_name, input.invite_code, gate=gate
        )
        return AccountRegisterPayload(user=User.of(user))

    @mutation(description="Sign in with email and password.")
    async def token_create(self, info: Info, input: TokenCreateInput) -> TokenPayload:
        await _limit_auth_attempts(info)
        context = info.context
        session = await users.sign_in(
            input.email, input.password, context.client_ip, context.throttle, context.settings
        )
        return TokenPayload.of(session)

    @mutation(description="Trade a refresh token for a new pair; the old one dies.")
    async def token_refresh(self, info: Info, refresh_token: str) -> TokenPayload:
        await _limit_auth_attempts(info)
        session = await users.refresh(refresh_token, info.context.settings)
        return TokenPayload.of(session)

    @mutation(description="Sign out: the refresh token and all rotated from it stop working.")
    async def token_revoke(self, info: Info, refresh_token: str) -> TokenRevokePayload:
        await users.revoke(refresh_token)
        return TokenRevokePayload(revoked=True)


async def _user_node(info: Info, pk: int) -> User | None:
    found = await account_loaders(info).user.load(pk)
    return User.of(found) if found else None


register_node(NodeType.USER, _user_node)

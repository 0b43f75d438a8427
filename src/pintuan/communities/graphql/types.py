"""Communities, posts and members as GraphQL types, the feed, and node lookups.

An object of these types is only ever built after ``access`` let the viewer see
it, so its fields need no second check; fields that only some viewers may read
(the approval queue, a post's history) say so and answer null to others.
None carries a cache hint: what a member sees is theirs, never a shared answer.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from functools import partial
from typing import Annotated

import strawberry
from tortoise.expressions import Q, Subquery

from pintuan.accounts.graphql.loaders import account_loaders
from pintuan.accounts.graphql.users import User
from pintuan.accounts.models import User as UserRow
from pintuan.catalog.graphql.loaders import catalog_loaders
from pintuan.catalog.graphql.types import Product
from pintuan.communities import feed, models
from pintuan.communities.communities import by_handle
from pintuan.communities.graphql import access
from pintuan.communities.graphql.comments import Comment, post_comments
from pintuan.communities.graphql.loaders import community_loaders
from pintuan.communities.graphql.moderation import Report, community_reports
from pintuan.communities.graphql.page import prime_page
from pintuan.communities.graphql.reactions import viewer_can_comment, viewer_reaction
from pintuan.core.clock import now_utc
from pintuan.core.errors import DomainError
from pintuan.core.ids import NodeType, to_global_id
from pintuan.core.pagination import SortKey, check_page_size, parse_int
from pintuan.core.validation import text as clean_text
from pintuan.graphql.context import Info
from pintuan.graphql.errors import from_domain
from pintuan.graphql.loaders import loaded, present, required
from pintuan.graphql.node import Node, register_node
from pintuan.graphql.pagination import Connection, paginate, paginate_read
from pintuan.graphql.plain import plain_resolver
from pintuan.groupbuys.graphql.loaders import groupbuy_loaders
from pintuan.groupbuys.graphql.types import Group
from pintuan.groupbuys.graphql.visibility import visible_group

strawberry.enum(models.CommunityKind, name="CommunityKind", description="What a community is for.")
strawberry.enum(
    models.Visibility,
    name="CommunityVisibility",
    description="PRIVATE (and every PREMIUM community) is seen by its members only.",
)
strawberry.enum(models.JoinPolicy, name="CommunityJoinPolicy", description="How people get in.")
strawberry.enum(
    models.MembershipModel,
    name="CommunityMembershipModel",
    description="PAID_TERM ends on its date, and access with it; WITH_PURCHASE admits buyers.",
)
strawberry.enum(models.MemberRole, name="CommunityMemberRole")
strawberry.enum(
    models.MemberState,
    name="CommunityMemberState",
    description="Only ACTIVE (within its term) is a member.",
)

NEWEST_ID_FIRST = SortKey(("id",), True, (parse_int,))
MAX_SEARCH = 100


def _page_cap(first: int | None) -> int | None:
    """Feeds and lists here take at most ``feed.MAX_PAGE`` per page."""
    if first is not None:
        try:
            check_page_size(first, feed.MAX_PAGE)
        except DomainError as exc:
            raise from_domain(exc) from None
    return first


async def _user(info: Info, pk: int) -> User:
    return User.of(await required(account_loaders(info).user, pk, "user"))


def _author_of(found: UserRow | None) -> User:
    return User.of(present(found, "user"))


@strawberry.type(description="A community: deals, interest or premium, with its members' posts.")
class Community(Node):
    handle: str
    name: str
    description: str
    kind: models.CommunityKind
    visibility: models.Visibility
    join_policy: models.JoinPolicy
    member_cap: int | None
    membership: models.MembershipModel
    term_days: int | None = strawberry.field(description="How long a PAID_TERM membership lasts.")
    entry_min_paid_orders: int
    entry_referral_rank: str | None
    slow_mode_seconds: int
    member_count: int
    post_count: int
    created_at: datetime
    pk: strawberry.Private[int]
    owner_pk: strawberry.Private[int]
    product_pks: strawberry.Private[list[int]]

    @classmethod
    def of(cls, c: models.Community) -> Community:
        return cls(
            id=strawberry.ID(to_global_id(NodeType.COMMUNITY, c.id)),
            handle=c.handle,
            name=c.name,
            description=c.description,
            kind=c.kind,
            visibility=c.visibility,
            join_policy=c.join_policy,
            member_cap=c.member_cap,
            membership=c.membership,
            term_days=c.term_days,
            entry_min_paid_orders=c.entry_min_paid_orders,
            entry_referral_rank=c.entry_referral_rank,
            slow_mode_seconds=c.slow_mode_seconds,
            member_count=c.member_count,
            post_count=c.post_count,
            created_at=c.created_at,
            pk=c.id,
            owner_pk=c.owner_id,
            product_pks=list(c.admitting_product_ids),
        )

    @strawberry.field
    async def owner(self, info: Info) -> User:
        return await _user(info, self.owner_pk)

    @strawberry.field(description="Your membership row here, in whatever state; null if none.")
    async def viewer_membership(self, info: Info) -> CommunityMember | None:
        member = await access.viewer_membership(info, self.pk)
        return CommunityMember.of(member) if member else None

    @strawberry.field(
        description="WITH_PURCHASE: the products (on sale) whose buyers are admitted."
    )
    async def admitting_products(self, info: Info) -> list[Product]:
        found = await catalog_loaders(info).public_product.load_many(self.product_pks)
        return [Product.of(p) for p in found if p is not None]

    @strawberry.field(description="Pinned posts first, then newest; at most 50 a page.")
    async def feed(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Post]:
        page = await paginate_read(
            info,
            partial(feed.page, self.pk),
            "COMMUNITY_FEED",
            Post.of,
            _page_cap(first),
            after,
            feed.community_posts(self.pk),
        )
        await prime_page(info, [edge.node.row for edge in page.edges])
        return page

    @strawberry.field(description="Active members, newest first.")
    async def members(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[CommunityMember]:
        query = models.Member.filter(community_id=self.pk, state=models.MemberState.ACTIVE).filter(
            Q(term_ends_at__isnull=True) | Q(term_ends_at__gt=now_utc())
        )
        return await paginate(
            info,
            query,
            NEWEST_ID_FIRST,
            "COMMUNITY_MEMBERS",
            CommunityMember.of,
            _page_cap(first),
            after,
        )

    @strawberry.field(
        description="Reports in a state (OPEN first by default), oldest first: for the owner, "
        "moderators and admins; FORBIDDEN to anyone else."
    )
    async def reports(
        self,
        info: Info,
        state: models.ReportState = models.ReportState.OPEN,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Report] | None:
        community = await community_loaders(info).community.load(self.pk)
        if community is None:
            return None
        return await community_reports(info, community, state, first, after)

    @strawberry.field(description="Requests waiting for approval; null unless you moderate here.")
    async def pending_members(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[CommunityMember] | None:
        if info.context.viewer.user is None:
            return None
        if not (await access.actor_in(info, self.pk)).is_staff(now_utc()):
            return None
        query = models.Member.filter(community_id=self.pk, state=models.MemberState.PENDING)
        return await paginate(
            info,
            query,
            NEWEST_ID_FIRST,
            "COMMUNITY_PENDING",
            CommunityMember.of,
            _page_cap(first),
            after,
        )


@strawberry.type(description="Someone's membership of a community.")
class CommunityMember(Node):
    role: models.MemberRole
    state: models.MemberState
    joined_at: datetime
    term_ends_at: datetime | None = strawberry.field(description="A paid term ends here.")
    banned_until: datetime | None
    pk: strawberry.Private[int]
    user_pk: strawberry.Private[int]
    community_pk: strawberry.Private[int]

    @classmethod
    def of(cls, m: models.Member) -> CommunityMember:
        return cls(
            id=strawberry.ID(to_global_id(NodeType.COMMUNITY_MEMBER, m.id)),
            role=m.role,
            state=m.state,
            joined_at=m.joined_at,
            term_ends_at=m.term_ends_at,
            banned_until=m.banned_until,
            pk=m.id,
            user_pk=m.user_id,
            community_pk=m.community_id,
        )

    @strawberry.field
    async def user(self, info: Info) -> User:
        return await _user(info, self.user_pk)

    @strawberry.field(description="Null once you may no longer see it (you left, say).")
    async def community(self, info: Info) -> Community | None:
        found = await access.visible_community(info, self.community_pk)
        return Community.of(found) if found else None


@strawberry.type(description="A product card: the product, while it is on sale.")
class ProductCard:
    product_pk: strawberry.Private[int]

    @strawberry.field
    async def product(self, info: Info) -> Product | None:
        found = await catalog_loaders(info).public_product.load(self.product_pk)
        return Product.of(found) if found else None


@strawberry.type(
    description="A live group share: join it passing `ref` and the poster is credited."
)
class GroupShare:
    ref: str | None = strawberry.field(description="The poster's share code for this group.")
    group_pk: strawberry.Private[int]

    @strawberry.field(description="The group in its live state; null once it is out of sight.")
    async def group(self, info: Info) -> Group | None:
        found = await visible_group(info, await groupbuy_loaders(info).group.load(self.group_pk))
        return Group.of(found) if found else None


@strawberry.type(description="An order showcase (晒单): what the poster bought, not its price.")
class OrderShowcase:
    order_pk: strawberry.Private[int]

    @strawberry.field
    async def paid_at(self, info: Info) -> datetime | None:
        order = await groupbuy_loaders(info).order.load(self.order_pk)
        return order.paid_at if order else None

    @strawberry.field(description="The product bought, while it is on sale.")
    async def product(self, info: Info) -> Product | None:
        order = await groupbuy_loaders(info).order.load(self.order_pk)
        variant = await catalog_loaders(info).variant.load(order.variant_id) if order else None
        if variant is None:
            return None
        found = await catalog_loaders(info).public_product.load(variant.product_id)
        return Product.of(found) if found else None


PostAttachment = Annotated[
    ProductCard | GroupShare | OrderShowcase,
    strawberry.union("PostAttachment", description="What a post attaches."),
]


@strawberry.type(description="What a post said before an edit.")
class PostRevision:
    text: str
    media_urls: list[str]
    created_at: datetime = strawberry.field(description="When it was replaced.")


@strawberry.type(description="A member's post: text, media and at most one attachment.")
class Post(Node):
    text: str
    media_urls: list[str]
    pinned: bool
    pinned_at: datetime | None
    edited_at: datetime | None
    created_at: datetime
    reaction_count: int
    comment_count: int
    pk: strawberry.Private[int]
    community_pk: strawberry.Private[int]
    author_pk: strawberry.Private[int]
    row: strawberry.Private[models.Post]

    @classmethod
    def of(cls, p: models.Post) -> Post:
        return cls(
            id=strawberry.ID(to_global_id(NodeType.POST, p.id)),
            text=p.text,
            media_urls=list(p.media_urls),
            pinned=p.pinned,
            pinned_at=p.pinned_at,
            edited_at=p.edited_at,
            created_at=p.created_at,
            reaction_count=p.reaction_count,
            comment_count=p.comment_count,
            pk=p.id,
            community_pk=p.community_id,
            author_pk=p.author_id,
            row=p,
        )

    @strawberry.field(graphql_type=User)
    @plain_resolver
    def author(self, info: Info) -> User | Awaitable[User]:
        return loaded(account_loaders(info).user, self.author_pk, _author_of)

    @strawberry.field(description="Null once you may no longer see it (you left, say).")
    async def community(self, info: Info) -> Community | None:
        found = await access.visible_community(info, self.community_pk)
        return Community.of(found) if found else None

    @strawberry.field
    @plain_resolver
    def attachment(self) -> PostAttachment | None:
        kind, target = self.row.attachment_kind, self.row.attachment_id
        if kind is None or target is None:
            return None
        if kind == models.AttachmentKind.PRODUCT:
            return ProductCard(product_pk=target)
        if kind == models.AttachmentKind.GROUP:
            return GroupShare(ref=self.row.attachment_ref, group_pk=target)
        return OrderShowcase(order_pk=target)

    @strawberry.field(description="Top-level comments, oldest first, with their replies.")
    async def comments(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Comment]:
        return await post_comments(info, self.pk, first, after)

    @strawberry.field(description="Your reaction to this post; null if none or anonymous.")
    async def viewer_reaction(self, info: Info) -> models.ReactionKind | None:
        return await viewer_reaction(info, self.row)

    @strawberry.field(description="Whether you have reacted to this post.")
    async def viewer_has_reacted(self, info: Info) -> bool:
        return await viewer_reaction(info, self.row) is not None

    @strawberry.field(description="Whether you may comment on (and react to) this post.")
    async def viewer_can_comment(self, info: Info) -> bool:
        return await viewer_can_comment(info, self.row)

    @strawberry.field(
        description="Earlier versions, oldest first; null unless yours or you moderate."
    )
    async def revisions(self, info: Info) -> list[PostRevision] | None:
        if info.context.viewer.user is None:
            return None
        actor = await access.actor_in(info, self.community_pk)
        if not access.is_author_or_staff(actor, self.row):
            return None
        rows = await models.PostRevision.filter(post_id=self.pk).order_by("id")
        return [
            PostRevision(text=r.text, media_urls=r.media_urls, created_at=r.created_at)
            for r in rows
        ]


@strawberry.type
class CommunityQuery:
    @strawberry.field(description="A community by handle; null if none you may see.")
    async def community(self, info: Info, handle: str) -> Community | None:
        user = info.context.viewer.user
        found = await by_handle(handle.strip().lower(), None if user is None else user.id)
        if found is None:
            return None
        community, member = found
        loaders = community_loaders(info)
        loaders.community.prime(community.id, community)
        if user is not None:
            loaders.membership.prime((user.id, community.id), member)
        visible = await access.visible_community(info, community.id)
        return Community.of(visible) if visible else None

    @strawberry.field(description="Communities you may see whose name or handle holds `search`.")
    async def communities(
        self,
        info: Info,
        search: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Community]:
        query = models.Community.all()
        if search is not None:
            try:
                term = clean_text(search, "search", max_length=MAX_SEARCH)
            except DomainError as exc:
                raise from_domain(exc) from None
            query = query.filter(Q(name__icontains=term) | Q(handle__icontains=term))
        viewer = info.context.viewer
        if not viewer.is_admin:
            open_to_all = Q(visibility=models.Visibility.PUBLIC) & ~Q(
                kind=models.CommunityKind.PREMIUM
            )
            if viewer.user is None:
                query = query.filter(open_to_all)
            else:
                mine = models.Member.filter(
                    user_id=viewer.user.id, state=models.MemberState.ACTIVE
                ).filter(Q(term_ends_at__isnull=True) | Q(term_ends_at__gt=now_utc()))
                query = query.filter(open_to_all | Q(id__in=Subquery(mine.values("community_id"))))
        return await paginate(
            info, query, NEWEST_ID_FIRST, "COMMUNITIES", Community.of, _page_cap(first), after
        )


async def _community_node(info: Info, pk: int) -> Community | None:
    found = await access.visible_community(info, pk)
    return Community.of(found) if found else None


async def _post_node(info: Info, pk: int) -> Post | None:
    found = await access.visible_post(info, pk)
    return Post.of(found) if found else None


async def _member_node(info: Info, pk: int) -> CommunityMember | None:
    found = await access.visible_member(info, pk)
    return CommunityMember.of(found) if found else None


register_node(NodeType.COMMUNITY, _community_node)
register_node(NodeType.POST, _post_node)
register_node(NodeType.COMMUNITY_MEMBER, _member_node)

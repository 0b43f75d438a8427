"""Share links in the API: making one, recording a visit, and a sharer's dashboard."""

from __future__ import annotations

from datetime import datetime

import strawberry

from pintuan.core.errors import DomainError
from pintuan.core.ids import NodeType, to_global_id
from pintuan.core.pagination import SortKey, parse_int
from pintuan.graphql import provided
from pintuan.graphql.arguments import exactly_one
from pintuan.graphql.cache_hints import cache_hint
from pintuan.graphql.context import Info
from pintuan.graphql.ids import decode_id
from pintuan.graphql.mutations import MutationPayload, mutation
from pintuan.graphql.pagination import Connection, paginate
from pintuan.graphql.permissions import SignedIn, unauthenticated
from pintuan.referrals import attribution, models

NEWEST_FIRST = SortKey(("id",), True, (parse_int,))
strawberry.enum(models.ShareTarget, name="ShareTarget", description="What a share link points at.")
TARGET_NODES = {
    models.ShareTarget.PRODUCT: NodeType.PRODUCT,
    models.ShareTarget.OFFER: NodeType.GROUP_BUY,
    models.ShareTarget.GROUP: NodeType.GROUP,
}


def _target_id(link: models.ShareLink) -> strawberry.ID:
    return strawberry.ID(to_global_id(TARGET_NODES[link.target], link.target_id))


@cache_hint(inherit=True)  # seen only through the sharer's private `shareLinks`
@strawberry.type(description="A link of yours: send its URL, or pass its code as `ref`.")
class ShareLink:
    code: str
    url: str
    target: models.ShareTarget
    target_id: strawberry.ID = strawberry.field(description="The Product, GroupBuy or Group.")
    visits: int
    orders: int = strawberry.field(description="Paid orders credited to you, net of refunds.")
    sales: int = strawberry.field(description="Their totals, in minor units.")
    created_at: datetime

    @classmethod
    def of(cls, link: models.ShareLink, url_base: str) -> ShareLink:
        return cls(
            code=link.code,
            url=url_base + link.code,
            target=link.target,
            target_id=_target_id(link),
            visits=link.visits,
            orders=link.orders,
            sales=link.sales,
            created_at=link.created_at,
        )


@strawberry.input(description="Name exactly one thing to share.")
class ShareLinkCreateInput:
    product_id: strawberry.ID | None = None
    group_buy_id: strawberry.ID | None = None
    group_id: strawberry.ID | None = None


@strawberry.type
class ShareLinkPayload(MutationPayload):
    share_link: ShareLink | None = None


@strawberry.type(description="Where a visited link leads.")
class ShareVisitPayload(MutationPayload):
    target: models.ShareTarget | None = None
    target_id: strawberry.ID | None = None


@provided.provide("User.shareLinks")
async def share_links(
    info: Info, user_id: int, first: int | None, after: str | None
) -> Connection[ShareLink]:
    base = info.context.settings.share_url_base

    def convert(link: models.ShareLink) -> ShareLink:
        return ShareLink.of(link, base)

    query = models.ShareLink.filter(sharer_id=user_id)
    return await paginate(info, query, NEWEST_FIRST, "SHARE_LINKS", convert, first, after)


@strawberry.type
class ShareMutation:
    @mutation(SignedIn(), description="Your link to a product, offer or group; the same each time.")
    async def share_link_create(self, info: Info, input: ShareLinkCreateInput) -> ShareLinkPayload:
        user = info.context.viewer.user
        if user is None:
            raise unauthenticated()
        named = exactly_one(
            info,
            {
                "productId": input.product_id,
                "groupBuyId": input.group_buy_id,
                "groupId": input.group_id,
            },
        )
        target, raw, node = {
            "productId": (models.ShareTarget.PRODUCT, input.product_id, NodeType.PRODUCT),
            "groupBuyId": (models.ShareTarget.OFFER, input.group_buy_id, NodeType.GROUP_BUY),
            "groupId": (models.ShareTarget.GROUP, input.group_id, NodeType.GROUP),
        }[named]
        target_id = decode_id(str(raw), node, named)
        try:
            link = await attribution.create_link(user.id, target, target_id)
        except DomainError as exc:
            raise DomainError(exc.code, exc.message, named) from None
        return ShareLinkPayload(share_link=ShareLink.of(link, info.context.settings.share_url_base))

    @mutation(description="Someone opened a share link; signed in, their later orders may count.")
    async def share_visit(self, info: Info, code: str) -> ShareVisitPayload:
        user = info.context.viewer.user
        link = await attribution.visit(code, user.id if user else None)
        return ShareVisitPayload(target=link.target, target_id=_target_id(link))

"""Fill the loaders a page of posts will ask, before its fields resolve.

Both feeds (a community's and the home feed) hand their page here: the rows
every post names come in two statements whatever the page holds (see
``attached``), and each field then finds its row already in its loader.
"""

from __future__ import annotations

from collections.abc import Sequence

from pintuan.accounts.graphql.loaders import account_loaders
from pintuan.catalog.graphql.loaders import catalog_loaders
from pintuan.communities import attached, models
from pintuan.communities.graphql.loaders import community_loaders
from pintuan.communities.graphql.reactions import viewer_loaders
from pintuan.graphql.context import Info
from pintuan.groupbuys.graphql.loaders import groupbuy_loaders


async def prime_page(info: Info, posts: Sequence[models.Post]) -> None:
    """Authors, communities, the viewer's memberships and reactions, groups with their
    offers and orders with their variants in one statement; then every product named."""
    user = info.context.viewer.user
    viewer = user.id if user is not None else None
    found = await attached.page_rows(viewer, posts)
    communities, users = community_loaders(info), account_loaders(info)
    for post in posts:
        communities.post.prime(post.id, post)
    for pk, author in found.authors.items():
        users.user.prime(pk, author)
    for pk, community in found.communities.items():
        communities.community.prime(pk, community)
    if viewer is not None:
        for pk, member in found.memberships.items():
            communities.membership.prime((viewer, pk), member)
        reactions = viewer_loaders(info).reaction
        for pk, kind in found.reactions.items():
            reactions.prime((viewer, pk), kind)
    groupbuys, catalog = groupbuy_loaders(info), catalog_loaders(info)
    for pk, (group, offer) in found.attached.groups.items():
        groupbuys.group.prime(pk, group)
        groupbuys.group_buy.prime(offer.id, offer)
    for pk, (order, variant) in found.attached.orders.items():
        groupbuys.order.prime(pk, order)
        catalog.variant.prime(variant.id, variant)
    await catalog.public_product.load_many(sorted(found.attached.product_ids(posts)))

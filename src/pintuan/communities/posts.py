"""Posts: validated text and media, one attachment, pins, edits with history, soft deletes.

An attachment is checked when posted: a product card needs a product on sale; a
live group share needs an open group, and stores the poster's share code so a
join from the post credits them through the referral attribution; an order
showcase needs the poster's own paid order. Readers re-check what an attachment
shows when they read it (its product may have gone off sale since).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from pintuan.catalog import products
from pintuan.communities import pacing
from pintuan.communities.eligibility import PAID
from pintuan.communities.models import AttachmentKind, Community, Member, Post, PostRevision
from pintuan.core import validation
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.groupbuys.models import Group, GroupBuy, GroupStatus
from pintuan.groupbuys.order_models import Order
from pintuan.referrals import attribution
from pintuan.referrals.models import ShareTarget

MAX_TEXT = 5_000
MAX_MEDIA = 9  # a nine-picture grid, as WeChat Moments allows
MAX_PINNED = 5


@dataclass(frozen=True, slots=True)
class Attachment:
    kind: AttachmentKind
    target_id: int


def clean_text(text: str) -> str:
    return validation.text(text, "text", max_length=MAX_TEXT, multiline=True)


def clean_media(urls: Sequence[str]) -> list[str]:
    if len(urls) > MAX_MEDIA:
        raise DomainError(
            ErrorCode.TOO_MANY_MEDIA, f"A post carries at most {MAX_MEDIA} media.", "mediaUrls"
        )
    return [validation.url(u, f"mediaUrls.{i}") for i, u in enumerate(urls)]


async def _on_sale(product_id: int) -> bool:
    [found] = await products.public_products_by_ids([product_id])
    return found is not None


async def _checked_attachment(author_id: int, attachment: Attachment) -> tuple[int, str | None]:
    """The attachment's target id and, for a group, the author's share code."""
    field = "attachment"
    if attachment.kind == AttachmentKind.PRODUCT:
        if not await _on_sale(attachment.target_id):
            raise DomainError(ErrorCode.NOT_FOUND, "No such product.", field)
        return attachment.target_id, None
    if attachment.kind == AttachmentKind.GROUP:
        group = await Group.get_or_none(id=attachment.target_id)
        offer = await GroupBuy.get_or_none(id=group.group_buy_id) if group else None
        if group is None or offer is None or not await _on_sale(offer.product_id):
            raise DomainError(ErrorCode.NOT_FOUND, "No such group.", field)
        if group.status != GroupStatus.OPEN:
            raise DomainError(ErrorCode.GROUP_CLOSED, "Only a live group can be shared.", field)
        link = await attribution.create_link(author_id, ShareTarget.GROUP, group.id)
        return group.id, link.code
    order = await Order.get_or_none(id=attachment.target_id)
    if order is None or order.buyer_id != author_id:  # another's order: as if none existed
        raise DomainError(ErrorCode.NOT_FOUND, "No such order.", field)
    if order.status not in PAID:
        raise DomainError(ErrorCode.ORDER_NOT_PAID, "Show an order once it is paid.", field)
    return order.id, None


async def create(
    community: Community,
    author: Member,
    text: str,
    media_urls: Sequence[str],
    attachment: Attachment | None,
    now: datetime,
) -> Post:
    """Post as an active member. The author's activity and the community's post count
    change in the same transaction, the community row last (members.py's lock order)."""
    cleaned = clean_text(text)
    media = clean_media(media_urls)
    target_id, ref = (None, None)
    if attachment is not None:
        target_id, ref = await _checked_attachment(author.user_id, attachment)
    async with in_transaction():
        await pacing.claim_post_slot(author, community.slow_mode_seconds, now)
        post = await Post.create(
            community_id=community.id,
            author_id=author.user_id,
            text=cleaned,
            media_urls=media,
            attachment_kind=attachment.kind if attachment else None,
            attachment_id=target_id,
            attachment_ref=ref,
            created_at=now,
        )
        await Member.filter(id=author.id).update(last_active_at=now)
        await Community.filter(id=community.id).update(post_count=F("post_count") + 1)
    return post


async def edit(
    post: Post, editor_id: int, text: str | None, media_urls: Sequence[str] | None, now: datetime
) -> Post:
    """Change the text or media, keeping what they were as a revision."""
    cleaned = clean_text(text) if text is not None else post.text
    media = clean_media(media_urls) if media_urls is not None else post.media_urls
    async with in_transaction():
        await PostRevision.create(
            post_id=post.id,
            text=post.text,
            media_urls=post.media_urls,
            edited_by_id=editor_id,
            created_at=now,
        )
        changed = await Post.filter(id=post.id, deleted_at__isnull=True).update(
            text=cleaned, media_urls=media, edited_at=now
        )
        if not changed:
            raise DomainError(ErrorCode.NOT_FOUND, "No such post.", "postId")
    await post.refresh_from_db()
    return post


async def soft_delete(post_id: int, community_id: int, now: datetime) -> bool:
    """Mark a live post deleted and take it off its community's count: the post row,
    then the community row. False when it was deleted already (the count moves once)."""
    async with in_transaction():
        changed = await Post.filter(id=post_id, deleted_at__isnull=True).update(
            deleted_at=now, pinned=False, pinned_at=None
        )
        if changed:
            await Community.filter(id=community_id).update(post_count=F("post_count") - 1)
    return bool(changed)


async def delete(post: Post, now: datetime) -> Post:
    if not await soft_delete(post.id, post.community_id, now):
        raise DomainError(ErrorCode.NOT_FOUND, "No such post.", "id")
    await post.refresh_from_db()
    return post


async def pin(post: Post, now: datetime) -> Post:
    """Pin a post; at most ``MAX_PINNED`` per community. The post row, then the
    community row are locked (the order every post write keeps), so two pins at once
    count one after the other."""
    async with in_transaction():
        changed = await Post.filter(id=post.id, deleted_at__isnull=True, pinned=False).update(
            pinned=True, pinned_at=now
        )
        if changed:
            await Community.select_for_update().filter(id=post.community_id).first()
            pinned = await Post.filter(
                community_id=post.community_id, pinned=True, deleted_at__isnull=True
            ).count()
            if pinned > MAX_PINNED:
                raise DomainError(
                    ErrorCode.PIN_LIMIT_REACHED, f"At most {MAX_PINNED} pinned posts.", "id"
                )
    await post.refresh_from_db()
    return post


async def unpin(post: Post) -> Post:
    await Post.filter(id=post.id).update(pinned=False, pinned_at=None)
    await post.refresh_from_db()
    return post

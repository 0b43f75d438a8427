"""Community, membership and post mutations.

Every one needs a signed-in user (UNAUTHENTICATED otherwise). A target the viewer
cannot see is NOT_FOUND in ``userErrors``, exactly as a missing one; a visible
target the viewer's role may not change is a top-level FORBIDDEN.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from pintuan.accounts.models import User
from pintuan.communities import communities, members, models, pacing, posts
from pintuan.communities.graphql import access
from pintuan.communities.graphql.live import announce_post
from pintuan.communities.graphql.loaders import community_loaders
from pintuan.communities.graphql.refusals import paced_error
from pintuan.communities.graphql.types import Community, CommunityMember, Post
from pintuan.core import codes
from pintuan.core.clock import now_utc
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.core.ids import NodeType
from pintuan.core.validation import in_utc
from pintuan.graphql.arguments import exactly_one
from pintuan.graphql.context import Info
from pintuan.graphql.ids import decode_id
from pintuan.graphql.mutations import MutationPayload, found, mutation
from pintuan.graphql.permissions import forbidden, unauthenticated


@strawberry.input(description="A new community; you become its owner and first member.")
class CommunityCreateInput:
    handle: str
    name: str
    kind: models.CommunityKind
    description: str = ""
    visibility: models.Visibility = models.Visibility.PUBLIC
    join_policy: models.JoinPolicy = models.JoinPolicy.OPEN
    member_cap: int | None = None
    membership: models.MembershipModel = models.MembershipModel.FREE
    term_days: int | None = None
    admitting_product_ids: list[strawberry.ID] | None = None
    entry_min_paid_orders: int = 0
    entry_referral_rank: str | None = None
    slow_mode_seconds: int = 0


@strawberry.input(description="Change what is given; `clearMemberCap` removes the cap.")
class CommunityUpdateInput:
    community_id: strawberry.ID
    name: str | None = None
    description: str | None = None
    kind: models.CommunityKind | None = None
    visibility: models.Visibility | None = None
    join_policy: models.JoinPolicy | None = None
    member_cap: int | None = None
    clear_member_cap: bool = False
    membership: models.MembershipModel | None = None
    term_days: int | None = None
    admitting_product_ids: list[strawberry.ID] | None = None
    entry_min_paid_orders: int | None = None
    entry_referral_rank: str | None = strawberry.field(
        default=None, description='"" removes the threshold.'
    )
    slow_mode_seconds: int | None = None


@strawberry.input
class CommunityJoinInput:
    community_id: strawberry.ID
    invite_code: str | None = None


@strawberry.input(description="Ban a user (member or not) until a moment in the future.")
class CommunityBanInput:
    community_id: strawberry.ID
    user_id: strawberry.ID
    until: datetime


@strawberry.input(description="An invite; for one user if `inviteeId` is given.")
class CommunityInviteCreateInput:
    community_id: strawberry.ID
    invitee_id: strawberry.ID | None = None
    max_uses: int | None = None
    expires_at: datetime | None = None


@strawberry.input(description="A post; attach at most one of a product, a live group or an order.")
class PostCreateInput:
    community_id: strawberry.ID
    text: str
    media_urls: list[str] = strawberry.field(default_factory=list)
    product_id: strawberry.ID | None = None
    group_id: strawberry.ID | None = None
    order_id: strawberry.ID | None = None


@strawberry.input(description="Change a post's text or media; the old ones are kept as a revision.")
class PostUpdateInput:
    post_id: strawberry.ID
    text: str | None = None
    media_urls: list[str] | None = None


@strawberry.type
class CommunityPayload(MutationPayload):
    community: Community | None = None


@strawberry.type
class CommunityMemberPayload(MutationPayload):
    member: CommunityMember | None = None


@strawberry.type
class CommunityRemoveInactivePayload(MutationPayload):
    removed_count: int | None = None
    community: Community | None = None


@strawberry.type(description="An invite; share its code.")
class CommunityInvite:
    code: str
    max_uses: int | None
    uses: int
    expires_at: datetime | None


@strawberry.type
class CommunityInvitePayload(MutationPayload):
    invite: CommunityInvite | None = None


@strawberry.type
class PostPayload(MutationPayload):
    post: Post | None = None


def _product_ids(ids: list[strawberry.ID] | None) -> list[int] | None:
    if ids is None:
        return None
    return [
        decode_id(str(raw), NodeType.PRODUCT, f"admittingProductIds.{i}")
        for i, raw in enumerate(ids)
    ]


def _changes(
    input: CommunityCreateInput | CommunityUpdateInput, clear_member_cap: bool = False
) -> communities.Changes:
    """The settings both inputs name, as the service's changes."""
    return communities.Changes(
        name=input.name,
        description=input.description,
        kind=input.kind,
        visibility=input.visibility,
        join_policy=input.join_policy,
        member_cap=input.member_cap,
        clear_member_cap=clear_member_cap,
        membership=input.membership,
        term_days=input.term_days,
        admitting_product_ids=_product_ids(input.admitting_product_ids),
        entry_min_paid_orders=input.entry_min_paid_orders,
        entry_referral_rank=input.entry_referral_rank,
        slow_mode_seconds=input.slow_mode_seconds,
    )


def _utc(moment: datetime, field: str) -> datetime:
    try:
        return in_utc(moment)
    except ValueError as exc:
        raise DomainError(ErrorCode.INVALID, str(exc), field) from None


async def _fresh_community(pk: int) -> Community:
    return Community.of(await models.Community.get(id=pk))


async def _member_target(
    info: Info, raw: strawberry.ID
) -> tuple[models.Member, models.Community, members.Actor]:
    """A membership row a moderator acts on, in a community they can see."""
    pk = decode_id(str(raw), NodeType.COMMUNITY_MEMBER, "id")
    if info.context.viewer.user is None:
        raise unauthenticated()
    member = await community_loaders(info).member.load(pk)
    if member is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No such member.", "id")
    community, actor = await access.target_community(info, member.community_id, "id")
    return member, community, actor


async def _post_target(
    info: Info, raw: strawberry.ID, field: str = "id"
) -> tuple[models.Post, members.Actor]:
    pk = decode_id(str(raw), NodeType.POST, field)
    if info.context.viewer.user is None:
        raise unauthenticated()
    post = found(await access.visible_post(info, pk), "post", field)
    return post, await access.actor_in(info, post.community_id)


@strawberry.type
class CommunityMutation:
    @mutation(description="Start a community; you are its owner.")
    async def community_create(self, info: Info, input: CommunityCreateInput) -> CommunityPayload:
        user = info.context.viewer.user
        if user is None:
            raise unauthenticated()
        created = await communities.create(user.id, input.handle, _changes(input), now_utc())
        return CommunityPayload(community=Community.of(created))

    @mutation(description="Change a community's settings: its owner or an admin.")
    async def community_update(self, info: Info, input: CommunityUpdateInput) -> CommunityPayload:
        pk = decode_id(str(input.community_id), NodeType.COMMUNITY, "communityId")
        community, actor = await access.target_community(info, pk, "communityId")
        access.require_owner(actor)
        changes = _changes(input, clear_member_cap=input.clear_member_cap)
        updated = await communities.update(community, changes, now_utc())
        return CommunityPayload(community=Community.of(updated))

    @mutation(
        description="Join: OPEN admits, APPROVAL queues, INVITE (and any community you "
        "cannot see yet) needs an invite code."
    )
    async def community_join(self, info: Info, input: CommunityJoinInput) -> CommunityMemberPayload:
        pk = decode_id(str(input.community_id), NodeType.COMMUNITY, "communityId")
        actor = await access.actor_in(info, pk)
        community = await access.visible_community(info, pk)
        if community is None and input.invite_code is not None:
            # Unseen, it exists only for someone holding one of its invite codes.
            code = codes.parse(input.invite_code)
            if code is not None and await models.Invite.exists(code=code, community_id=pk):
                community = await models.Community.get_or_none(id=pk)
        if community is None:
            raise DomainError(ErrorCode.NOT_FOUND, "No such community.", "communityId")
        member = await members.join(community, actor.user_id, input.invite_code, now_utc())
        return CommunityMemberPayload(member=CommunityMember.of(member))

    @mutation(description="Leave a community, or withdraw a request to join.")
    async def community_leave(self, info: Info, id: strawberry.ID) -> CommunityMemberPayload:
        pk = decode_id(str(id), NodeType.COMMUNITY, "id")
        actor = await access.actor_in(info, pk)
        member = actor.member
        if member is None or member.state not in (
            models.MemberState.ACTIVE,
            models.MemberState.PENDING,
        ):
            raise DomainError(ErrorCode.NOT_FOUND, "No membership to leave.", "id")
        left = await members.leave(member, now_utc())
        return CommunityMemberPayload(member=CommunityMember.of(left))

    @mutation(description="Admit a pending request (moderators); the member cap applies.")
    async def community_member_approve(
        self, info: Info, id: strawberry.ID
    ) -> CommunityMemberPayload:
        member, community, actor = await _member_target(info, id)
        access.require_staff(actor)
        approved = await members.approve(community, member, now_utc())
        return CommunityMemberPayload(member=CommunityMember.of(approved))

    @mutation(description="Turn down a pending request (moderators).")
    async def community_member_reject(
        self, info: Info, id: strawberry.ID
    ) -> CommunityMemberPayload:
        member, _, actor = await _member_target(info, id)
        access.require_staff(actor)
        return CommunityMemberPayload(
            member=CommunityMember.of(await members.reject(member, now_utc()))
        )

    @mutation(description="Remove a member (moderators remove members; the owner anyone).")
    async def community_member_remove(
        self, info: Info, id: strawberry.ID
    ) -> CommunityMemberPayload:
        member, _, actor = await _member_target(info, id)
        access.require_staff(actor)
        removed = await members.remove(actor, member, now_utc())
        return CommunityMemberPayload(member=CommunityMember.of(removed))

    @mutation(description="Ban a user until a date (moderators); they cannot rejoin before it.")
    async def community_member_ban(
        self, info: Info, input: CommunityBanInput
    ) -> CommunityMemberPayload:
        pk = decode_id(str(input.community_id), NodeType.COMMUNITY, "communityId")
        user_pk = decode_id(str(input.user_id), NodeType.USER, "userId")
        community, actor = await access.target_community(info, pk, "communityId")
        access.require_staff(actor)
        if not await User.exists(id=user_pk):
            raise DomainError(ErrorCode.NOT_FOUND, "No such user.", "userId")
        until = _utc(input.until, "until")
        banned = await members.ban(actor, community, user_pk, until, now_utc())
        return CommunityMemberPayload(member=CommunityMember.of(banned))

    @mutation(description="Make a member a moderator or back (the owner).")
    async def community_member_set_role(
        self, info: Info, id: strawberry.ID, role: models.MemberRole
    ) -> CommunityMemberPayload:
        member, _, actor = await _member_target(info, id)
        access.require_owner(actor)
        changed = await members.set_role(member, role, now_utc())
        return CommunityMemberPayload(member=CommunityMember.of(changed))

    @mutation(description="Record when a member's paid term ends (the owner): a renewal or a cut.")
    async def community_member_set_term(
        self, info: Info, id: strawberry.ID, ends_at: datetime
    ) -> CommunityMemberPayload:
        member, community, actor = await _member_target(info, id)
        access.require_owner(actor)
        changed = await members.set_term(community, member, _utc(ends_at, "endsAt"), now_utc())
        return CommunityMemberPayload(member=CommunityMember.of(changed))

    @mutation(description="Remove the members inactive for `days` (the owner); not moderators.")
    async def community_remove_inactive(
        self, info: Info, id: strawberry.ID, days: int
    ) -> CommunityRemoveInactivePayload:
        pk = decode_id(str(id), NodeType.COMMUNITY, "id")
        community, actor = await access.target_community(info, pk, "id")
        access.require_owner(actor)
        removed = await members.remove_inactive(community, days, now_utc())
        return CommunityRemoveInactivePayload(
            removed_count=removed, community=await _fresh_community(pk)
        )

    @mutation(description="Make an invite (moderators).")
    async def community_invite_create(
        self, info: Info, input: CommunityInviteCreateInput
    ) -> CommunityInvitePayload:
        pk = decode_id(str(input.community_id), NodeType.COMMUNITY, "communityId")
        community, actor = await access.target_community(info, pk, "communityId")
        access.require_staff(actor)
        invitee = None
        if input.invitee_id is not None:
            invitee = decode_id(str(input.invitee_id), NodeType.USER, "inviteeId")
            if not await User.exists(id=invitee):
                raise DomainError(ErrorCode.NOT_FOUND, "No such user.", "inviteeId")
        expires = _utc(input.expires_at, "expiresAt") if input.expires_at else None
        invite = await members.create_invite(
            community, actor.user_id, invitee, input.max_uses, expires, now_utc()
        )
        return CommunityInvitePayload(
            invite=CommunityInvite(
                code=invite.code,
                max_uses=invite.max_uses,
                uses=invite.uses,
                expires_at=invite.expires_at,
            )
        )

    @mutation(description="Post in a community you are an active member of.")
    async def post_create(self, info: Info, input: PostCreateInput) -> PostPayload:
        pk = decode_id(str(input.community_id), NodeType.COMMUNITY, "communityId")
        community, actor = await access.target_community(info, pk, "communityId")
        author = access.require_member(actor)
        attachment = None
        given = {
            "productId": input.product_id,
            "groupId": input.group_id,
            "orderId": input.order_id,
        }
        if any(v is not None for v in given.values()):
            named = exactly_one(info, given)
            kind, node = {
                "productId": (models.AttachmentKind.PRODUCT, NodeType.PRODUCT),
                "groupId": (models.AttachmentKind.GROUP, NodeType.GROUP),
                "orderId": (models.AttachmentKind.ORDER, NodeType.ORDER),
            }[named]
            attachment = posts.Attachment(kind, decode_id(str(given[named]), node, named))
        limiter, settings = info.context.limiter, info.context.settings
        try:
            async with pacing.paced(limiter, settings, pacing.Action.POST, author.user_id):
                post = await posts.create(
                    community, author, input.text, input.media_urls, attachment, now_utc()
                )
        except pacing.Paced as exc:
            raise paced_error(info, exc) from None
        except DomainError as exc:
            if exc.field == "attachment":
                raise DomainError(
                    exc.code, exc.message, next(k for k, v in given.items() if v)
                ) from None
            raise
        await announce_post(info, post)
        return PostPayload(post=Post.of(post))

    @mutation(description="Edit your own post; the earlier version is kept.")
    async def post_update(self, info: Info, input: PostUpdateInput) -> PostPayload:
        post, actor = await _post_target(info, input.post_id, "postId")
        if actor.user_id != post.author_id:
            raise forbidden()
        access.require_member(actor)
        edited = await posts.edit(post, actor.user_id, input.text, input.media_urls, now_utc())
        return PostPayload(post=Post.of(edited))

    @mutation(description="Delete a post: its author, a moderator or an admin.")
    async def post_delete(self, info: Info, id: strawberry.ID) -> PostPayload:
        post, actor = await _post_target(info, id)
        if not access.is_author_or_staff(actor, post):
            raise forbidden()
        return PostPayload(post=Post.of(await posts.delete(post, now_utc())))

    @mutation(description="Pin a post to the top of the feed (moderators); at most 5.")
    async def post_pin(self, info: Info, id: strawberry.ID) -> PostPayload:
        post, actor = await _post_target(info, id)
        access.require_staff(actor)
        return PostPayload(post=Post.of(await posts.pin(post, now_utc())))

    @mutation(description="Unpin a post (moderators).")
    async def post_unpin(self, info: Info, id: strawberry.ID) -> PostPayload:
        post, actor = await _post_target(info, id)
        access.require_staff(actor)
        return PostPayload(post=Post.of(await posts.unpin(post)))

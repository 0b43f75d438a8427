"""Communities' storage: the communities, their members and invites, posts with their
revisions, comments, reactions, reports, and follows between users.

Counters (members, posts, reactions, comments) live on the rows they count and are
changed in the statement that makes the change, so reading them never recounts.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from pintuan.accounts.models import User


class CommunityKind(StrEnum):
    DEALS = "DEALS"
    INTEREST = "INTEREST"
    PREMIUM = "PREMIUM"


class Visibility(StrEnum):
    PUBLIC = "PUBLIC"
    PRIVATE = "PRIVATE"


class JoinPolicy(StrEnum):
    OPEN = "OPEN"
    APPROVAL = "APPROVAL"
    INVITE = "INVITE"


class MembershipModel(StrEnum):
    FREE = "FREE"
    PAID_TERM = "PAID_TERM"
    LIFETIME = "LIFETIME"
    WITH_PURCHASE = "WITH_PURCHASE"


class MemberRole(StrEnum):
    OWNER = "OWNER"
    MODERATOR = "MODERATOR"
    MEMBER = "MEMBER"


class MemberState(StrEnum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    REMOVED = "REMOVED"
    BANNED = "BANNED"
    LEFT = "LEFT"


class AttachmentKind(StrEnum):
    PRODUCT = "PRODUCT"
    GROUP = "GROUP"
    ORDER = "ORDER"


class ReactionKind(StrEnum):
    LIKE = "LIKE"
    LOVE = "LOVE"
    LAUGH = "LAUGH"
    WOW = "WOW"


class ReportReason(StrEnum):
    SPAM = "SPAM"
    ABUSE = "ABUSE"
    SCAM = "SCAM"
    OTHER = "OTHER"


class ReportState(StrEnum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"
    DISMISSED = "DISMISSED"


# Model docstrings would become SQL table comments, which the SQLite schema
# editor does not escape; explanations live in comments instead.


class Community(Model):
    # A PREMIUM community is private whatever its visibility says (visibility.py).
    # member_cap None is unlimited; member_count counts ACTIVE members and is what the
    # cap is checked against, in the same UPDATE that admits (members.py).
    # entry thresholds: at least entry_min_paid_orders paid orders, and a referral
    # rank (referrals' PlanMember.rank) when entry_referral_rank is set.
    # admitting_product_ids: the products whose buyers a WITH_PURCHASE community admits.
    id = fields.IntField(primary_key=True)
    handle = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=80)
    description = fields.TextField(default="")
    owner: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="owned_communities", on_delete=fields.RESTRICT
    )
    owner_id: int
    kind = fields.CharEnumField(CommunityKind, max_length=8)
    visibility = fields.CharEnumField(Visibility, max_length=8, default=Visibility.PUBLIC)
    join_policy = fields.CharEnumField(JoinPolicy, max_length=8, default=JoinPolicy.OPEN)
    member_cap = fields.IntField(null=True)
    membership = fields.CharEnumField(MembershipModel, max_length=16, default=MembershipModel.FREE)
    term_days = fields.IntField(null=True)  # how long a PAID_TERM membership lasts
    admitting_product_ids: list[int] = fields.JSONField(default=list)
    entry_min_paid_orders = fields.IntField(default=0)
    entry_referral_rank = fields.CharField(max_length=16, null=True)
    slow_mode_seconds = fields.IntField(default=0)
    member_count = fields.IntField(default=0)
    post_count = fields.IntField(default=0)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "community"
        indexes = (("owner_id", "id"),)


class Member(Model):
    # One row per (community, user), kept through every state so a removal, a ban or
    # an ended term is remembered. Only ACTIVE with term_ends_at unset or in the
    # future is a member (visibility.py); a BANNED user may rejoin after banned_until.
    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "pintuan.Community", related_name="members", on_delete=fields.CASCADE
    )
    community_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="community_memberships", on_delete=fields.CASCADE
    )
    user_id: int
    role = fields.CharEnumField(MemberRole, max_length=9, default=MemberRole.MEMBER)
    state = fields.CharEnumField(MemberState, max_length=8)
    banned_until = fields.DatetimeField(null=True)
    term_ends_at = fields.DatetimeField(null=True)
    last_active_at = fields.DatetimeField()
    last_posted_at = fields.DatetimeField(null=True)  # slow mode reads it
    invite: fields.ForeignKeyNullableRelation[Invite] = fields.ForeignKeyField(
        "pintuan.Invite", related_name="members", null=True, on_delete=fields.SET_NULL
    )
    invite_id: int | None
    joined_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "community_member"
        unique_together = (("community", "user"),)
        indexes = (
            ("community_id", "state", "id"),
            ("user_id", "state", "community_id"),
            ("community_id", "state", "last_active_at"),
        )


class Invite(Model):
    # invitee set: only that user may use it; max_uses None is unlimited.
    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "pintuan.Community", related_name="invites", on_delete=fields.CASCADE
    )
    community_id: int
    code = fields.CharField(max_length=16, unique=True)
    created_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="community_invites_made", on_delete=fields.CASCADE
    )
    created_by_id: int
    invitee: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="community_invites", null=True, on_delete=fields.CASCADE
    )
    invitee_id: int | None
    max_uses = fields.IntField(null=True)
    uses = fields.IntField(default=0)
    expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "community_invite"
        indexes = (("community_id", "id"),)


class Post(Model):
    # attachment_id is a Product, a Group or an Order by attachment_kind; attachment_ref
    # is the poster's share code for a GROUP, so joining from the post credits them.
    # pinned mirrors pinned_at being set: a boolean orders the feed's index scan
    # (community, pinned, created_at, id) all in one direction.
    # hot_score and hot_scored_at belong to the HOT ranking.
    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "pintuan.Community", related_name="posts", on_delete=fields.CASCADE
    )
    community_id: int
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="community_posts", on_delete=fields.CASCADE
    )
    author_id: int
    text = fields.TextField()
    media_urls: list[str] = fields.JSONField(default=list)
    attachment_kind = fields.CharEnumField(AttachmentKind, max_length=8, null=True)
    attachment_id = fields.IntField(null=True)
    attachment_ref = fields.CharField(max_length=8, null=True)
    pinned = fields.BooleanField(default=False)
    pinned_at = fields.DatetimeField(null=True)
    edited_at = fields.DatetimeField(null=True)
    deleted_at = fields.DatetimeField(null=True)
    reaction_count = fields.IntField(default=0)
    comment_count = fields.IntField(default=0)
    hot_score = fields.FloatField(default=0)
    hot_scored_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "community_post"
        indexes = (
            ("community_id", "pinned", "created_at", "id"),
            ("community_id", "created_at", "id"),
            ("author_id", "created_at", "id"),
            ("attachment_kind", "attachment_id"),
        )


class PostRevision(Model):
    # The text and media a post had before each edit, oldest first by id.
    id = fields.IntField(primary_key=True)
    post: fields.ForeignKeyRelation[Post] = fields.ForeignKeyField(
        "pintuan.Post", related_name="revisions", on_delete=fields.CASCADE
    )
    post_id: int
    text = fields.TextField()
    media_urls: list[str] = fields.JSONField(default=list)
    edited_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="post_revisions", on_delete=fields.CASCADE
    )
    edited_by_id: int
    created_at = fields.DatetimeField()

    class Meta:
        table = "community_post_revision"
        indexes = (("post_id", "id"),)


class Comment(Model):
    # parent is a top-level comment: replies are one level deep.
    id = fields.IntField(primary_key=True)
    post: fields.ForeignKeyRelation[Post] = fields.ForeignKeyField(
        "pintuan.Post", related_name="comments", on_delete=fields.CASCADE
    )
    post_id: int
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="community_comments", on_delete=fields.CASCADE
    )
    author_id: int
    parent: fields.ForeignKeyNullableRelation[Comment] = fields.ForeignKeyField(
        "pintuan.Comment", related_name="replies", null=True, on_delete=fields.CASCADE
    )
    parent_id: int | None
    text = fields.TextField()
    reply_count = fields.IntField(default=0)
    edited_at = fields.DatetimeField(null=True)
    deleted_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "community_comment"
        indexes = (("post_id", "parent_id", "created_at", "id"),)


class Reaction(Model):
    id = fields.BigIntField(primary_key=True)
    post: fields.ForeignKeyRelation[Post] = fields.ForeignKeyField(
        "pintuan.Post", related_name="reactions", on_delete=fields.CASCADE
    )
    post_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="post_reactions", on_delete=fields.CASCADE
    )
    user_id: int
    kind = fields.CharEnumField(ReactionKind, max_length=8, default=ReactionKind.LIKE)
    created_at = fields.DatetimeField()

    class Meta:
        table = "community_reaction"
        unique_together = (("user", "post"),)
        indexes = (("post_id", "id"),)


class Follow(Model):
    id = fields.IntField(primary_key=True)
    follower: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="following", on_delete=fields.CASCADE
    )
    follower_id: int
    followee: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="followers", on_delete=fields.CASCADE
    )
    followee_id: int
    created_at = fields.DatetimeField()

    class Meta:
        table = "user_follow"
        unique_together = (("follower", "followee"),)
        # (…, id): followers and following are listed newest first by keyset (i15-social).
        indexes = (("followee_id", "follower_id"), ("followee_id", "id"), ("follower_id", "id"))


class Report(Model):
    # Exactly one of post and comment is set; community is copied in for the
    # moderators' queue.
    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "pintuan.Community", related_name="reports", on_delete=fields.CASCADE
    )
    community_id: int
    post: fields.ForeignKeyNullableRelation[Post] = fields.ForeignKeyField(
        "pintuan.Post", related_name="reports", null=True, on_delete=fields.CASCADE
    )
    post_id: int | None
    comment: fields.ForeignKeyNullableRelation[Comment] = fields.ForeignKeyField(
        "pintuan.Comment", related_name="reports", null=True, on_delete=fields.CASCADE
    )
    comment_id: int | None
    reporter: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="community_reports", on_delete=fields.CASCADE
    )
    reporter_id: int
    reason = fields.CharEnumField(ReportReason, max_length=8)
    note = fields.TextField(default="")
    state = fields.CharEnumField(ReportState, max_length=9, default=ReportState.OPEN)
    resolved_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "pintuan.User",
        related_name="community_reports_resolved",
        null=True,
        on_delete=fields.SET_NULL,
    )
    resolved_by_id: int | None
    resolved_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "community_report"
        indexes = (("community_id", "state", "id"),)

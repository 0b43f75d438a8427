"""Counters of the follow graph, kept beside it so that a profile never counts follows."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from pintuan.accounts.models import User


class FollowCounts(Model):
    # One row per user who has ever followed or been followed; none reads as zeros.
    # Both of a follow's rows change in the follow's transaction, in user id order.
    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "pintuan.User", related_name="follow_counts", on_delete=fields.CASCADE, primary_key=True
    )
    user_id: int
    followers = fields.IntField(default=0)
    following = fields.IntField(default=0)

    class Meta:
        table = "user_follow_counts"


class ModerationAction(Model):
    # What moderators did, for good: removals, bans, role changes, resolved reports.
    id = fields.IntField(primary_key=True)
    community_id = fields.IntField()
    moderator: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="moderation_actions", on_delete=fields.RESTRICT
    )
    moderator_id: int
    action = fields.CharField(max_length=24)
    target_user_id = fields.IntField(null=True)
    post_id = fields.IntField(null=True)
    comment_id = fields.IntField(null=True)
    reason = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "community_moderation_action"
        indexes = (("community_id", "id"),)

"""The referral tree's storage: who invited whom, each user's ancestors up to the cap,
team counters per (ancestor, level), and the history of admin rebinds.

``app_user.inviter_id`` (accounts) is the truth of the tree. A node caches a user's
chain to ``TREE_DEPTH`` levels, so a user's upline, and whether someone is in their
team at a level, is one indexed read; counters hold each ancestor's team size and
sales per level, so a team summary is one read whatever the team's size.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from pintuan.accounts.models import User
from pintuan.groupbuys.order_models import Order

TREE_DEPTH = 3  # levels of upline kept and of team counted, as the legal cap counts them


class BindSource(StrEnum):
    REGISTRATION = "REGISTRATION"
    FIRST_SHARE = "FIRST_SHARE"
    ADMIN = "ADMIN"


class ReferralNode(Model):
    # Written when the user's registration is consumed: its members are then counted
    # at its ancestors (a user without a node is not yet counted in any team).
    id = fields.IntField(primary_key=True)
    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "pintuan.User", related_name="referral_node", on_delete=fields.CASCADE
    )
    user_id: int
    ancestor_1_id = fields.IntField(null=True)  # the inviter
    ancestor_2_id = fields.IntField(null=True)
    ancestor_3_id = fields.IntField(null=True)
    bound_via = fields.CharEnumField(BindSource, max_length=16, null=True)
    bound_at = fields.DatetimeField(null=True)

    class Meta:
        table = "referral_node"
        indexes = (
            ("ancestor_1_id", "user_id"),
            ("ancestor_2_id", "user_id"),
            ("ancestor_3_id", "user_id"),
        )

    def ancestors(self) -> list[int | None]:
        return [self.ancestor_1_id, self.ancestor_2_id, self.ancestor_3_id]


class TeamCounter(Model):
    # Level 0 is the user's own purchases (members 0); level n counts the users n
    # levels below and what they bought. Sales are paid totals net of refunds, in
    # minor units of the platform's one currency.
    id = fields.BigIntField(primary_key=True)
    ancestor: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="team_counters", on_delete=fields.CASCADE
    )
    ancestor_id: int
    level = fields.SmallIntField()
    members = fields.IntField(default=0)
    sales = fields.BigIntField(default=0)

    class Meta:
        table = "team_counter"
        unique_together = (("ancestor", "level"),)


class Rebind(Model):
    # Kept for good: who moved whom from which inviter to which, when and why.
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="rebinds", on_delete=fields.CASCADE
    )
    user_id: int
    old_inviter_id = fields.IntField(null=True)
    new_inviter_id = fields.IntField()
    admin: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="rebinds_made", on_delete=fields.RESTRICT
    )
    admin_id: int
    reason = fields.CharField(max_length=500)
    created_at = fields.DatetimeField()

    class Meta:
        table = "referral_rebind"
        indexes = (("user_id", "id"),)


class ShareTarget(StrEnum):
    PRODUCT = "PRODUCT"
    OFFER = "OFFER"
    GROUP = "GROUP"


class ShareLink(Model):
    # One per (sharer, target): sharing the same thing again gives the same code.
    # The counters are the sharer's dashboard, kept as visits and attributions arrive.
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=8, unique=True)
    sharer: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="share_links", on_delete=fields.CASCADE
    )
    sharer_id: int
    target = fields.CharEnumField(ShareTarget, max_length=8)
    target_id = fields.IntField()
    visits = fields.IntField(default=0)
    orders = fields.IntField(default=0)
    sales = fields.BigIntField(default=0)
    created_at = fields.DatetimeField()

    class Meta:
        table = "share_link"
        unique_together = (("sharer", "target", "target_id"),)
        indexes = (("sharer_id", "id"),)


class ShareVisit(Model):
    # visitor is the signed-in user who opened the link, if any: only their visits
    # can attribute their later orders.
    id = fields.BigIntField(primary_key=True)
    link: fields.ForeignKeyRelation[ShareLink] = fields.ForeignKeyField(
        "pintuan.ShareLink", related_name="visits_made", on_delete=fields.CASCADE
    )
    link_id: int
    visitor_id = fields.IntField(null=True)
    visited_at = fields.DatetimeField()

    class Meta:
        table = "share_visit"
        indexes = (("visitor_id", "visited_at"),)


class AttributionRule(StrEnum):
    FIRST_TOUCH = "FIRST_TOUCH"
    LAST_TOUCH = "LAST_TOUCH"


class OrderAttribution(Model):
    # The sharer an order is credited to, decided once, as of the order's creation;
    # nothing later (a rebind, a newer visit) changes it.
    id = fields.IntField(primary_key=True)
    order: fields.OneToOneRelation[Order] = fields.OneToOneField(
        "pintuan.Order", related_name="attribution", on_delete=fields.RESTRICT
    )
    order_id: int
    sharer: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "pintuan.User", related_name="attributed_orders", on_delete=fields.RESTRICT
    )
    sharer_id: int
    link: fields.ForeignKeyRelation[ShareLink] = fields.ForeignKeyField(
        "pintuan.ShareLink", related_name="attributions", on_delete=fields.RESTRICT
    )
    link_id: int
    rule = fields.CharEnumField(AttributionRule, max_length=16)
    touched_at = fields.DatetimeField()
    attributed_at = fields.DatetimeField()
    # The order was refunded: its link's order and sales counts were taken back.
    reversed = fields.BooleanField(default=False)

    class Meta:
        table = "order_attribution"
        indexes = (("sharer_id", "order_id"),)


class PriceRule(StrEnum):
    """How the unit price an order was charged was set."""

    LIST = "LIST"  # the variant's or the offer's own price
    RESELLER_PRICE = "RESELLER_PRICE"  # the credited reseller's price for the variant
    OWNER_DISCOUNT = "OWNER_DISCOUNT"  # an owner's own purchase, the plan's rate off


class OrderTerms(Model):
    # What an order was bought under, written in the transaction that makes the order:
    # who sold it (the sharer credited, or the buyer), through which link, the
    # seller's upline to the level cap and everyone's rank then, the plan version in
    # force, the platform's unit price and how the charged price was set. The order
    # settles on these alone: a rebind, a promotion, a new plan version or a new
    # price after the order was made changes nothing it earns. The ids are a
    # snapshot, not relations.
    id = fields.IntField(primary_key=True)
    order: fields.OneToOneRelation[Order] = fields.OneToOneField(
        "pintuan.Order", related_name="referral_terms", on_delete=fields.RESTRICT
    )
    order_id: int
    seller_id = fields.IntField()
    link_id = fields.IntField(null=True)
    touched_at = fields.DatetimeField(null=True)
    upline_1_id = fields.IntField(null=True)  # the seller's inviter
    upline_2_id = fields.IntField(null=True)
    seller_rank = fields.CharField(max_length=16, null=True)
    upline_1_rank = fields.CharField(max_length=16, null=True)
    upline_2_rank = fields.CharField(max_length=16, null=True)
    plan_id = fields.IntField(null=True)
    plan_version = fields.IntField(null=True)
    platform_price = fields.IntField(null=True)  # with the plan: what the markup is over
    price_rule = fields.CharEnumField(PriceRule, max_length=16)

    class Meta:
        table = "order_terms"
        indexes = (("seller_id", "order_id"),)

    def upline(self) -> list[tuple[int, str | None]]:
        """(ancestor id, rank) nearest first, as frozen."""
        pairs = [(self.upline_1_id, self.upline_1_rank), (self.upline_2_id, self.upline_2_rank)]
        return [(user_id, rank) for user_id, rank in pairs if user_id is not None]

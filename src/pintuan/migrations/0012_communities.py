from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from pintuan.communities.models import AttachmentKind, CommunityKind, JoinPolicy, MemberRole, MemberState, MembershipModel, ReactionKind, ReportReason, ReportState, Visibility
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('pintuan', '0010_commission_plans')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Community',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('handle', fields.CharField(unique=True, max_length=64)),
                ('name', fields.CharField(max_length=80)),
                ('description', fields.TextField(default='', unique=False)),
                ('owner', fields.ForeignKeyField('pintuan.User', source_field='owner_id', db_constraint=True, to_field='id', related_name='owned_communities', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='DEALS: DEALS\nINTEREST: INTEREST\nPREMIUM: PREMIUM', enum_type=CommunityKind, max_length=8)),
                ('visibility', fields.CharEnumField(default=Visibility.PUBLIC, description='PUBLIC: PUBLIC\nPRIVATE: PRIVATE', enum_type=Visibility, max_length=8)),
                ('join_policy', fields.CharEnumField(default=JoinPolicy.OPEN, description='OPEN: OPEN\nAPPROVAL: APPROVAL\nINVITE: INVITE', enum_type=JoinPolicy, max_length=8)),
                ('member_cap', fields.IntField(null=True)),
                ('membership', fields.CharEnumField(default=MembershipModel.FREE, description='FREE: FREE\nPAID_TERM: PAID_TERM\nLIFETIME: LIFETIME\nWITH_PURCHASE: WITH_PURCHASE', enum_type=MembershipModel, max_length=16)),
                ('term_days', fields.IntField(null=True)),
                ('admitting_product_ids', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('entry_min_paid_orders', fields.IntField(default=0)),
                ('entry_referral_rank', fields.CharField(null=True, max_length=16)),
                ('slow_mode_seconds', fields.IntField(default=0)),
                ('member_count', fields.IntField(default=0)),
                ('post_count', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'community', 'app': 'pintuan', 'indexes': [Index(fields=['owner_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Follow',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('follower', fields.ForeignKeyField('pintuan.User', source_field='follower_id', db_constraint=True, to_field='id', related_name='following', on_delete=OnDelete.CASCADE)),
                ('followee', fields.ForeignKeyField('pintuan.User', source_field='followee_id', db_constraint=True, to_field='id', related_name='followers', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'user_follow', 'app': 'pintuan', 'unique_together': (('follower', 'followee'),), 'indexes': [Index(fields=['followee_id', 'follower_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Invite',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('pintuan.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='invites', on_delete=OnDelete.CASCADE)),
                ('code', fields.CharField(unique=True, max_length=16)),
                ('created_by', fields.ForeignKeyField('pintuan.User', source_field='created_by_id', db_constraint=True, to_field='id', related_name='community_invites_made', on_delete=OnDelete.CASCADE)),
                ('invitee', fields.ForeignKeyField('pintuan.User', source_field='invitee_id', null=True, db_constraint=True, to_field='id', related_name='community_invites', on_delete=OnDelete.CASCADE)),
                ('max_uses', fields.IntField(null=True)),
                ('uses', fields.IntField(default=0)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'community_invite', 'app': 'pintuan', 'indexes': [Index(fields=['community_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Member',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('pintuan.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('pintuan.User', source_field='user_id', db_constraint=True, to_field='id', related_name='community_memberships', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharEnumField(default=MemberRole.MEMBER, description='OWNER: OWNER\nMODERATOR: MODERATOR\nMEMBER: MEMBER', enum_type=MemberRole, max_length=9)),
                ('state', fields.CharEnumField(description='PENDING: PENDING\nACTIVE: ACTIVE\nEXPIRED: EXPIRED\nREMOVED: REMOVED\nBANNED: BANNED\nLEFT: LEFT', enum_type=MemberState, max_length=8)),
                ('banned_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('term_ends_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_active_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_posted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('invite', fields.ForeignKeyField('pintuan.Invite', source_field='invite_id', null=True, db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.SET_NULL)),
                ('joined_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'community_member', 'app': 'pintuan', 'unique_together': (('community', 'user'),), 'indexes': [Index(fields=['community_id', 'state', 'id']), Index(fields=['user_id', 'state', 'community_id']), Index(fields=['community_id', 'state', 'last_active_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Post',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('pintuan.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='posts', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('pintuan.User', source_field='author_id', db_constraint=True, to_field='id', related_name='community_posts', on_delete=OnDelete.CASCADE)),
                ('text', fields.TextField(unique=False)),
                ('media_urls', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('attachment_kind', fields.CharEnumField(null=True, description='PRODUCT: PRODUCT\nGROUP: GROUP\nORDER: ORDER', enum_type=AttachmentKind, max_length=8)),
                ('attachment_id', fields.IntField(null=True)),
                ('attachment_ref', fields.CharField(null=True, max_length=8)),
                ('pinned', fields.BooleanField(default=False)),
                ('pinned_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('edited_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('deleted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reaction_count', fields.IntField(default=0)),
                ('comment_count', fields.IntField(default=0)),
                ('hot_score', fields.FloatField(default=0)),
                ('hot_scored_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'community_post', 'app': 'pintuan', 'indexes': [Index(fields=['community_id', 'pinned', 'created_at', 'id']), Index(fields=['community_id', 'created_at', 'id']), Index(fields=['author_id', 'created_at', 'id']), Index(fields=['attachment_kind', 'attachment_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Comment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('post', fields.ForeignKeyField('pintuan.Post', source_field='post_id', db_constraint=True, to_field='id', related_name='comments', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('pintuan.User', source_field='author_id', db_constraint=True, to_field='id', related_name='community_comments', on_delete=OnDelete.CASCADE)),
                ('parent', fields.ForeignKeyField('pintuan.Comment', source_field='parent_id', null=True, db_constraint=True, to_field='id', related_name='replies', on_delete=OnDelete.CASCADE)),
                ('text', fields.TextField(unique=False)),
                ('reply_count', fields.IntField(default=0)),
                ('edited_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('deleted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'community_comment', 'app': 'pintuan', 'indexes': [Index(fields=['post_id', 'parent_id', 'created_at', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PostRevision',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('post', fields.ForeignKeyField('pintuan.Post', source_field='post_id', db_constraint=True, to_field='id', related_name='revisions', on_delete=OnDelete.CASCADE)),
                ('text', fields.TextField(unique=False)),
                ('media_urls', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('edited_by', fields.ForeignKeyField('pintuan.User', source_field='edited_by_id', db_constraint=True, to_field='id', related_name='post_revisions', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'community_post_revision', 'app': 'pintuan', 'indexes': [Index(fields=['post_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Reaction',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('post', fields.ForeignKeyField('pintuan.Post', source_field='post_id', db_constraint=True, to_field='id', related_name='reactions', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('pintuan.User', source_field='user_id', db_constraint=True, to_field='id', related_name='post_reactions', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(default=ReactionKind.LIKE, description='LIKE: LIKE\nLOVE: LOVE\nLAUGH: LAUGH\nWOW: WOW', enum_type=ReactionKind, max_length=8)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'community_reaction', 'app': 'pintuan', 'unique_together': (('user', 'post'),), 'indexes': [Index(fields=['post_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Report',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('pintuan.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='reports', on_delete=OnDelete.CASCADE)),
                ('post', fields.ForeignKeyField('pintuan.Post', source_field='post_id', null=True, db_constraint=True, to_field='id', related_name='reports', on_delete=OnDelete.CASCADE)),
                ('comment', fields.ForeignKeyField('pintuan.Comment', source_field='comment_id', null=True, db_constraint=True, to_field='id', related_name='reports', on_delete=OnDelete.CASCADE)),
                ('reporter', fields.ForeignKeyField('pintuan.User', source_field='reporter_id', db_constraint=True, to_field='id', related_name='community_reports', on_delete=OnDelete.CASCADE)),
                ('reason', fields.CharEnumField(description='SPAM: SPAM\nABUSE: ABUSE\nSCAM: SCAM\nOTHER: OTHER', enum_type=ReportReason, max_length=8)),
                ('note', fields.TextField(default='', unique=False)),
                ('state', fields.CharEnumField(default=ReportState.OPEN, description='OPEN: OPEN\nRESOLVED: RESOLVED\nDISMISSED: DISMISSED', enum_type=ReportState, max_length=9)),
                ('resolved_by', fields.ForeignKeyField('pintuan.User', source_field='resolved_by_id', null=True, db_constraint=True, to_field='id', related_name='community_reports_resolved', on_delete=OnDelete.SET_NULL)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'community_report', 'app': 'pintuan', 'indexes': [Index(fields=['community_id', 'state', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]

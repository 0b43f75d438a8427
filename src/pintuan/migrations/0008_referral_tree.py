from tortoise import migrations
from tortoise.migrations import operations as ops
from pintuan.referrals.models import AttributionRule, BindSource, ShareTarget
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('pintuan', '0007_outbox')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Rebind',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('pintuan.User', source_field='user_id', db_constraint=True, to_field='id', related_name='rebinds', on_delete=OnDelete.CASCADE)),
                ('old_inviter_id', fields.IntField(null=True)),
                ('new_inviter_id', fields.IntField()),
                ('admin', fields.ForeignKeyField('pintuan.User', source_field='admin_id', db_constraint=True, to_field='id', related_name='rebinds_made', on_delete=OnDelete.RESTRICT)),
                ('reason', fields.CharField(max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'referral_rebind', 'app': 'pintuan', 'indexes': [Index(fields=['user_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReferralNode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.OneToOneField('pintuan.User', source_field='user_id', db_constraint=True, to_field='id', related_name='referral_node', on_delete=OnDelete.CASCADE)),
                ('ancestor_1_id', fields.IntField(null=True)),
                ('ancestor_2_id', fields.IntField(null=True)),
                ('ancestor_3_id', fields.IntField(null=True)),
                ('bound_via', fields.CharEnumField(null=True, description='REGISTRATION: REGISTRATION\nFIRST_SHARE: FIRST_SHARE\nADMIN: ADMIN', enum_type=BindSource, max_length=16)),
                ('bound_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'referral_node', 'app': 'pintuan', 'indexes': [Index(fields=['ancestor_1_id', 'user_id']), Index(fields=['ancestor_2_id', 'user_id']), Index(fields=['ancestor_3_id', 'user_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ShareLink',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=8)),
                ('sharer', fields.ForeignKeyField('pintuan.User', source_field='sharer_id', db_constraint=True, to_field='id', related_name='share_links', on_delete=OnDelete.CASCADE)),
                ('target', fields.CharEnumField(description='PRODUCT: PRODUCT\nOFFER: OFFER\nGROUP: GROUP', enum_type=ShareTarget, max_length=8)),
                ('target_id', fields.IntField()),
                ('visits', fields.IntField(default=0)),
                ('orders', fields.IntField(default=0)),
                ('sales', fields.BigIntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'share_link', 'app': 'pintuan', 'unique_together': (('sharer', 'target', 'target_id'),), 'indexes': [Index(fields=['sharer_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrderAttribution',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.OneToOneField('pintuan.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='attribution', on_delete=OnDelete.RESTRICT)),
                ('sharer', fields.ForeignKeyField('pintuan.User', source_field='sharer_id', db_constraint=True, to_field='id', related_name='attributed_orders', on_delete=OnDelete.RESTRICT)),
                ('link', fields.ForeignKeyField('pintuan.ShareLink', source_field='link_id', db_constraint=True, to_field='id', related_name='attributions', on_delete=OnDelete.RESTRICT)),
                ('rule', fields.CharEnumField(description='FIRST_TOUCH: FIRST_TOUCH\nLAST_TOUCH: LAST_TOUCH', enum_type=AttributionRule, max_length=16)),
                ('touched_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('attributed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('reversed', fields.BooleanField(default=False)),
            ],
            options={'table': 'order_attribution', 'app': 'pintuan', 'indexes': [Index(fields=['sharer_id', 'order_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ShareVisit',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('link', fields.ForeignKeyField('pintuan.ShareLink', source_field='link_id', db_constraint=True, to_field='id', related_name='visits_made', on_delete=OnDelete.CASCADE)),
                ('visitor_id', fields.IntField(null=True)),
                ('visited_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'share_visit', 'app': 'pintuan', 'indexes': [Index(fields=['visitor_id', 'visited_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TeamCounter',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ancestor', fields.ForeignKeyField('pintuan.User', source_field='ancestor_id', db_constraint=True, to_field='id', related_name='team_counters', on_delete=OnDelete.CASCADE)),
                ('level', fields.SmallIntField()),
                ('members', fields.IntField(default=0)),
                ('sales', fields.BigIntField(default=0)),
            ],
            options={'table': 'team_counter', 'app': 'pintuan', 'unique_together': (('ancestor', 'level'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Order',
            name='ref',
            field=fields.CharField(null=True, max_length=8),
        ),
    ]

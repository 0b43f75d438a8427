from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('pintuan', '0014_refund_claims')]

    initial = False

    operations = [
        ops.CreateModel(
            name='FollowCounts',
            fields=[
                ('user', fields.OneToOneField('pintuan.User', source_field='user_id', primary_key=True, db_index=True, db_constraint=True, to_field='id', related_name='follow_counts', on_delete=OnDelete.CASCADE)),
                ('followers', fields.IntField(default=0)),
                ('following', fields.IntField(default=0)),
            ],
            options={'table': 'user_follow_counts', 'app': 'pintuan', 'pk_attr': 'user_id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ModerationAction',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community_id', fields.IntField()),
                ('moderator', fields.ForeignKeyField('pintuan.User', source_field='moderator_id', db_constraint=True, to_field='id', related_name='moderation_actions', on_delete=OnDelete.RESTRICT)),
                ('action', fields.CharField(max_length=24)),
                ('target_user_id', fields.IntField(null=True)),
                ('post_id', fields.IntField(null=True)),
                ('comment_id', fields.IntField(null=True)),
                ('reason', fields.CharField(default='', max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'community_moderation_action', 'app': 'pintuan', 'indexes': [Index(fields=['community_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='Follow',
            index=Index(fields=['followee_id', 'id']),
        ),
        ops.AddIndex(
            model_name='Follow',
            index=Index(fields=['follower_id', 'id']),
        ),
        ops.AlterModelOptions(
            name='FollowCounts',
            options={'table': 'user_follow_counts', 'app': 'pintuan', 'pk_attr': 'user_id'},
        ),
    ]

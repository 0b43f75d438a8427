from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from pintuan.referrals.plan_models import PlanStatus
from pintuan.referrals.terms import PlanKind
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('pintuan', '0009_commission_ledger')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CommissionPlan',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('merchant', fields.ForeignKeyField('pintuan.Merchant', source_field='merchant_id', db_constraint=True, to_field='id', related_name='commission_plans', on_delete=OnDelete.RESTRICT)),
                ('version', fields.IntField()),
                ('kind', fields.CharEnumField(description='TIERED_OWNER: TIERED_OWNER\nRESELLER: RESELLER', enum_type=PlanKind, max_length=16)),
                ('status', fields.CharEnumField(default=PlanStatus.DRAFT, description='DRAFT: DRAFT\nACTIVE: ACTIVE', enum_type=PlanStatus, max_length=8)),
                ('currency', fields.CharField(max_length=3)),
                ('max_levels', fields.IntField()),
                ('terms', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('created_by', fields.ForeignKeyField('pintuan.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='commission_plans', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('active_from', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'commission_plan', 'app': 'pintuan', 'unique_together': (('merchant', 'version'),), 'indexes': [Index(fields=['merchant_id', 'status', 'active_from'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PlanMember',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('pintuan.User', source_field='user_id', db_constraint=True, to_field='id', related_name='plan_memberships', on_delete=OnDelete.RESTRICT)),
                ('merchant', fields.ForeignKeyField('pintuan.Merchant', source_field='merchant_id', db_constraint=True, to_field='id', related_name='plan_members', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='TIERED_OWNER: TIERED_OWNER\nRESELLER: RESELLER', enum_type=PlanKind, max_length=16)),
                ('rank', fields.CharField(max_length=16)),
                ('joined_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'plan_member', 'app': 'pintuan', 'unique_together': (('user', 'merchant', 'kind'),), 'indexes': [Index(fields=['merchant_id', 'kind', 'user_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ResellerPrice',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('reseller', fields.ForeignKeyField('pintuan.User', source_field='reseller_id', db_constraint=True, to_field='id', related_name='reseller_prices', on_delete=OnDelete.RESTRICT)),
                ('variant', fields.ForeignKeyField('pintuan.Variant', source_field='variant_id', db_constraint=True, to_field='id', related_name='reseller_prices', on_delete=OnDelete.CASCADE)),
                ('price', fields.IntField()),
                ('currency', fields.CharField(max_length=3)),
                ('plan', fields.ForeignKeyField('pintuan.CommissionPlan', source_field='plan_id', db_constraint=True, to_field='id', related_name='reseller_prices', on_delete=OnDelete.RESTRICT)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'reseller_price', 'app': 'pintuan', 'unique_together': (('reseller', 'variant'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TierPromotion',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('pintuan.PlanMember', source_field='member_id', db_constraint=True, to_field='id', related_name='promotions', on_delete=OnDelete.RESTRICT)),
                ('from_rank', fields.CharField(max_length=16)),
                ('to_rank', fields.CharField(max_length=16)),
                ('team_size', fields.IntField()),
                ('team_sales', fields.BigIntField()),
                ('plan', fields.ForeignKeyField('pintuan.CommissionPlan', source_field='plan_id', db_constraint=True, to_field='id', related_name='promotions', on_delete=OnDelete.RESTRICT)),
                ('promoted_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'tier_promotion', 'app': 'pintuan', 'unique_together': (('member', 'to_rank'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]

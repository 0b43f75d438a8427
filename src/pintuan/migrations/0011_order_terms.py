from tortoise import migrations
from tortoise.migrations import operations as ops
from pintuan.referrals.models import PriceRule
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('pintuan', '0010_commission_plans')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OrderTerms',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.OneToOneField('pintuan.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='referral_terms', on_delete=OnDelete.RESTRICT)),
                ('seller_id', fields.IntField()),
                ('link_id', fields.IntField(null=True)),
                ('touched_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('upline_1_id', fields.IntField(null=True)),
                ('upline_2_id', fields.IntField(null=True)),
                ('seller_rank', fields.CharField(null=True, max_length=16)),
                ('upline_1_rank', fields.CharField(null=True, max_length=16)),
                ('upline_2_rank', fields.CharField(null=True, max_length=16)),
                ('plan_id', fields.IntField(null=True)),
                ('plan_version', fields.IntField(null=True)),
                ('platform_price', fields.IntField(null=True)),
                ('price_rule', fields.CharEnumField(description='LIST: LIST\nRESELLER_PRICE: RESELLER_PRICE\nOWNER_DISCOUNT: OWNER_DISCOUNT', enum_type=PriceRule, max_length=16)),
            ],
            options={'table': 'order_terms', 'app': 'pintuan', 'indexes': [Index(fields=['seller_id', 'order_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]

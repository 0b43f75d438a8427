from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from pintuan.catalog.models import ProductStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Merchant',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('handle', fields.CharField(unique=True, max_length=64)),
                ('name', fields.CharField(max_length=200)),
                ('logo_url', fields.CharField(null=True, max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'merchant', 'app': 'pintuan', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Product',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('merchant', fields.ForeignKeyField('pintuan.Merchant', source_field='merchant_id', db_constraint=True, to_field='id', related_name='products', on_delete=OnDelete.RESTRICT)),
                ('handle', fields.CharField(unique=True, max_length=120)),
                ('title', fields.CharField(max_length=300)),
                ('description', fields.TextField(default='', unique=False)),
                ('images', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('tags', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharEnumField(default=ProductStatus.DRAFT, description='DRAFT: DRAFT\nACTIVE: ACTIVE\nARCHIVED: ARCHIVED', enum_type=ProductStatus, max_length=16)),
                ('price_min', fields.IntField(default=0)),
                ('price_max', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'product', 'app': 'pintuan', 'indexes': [Index(fields=['status', 'created_at', 'id']), Index(fields=['status', 'price_min', 'id']), Index(fields=['status', 'title', 'id']), Index(fields=['merchant_id', 'status', 'created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ProductTag',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('product', fields.ForeignKeyField('pintuan.Product', source_field='product_id', db_constraint=True, to_field='id', related_name='tag_rows', on_delete=OnDelete.CASCADE)),
                ('tag', fields.CharField(db_index=True, max_length=64)),
            ],
            options={'table': 'product_tag', 'app': 'pintuan', 'unique_together': (('product', 'tag'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Variant',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('product', fields.ForeignKeyField('pintuan.Product', source_field='product_id', db_constraint=True, to_field='id', related_name='variants', on_delete=OnDelete.CASCADE)),
                ('sku', fields.CharField(unique=True, max_length=64)),
                ('title', fields.CharField(max_length=200)),
                ('options', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('price_amount', fields.IntField()),
                ('currency', fields.CharField(max_length=3)),
                ('stock_on_hand', fields.IntField(default=0)),
                ('stock_reserved', fields.IntField(default=0)),
                ('position', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'variant', 'app': 'pintuan', 'indexes': [Index(fields=['product_id', 'position']), Index(fields=['price_amount'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]

from tortoise import migrations
from tortoise.migrations import operations as ops
from pintuan.groupbuys.models import GroupStatus
from pintuan.groupbuys.order_models import OrderKind, OrderStatus, TransactionKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('pintuan', '0002_accounts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='GroupBuy',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('merchant', fields.ForeignKeyField('pintuan.Merchant', source_field='merchant_id', db_constraint=True, to_field='id', related_name='group_buys', on_delete=OnDelete.RESTRICT)),
                ('product', fields.ForeignKeyField('pintuan.Product', source_field='product_id', db_constraint=True, to_field='id', related_name='group_buys', on_delete=OnDelete.RESTRICT)),
                ('variant', fields.ForeignKeyField('pintuan.Variant', source_field='variant_id', db_constraint=True, to_field='id', related_name='group_buys', on_delete=OnDelete.RESTRICT)),
                ('solo_price', fields.IntField()),
                ('group_price', fields.IntField()),
                ('currency', fields.CharField(max_length=3)),
                ('group_size', fields.IntField()),
                ('duration_seconds', fields.IntField()),
                ('starts_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('per_user_limit', fields.IntField()),
                ('stock_limit', fields.IntField()),
                ('stock_taken', fields.IntField(default=0)),
                ('cancelled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'group_buy', 'app': 'pintuan', 'indexes': [Index(fields=['product_id', 'id']), Index(fields=['starts_at', 'ends_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Group',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('group_buy', fields.ForeignKeyField('pintuan.GroupBuy', source_field='group_buy_id', db_constraint=True, to_field='id', related_name='groups', on_delete=OnDelete.RESTRICT)),
                ('leader', fields.ForeignKeyField('pintuan.User', source_field='leader_id', db_constraint=True, to_field='id', related_name='led_groups', on_delete=OnDelete.RESTRICT)),
                ('size', fields.IntField()),
                ('slots_taken', fields.IntField(default=0)),
                ('paid_count', fields.IntField(default=0)),
                ('version', fields.IntField(default=0)),
                ('status', fields.CharEnumField(default=GroupStatus.OPEN, description='OPEN: OPEN\nFILLED: FILLED\nFAILED: FAILED\nCANCELLED: CANCELLED', enum_type=GroupStatus, max_length=16)),
                ('share_code', fields.CharField(unique=True, max_length=16)),
                ('opened_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('filled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'buy_group', 'app': 'pintuan', 'indexes': [Index(fields=['group_buy_id', 'status', 'expires_at']), Index(fields=['status', 'expires_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='GroupMember',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('group', fields.ForeignKeyField('pintuan.Group', source_field='group_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('pintuan.User', source_field='user_id', db_constraint=True, to_field='id', related_name='group_memberships', on_delete=OnDelete.RESTRICT)),
                ('order_id', fields.IntField()),
                ('is_leader', fields.BooleanField(default=False)),
                ('paid', fields.BooleanField(default=False)),
                ('joined_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'group_member', 'app': 'pintuan', 'unique_together': (('group', 'user'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OfferAllowance',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('group_buy', fields.ForeignKeyField('pintuan.GroupBuy', source_field='group_buy_id', db_constraint=True, to_field='id', related_name='allowances', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('pintuan.User', source_field='user_id', db_constraint=True, to_field='id', related_name='allowances', on_delete=OnDelete.CASCADE)),
                ('quantity', fields.IntField(default=0)),
            ],
            options={'table': 'offer_allowance', 'app': 'pintuan', 'unique_together': (('group_buy', 'user'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Order',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('buyer', fields.ForeignKeyField('pintuan.User', source_field='buyer_id', db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.RESTRICT)),
                ('merchant', fields.ForeignKeyField('pintuan.Merchant', source_field='merchant_id', db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='SOLO: SOLO\nGROUP: GROUP', enum_type=OrderKind, max_length=8)),
                ('group', fields.ForeignKeyField('pintuan.Group', source_field='group_id', null=True, db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.RESTRICT)),
                ('group_buy', fields.ForeignKeyField('pintuan.GroupBuy', source_field='group_buy_id', null=True, db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.RESTRICT)),
                ('variant', fields.ForeignKeyField('pintuan.Variant', source_field='variant_id', db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.RESTRICT)),
                ('quantity', fields.IntField()),
                ('unit_price', fields.IntField()),
                ('currency', fields.CharField(max_length=3)),
                ('status', fields.CharEnumField(default=OrderStatus.PENDING_PAYMENT, description='PENDING_PAYMENT: PENDING_PAYMENT\nPAID: PAID\nCOMPLETED: COMPLETED\nCANCELLED: CANCELLED\nREFUNDED: REFUNDED', enum_type=OrderStatus, max_length=16)),
                ('idempotency_key', fields.CharField(max_length=100)),
                ('request_hash', fields.CharField(max_length=64)),
                ('failure_code', fields.CharField(null=True, max_length=32)),
                ('payment_due_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('paid_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('cancelled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('refunded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'customer_order', 'app': 'pintuan', 'unique_together': (('buyer', 'idempotency_key'),), 'indexes': [Index(fields=['buyer_id', 'id']), Index(fields=['status', 'payment_due_at']), Index(fields=['group_id', 'status'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PaymentEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event_id', fields.CharField(unique=True, max_length=100)),
                ('order_id', fields.IntField(null=True)),
                ('kind', fields.CharField(max_length=32)),
                ('outcome', fields.CharField(max_length=32)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'payment_event', 'app': 'pintuan', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PaymentTransaction',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.ForeignKeyField('pintuan.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='transactions', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='CHARGE: CHARGE\nREFUND: REFUND', enum_type=TransactionKind, max_length=8)),
                ('amount', fields.IntField()),
                ('currency', fields.CharField(max_length=3)),
                ('gateway', fields.CharField(max_length=32)),
                ('reference', fields.CharField(max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'payment_transaction', 'app': 'pintuan', 'unique_together': (('order', 'kind'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]

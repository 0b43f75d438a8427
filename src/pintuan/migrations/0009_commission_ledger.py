from tortoise import migrations
from tortoise.migrations import operations as ops
from pintuan.referrals.ledger_models import EntryState, EntryType, WithdrawalStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('pintuan', '0008_referral_tree')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CommissionAccount',
            fields=[
                ('id', fields.IntField(generated=False, primary_key=True, unique=True, db_index=True)),
            ],
            options={'table': 'commission_account', 'app': 'pintuan', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CommissionEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.ForeignKeyField('pintuan.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='commission_entries', on_delete=OnDelete.RESTRICT)),
                ('beneficiary', fields.ForeignKeyField('pintuan.User', source_field='beneficiary_id', db_constraint=True, to_field='id', related_name='commission_entries', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharField(max_length=32)),
                ('entry_type', fields.CharEnumField(description='EARNING: EARNING\nREVERSAL: REVERSAL', enum_type=EntryType, max_length=8)),
                ('amount', fields.IntField()),
                ('currency', fields.CharField(max_length=3)),
                ('plan_version', fields.IntField()),
                ('rule', fields.CharField(max_length=64)),
                ('state', fields.CharEnumField(description='PENDING: PENDING\nAVAILABLE: AVAILABLE\nREVERSED: REVERSED', enum_type=EntryState, max_length=16)),
                ('order_completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('available_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reversed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'commission_entry', 'app': 'pintuan', 'unique_together': (('order', 'beneficiary', 'kind', 'entry_type'),), 'indexes': [Index(fields=['beneficiary_id', 'id']), Index(fields=['beneficiary_id', 'state', 'id']), Index(fields=['state', 'order_completed_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Withdrawal',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('pintuan.User', source_field='user_id', db_constraint=True, to_field='id', related_name='withdrawals', on_delete=OnDelete.RESTRICT)),
                ('amount', fields.IntField()),
                ('currency', fields.CharField(max_length=3)),
                ('status', fields.CharEnumField(description='REQUESTED: REQUESTED\nPAID: PAID\nREJECTED: REJECTED', enum_type=WithdrawalStatus, max_length=16)),
                ('idempotency_key', fields.CharField(max_length=100)),
                ('open_user_id', fields.IntField(null=True, unique=True)),
                ('reason', fields.CharField(null=True, max_length=500)),
                ('decided_by', fields.ForeignKeyField('pintuan.User', source_field='decided_by_id', null=True, db_constraint=True, to_field='id', related_name='withdrawals_decided', on_delete=OnDelete.RESTRICT)),
                ('requested_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'withdrawal', 'app': 'pintuan', 'unique_together': (('user', 'idempotency_key'),), 'indexes': [Index(fields=['user_id', 'id']), Index(fields=['status', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]

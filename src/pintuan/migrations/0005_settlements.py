from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('pintuan', '0004_merchant_orders')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Group',
            name='settled_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name='Group',
            index=Index(fields=['status', 'settled_at']),
        ),
        ops.AddIndex(
            model_name='PaymentTransaction',
            index=Index(fields=['kind', 'reference']),
        ),
    ]

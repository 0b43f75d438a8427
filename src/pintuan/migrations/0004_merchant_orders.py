from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('pintuan', '0003_group_buys')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['merchant_id', 'id']),
        ),
    ]

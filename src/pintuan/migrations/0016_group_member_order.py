from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('pintuan', '0015_social')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='GroupMember',
            index=Index(fields=['order_id']),
        ),
    ]

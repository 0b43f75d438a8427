from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('pintuan', '0013_widget_settings')]

    initial = False

    operations = [
        ops.AddField(
            model_name='PaymentTransaction',
            name='claimed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]

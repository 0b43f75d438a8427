from tortoise import migrations
from tortoise.migrations import operations as ops
from pintuan.embed.models import WidgetLocale
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('pintuan', '0012_communities')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WidgetSettings',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('merchant', fields.OneToOneField('pintuan.Merchant', source_field='merchant_id', db_constraint=True, to_field='id', related_name='widget_settings', on_delete=OnDelete.RESTRICT)),
                ('checkout_url_template', fields.CharField(null=True, max_length=500)),
                ('default_locale', fields.CharEnumField(default=WidgetLocale.ZH_CN, description='ZH_CN: ZH_CN\nEN: EN', enum_type=WidgetLocale, max_length=8)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'widget_settings', 'app': 'pintuan', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]

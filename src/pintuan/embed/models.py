"""What a merchant configures for the widget on other people's pages."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from pintuan.accounts.models import Merchant


class WidgetLocale(StrEnum):
    """The widget's languages; the page's own language wins when it names one of them."""

    ZH_CN = "ZH_CN"
    EN = "EN"


# One row per merchant that changed the defaults (no docstring: Tortoise copies a
# model's docstring into SQL as the table's comment without escaping it).
class WidgetSettings(Model):
    id = fields.IntField(primary_key=True)
    merchant: fields.OneToOneRelation[Merchant] = fields.OneToOneField(
        "pintuan.Merchant", related_name="widget_settings", on_delete=fields.RESTRICT
    )
    merchant_id: int
    # None: the widget only dispatches pintuan:join / pintuan:start for the host page.
    checkout_url_template = fields.CharField(max_length=500, null=True)
    default_locale = fields.CharEnumField(WidgetLocale, max_length=8, default=WidgetLocale.ZH_CN)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "widget_settings"

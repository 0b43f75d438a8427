"""The widget's settings in the API: read by anyone (the widget), changed by the merchant."""

from __future__ import annotations

import strawberry

from pintuan.accounts import merchants
from pintuan.catalog.graphql.merchants import managed_merchant
from pintuan.embed import widgets
from pintuan.embed.models import WidgetLocale
from pintuan.graphql.context import Info
from pintuan.graphql.ids import NodeType, decode_id
from pintuan.graphql.mutations import MutationPayload, mutation
from pintuan.graphql.permissions import MerchantActor

strawberry.enum(
    WidgetLocale, description="The widget's language when neither it nor its page names one."
)


@strawberry.type(description="How the merchant's embedded group-buy widget behaves.")
class WidgetSettings:
    checkout_url_template: str | None = strawberry.field(
        description=(
            "Where Join and Start a group send the shopper, with {action}, {groupBuyId}, "
            "{groupId}, {shareCode} and {ref} filled in; null: the widget only dispatches "
            "pintuan:join / pintuan:start events for the host page."
        )
    )
    default_locale: WidgetLocale

    @classmethod
    def of(cls, widget: widgets.Widget) -> WidgetSettings:
        return cls(
            checkout_url_template=widget.checkout_url_template,
            default_locale=widget.default_locale,
        )


@strawberry.input
class WidgetSettingsUpdateInput:
    merchant_id: strawberry.ID
    checkout_url_template: str | None = strawberry.field(
        default=strawberry.UNSET, description="Omitted: unchanged; null: removed."
    )
    default_locale: WidgetLocale | None = None


@strawberry.type
class WidgetSettingsUpdatePayload(MutationPayload):
    widget_settings: WidgetSettings | None = None


@strawberry.type
class EmbedQuery:
    @strawberry.field(description="A merchant's widget settings (the defaults until changed).")
    async def widget_settings(
        self, info: Info, merchant_id: strawberry.ID
    ) -> WidgetSettings | None:
        pk = decode_id(merchant_id, NodeType.MERCHANT, "merchantId")
        if await merchants.merchant_by_id(pk) is None:
            return None
        return WidgetSettings.of(await widgets.widget_of(pk))


@strawberry.type
class EmbedMutation:
    @mutation(MerchantActor())
    async def widget_settings_update(
        self, info: Info, input: WidgetSettingsUpdateInput
    ) -> WidgetSettingsUpdatePayload:
        merchant = await managed_merchant(info, input.merchant_id)
        template = input.checkout_url_template
        widget = await widgets.update_widget(
            merchant.id,
            input.default_locale,
            change_template=template is not strawberry.UNSET,
            template=None if template is strawberry.UNSET else template,
        )
        return WidgetSettingsUpdatePayload(widget_settings=WidgetSettings.of(widget))

"""Reading and changing a merchant's widget settings; plain Python, no GraphQL."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pintuan.core import validation
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.embed.models import WidgetLocale, WidgetSettings

# What the widget fills into a checkout URL template, URL-encoded.
PLACEHOLDERS = frozenset({"action", "groupBuyId", "groupId", "shareCode", "ref"})
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True, slots=True)
class Widget:
    checkout_url_template: str | None
    default_locale: WidgetLocale


DEFAULT = Widget(checkout_url_template=None, default_locale=WidgetLocale.ZH_CN)


def checkout_template(value: str, field: str = "checkoutUrlTemplate") -> str:
    """An http(s) URL whose only braces are known placeholders: the widget sends
    shoppers there, so a typo must be refused here rather than found by a buyer."""
    cleaned = validation.url(value, field)
    rest = _PLACEHOLDER.sub(lambda m: "" if m[1] in PLACEHOLDERS else "{", cleaned)
    if "{" in rest or "}" in rest:
        names = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
        raise DomainError(ErrorCode.INVALID, f"Use only the placeholders {names}.", field)
    return cleaned


async def widget_of(merchant_id: int) -> Widget:
    row = await WidgetSettings.get_or_none(merchant_id=merchant_id)
    if row is None:
        return DEFAULT
    return Widget(row.checkout_url_template, row.default_locale)


async def update_widget(
    merchant_id: int,
    default_locale: WidgetLocale | None,
    *,
    change_template: bool,
    template: str | None,
) -> Widget:
    """Changes what is given: with ``change_template``, None removes the template.

    Only the given fields are written, under the row lock ``update_or_create`` takes,
    so two updates of different fields never undo each other."""
    changes: dict[str, object] = {}
    if change_template:
        changes["checkout_url_template"] = None if template is None else checkout_template(template)
    if default_locale is not None:
        changes["default_locale"] = default_locale
    row, _ = await WidgetSettings.update_or_create(changes, merchant_id=merchant_id)
    return Widget(row.checkout_url_template, row.default_locale)

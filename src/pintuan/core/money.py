"""Money as integer minor units plus an ISO 4217 code; never floats."""

from __future__ import annotations

# Minor-unit exponent and display symbol for the currencies the market uses.
CURRENCIES: dict[str, tuple[int, str]] = {
    "CNY": (2, "¥"),
    "HKD": (2, "HK$"),
    "TWD": (2, "NT$"),
    "USD": (2, "$"),
    "EUR": (2, "€"),
    "GBP": (2, "£"),
    "SGD": (2, "S$"),
    "JPY": (0, "¥"),
    "KRW": (0, "₩"),
}


def is_supported_currency(code: str) -> bool:
    return code in CURRENCIES


def format_money(amount: int, currency: str) -> str:
    """Render minor units for display: 12345 CNY -> '¥123.45'."""
    exponent, symbol = CURRENCIES.get(currency, (2, f"{currency} "))
    sign = "-" if amount < 0 else ""
    units = abs(amount)
    if exponent == 0:
        return f"{sign}{symbol}{units:,}"
    major, minor = divmod(units, 10**exponent)
    return f"{sign}{symbol}{major:,}.{minor:0{exponent}d}"

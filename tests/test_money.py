"""Money renders from integer minor units, never through floats."""

from __future__ import annotations

import pytest

from pintuan.core.money import format_money


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (12345, "CNY", "¥123.45"),
        (5, "CNY", "¥0.05"),
        (123456789, "USD", "$1,234,567.89"),
        (1500, "JPY", "¥1,500"),
        (-250, "EUR", "-€2.50"),
        (199, "XYZ", "XYZ 1.99"),
    ],
)
def test_format_money(amount: int, currency: str, expected: str) -> None:
    assert format_money(amount, currency) == expected

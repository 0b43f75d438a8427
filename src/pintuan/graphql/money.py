"""The Money type shared by every priced object."""

from __future__ import annotations

import strawberry

from pintuan.core.money import format_money
from pintuan.graphql.cache_hints import cache_hint


@cache_hint(inherit=True)
@strawberry.type(description="An amount in minor units (fen, cents) of an ISO 4217 currency.")
class Money:
    amount: int
    currency: str
    formatted: str

    @classmethod
    def of(cls, amount: int, currency: str) -> Money:
        return cls(amount=amount, currency=currency, formatted=format_money(amount, currency))

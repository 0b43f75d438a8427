"""What domains above group buys decide about a purchase while it is being made.

A purchase asks its runtime's ``Checkout`` for a quote before the order exists:
the unit price to charge (a reseller's own price, an owner's discount) and what
to record with the order once it is inserted, on the same transaction (who
sold it, their upline, the plan in force), so nothing that changes later
reaches back into an order already made. Group buys own this protocol; the
composition root gives the runtime an implementation from the referral
domain, so group buys never import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Basket:
    """One purchase as it is about to be made; prices are unit prices in minor units."""

    buyer_id: int
    merchant_id: int
    product_id: int
    variant_id: int
    group_buy_id: int | None
    list_price: int  # what the order pays unless the quote says otherwise
    at_variant_price: bool  # bought alone at the variant's own price, not an offer's
    currency: str
    ref: str | None  # the share code the buyer arrived with, already parsed
    at: datetime


class Quote(Protocol):
    @property
    def unit_price(self) -> int: ...

    async def record(self, order_id: int) -> None:
        """Write what the order was bought under, on the order's own transaction."""


class Checkout(Protocol):
    async def quote(self, basket: Basket) -> Quote: ...

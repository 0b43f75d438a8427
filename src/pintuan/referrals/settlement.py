"""What the commission engine reads about an order, and the earnings it returns.

Both are frozen values built by the caller (the outbox consumer) from the order,
the earner frozen on it, the tree and the plan version in force when the order
was paid; the engine itself reads nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pintuan.core.validation import MAX_INT
from pintuan.referrals.terms import Rank

MAX_RULE_LENGTH = 64


class EarningKind(StrEnum):
    """One kind per beneficiary per order, so (order, beneficiary, kind) keys an entry."""

    SALES_COMMISSION = "SALES_COMMISSION"
    SELF_PURCHASE = "SELF_PURCHASE"
    INVITE_REWARD = "INVITE_REWARD"
    TEAM_SHARE = "TEAM_SHARE"
    RESELLER_MARKUP = "RESELLER_MARKUP"
    RESELLER_INVITE_SHARE = "RESELLER_INVITE_SHARE"


@dataclass(frozen=True)
class Line:
    """Unit prices in minor units: the platform's, and what the buyer paid for each."""

    product_id: int
    platform_price: int
    paid_price: int
    quantity: int

    @property
    def paid(self) -> int:
        return self.paid_price * self.quantity


@dataclass(frozen=True)
class Ancestor:
    """A user above the seller, nearest first; ``rank`` is None outside this plan."""

    user_id: int
    rank: Rank | None


@dataclass(frozen=True)
class OrderFacts:
    order_id: int
    merchant_id: int
    lines: tuple[Line, ...]
    seller_id: int
    seller_rank: Rank | None
    # The seller's inviter first, then theirs; entries past the level cap are ignored.
    upline: tuple[Ancestor, ...]
    # This is the seller's first completed order in this plan (pays the invite reward).
    first_order: bool
    # The seller bought for themselves.
    self_purchase: bool
    # The seller's sales before this order (reseller plans: the invite-share threshold).
    seller_prior_sales: int = 0

    @property
    def paid(self) -> int:
        return sum(line.paid for line in self.lines)


@dataclass(frozen=True)
class Earning:
    """What a plan decided one beneficiary earns on one order, as the ledger records it.

    ``amount`` is in minor units of the order's currency, already rounded down;
    ``rule`` names the plan's rule that produced it (for audits and disputes).
    """

    beneficiary_id: int
    kind: EarningKind
    amount: int  # minor units, > 0
    rule: str
    plan_id: int
    plan_version: int
    level: int  # 1 = the seller, 2 = their inviter, 3 = the inviter's inviter

    def check(self) -> None:
        if not 0 < self.amount <= MAX_INT:
            raise ValueError(f"an earning is a positive amount of minor units; got {self.amount}")
        if not 1 <= len(self.rule) <= MAX_RULE_LENGTH:
            raise ValueError(f"an earning names its rule in 1-{MAX_RULE_LENGTH} characters")

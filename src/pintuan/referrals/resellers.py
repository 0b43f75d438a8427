"""The reseller plan (爱库存, S2B2C): the markup range, the markup earned, the invite share.

A reseller sells at a price of their own within the range the merchant allows
over the platform price and earns the markup. Their inviter, once the
reseller's sales pass the plan's threshold, earns 10% of the sales past it,
platform-funded (the reseller's markup is whole).
"""

from __future__ import annotations

from pintuan.core.errors import DomainError, ErrorCode
from pintuan.referrals.depth import SELLER_LEVEL, payable
from pintuan.referrals.rounding import share
from pintuan.referrals.settlement import Earning, EarningKind, OrderFacts
from pintuan.referrals.terms import BASIS, PlanVersion, ResellerLevel, ResellerTerms


def price_range(terms: ResellerTerms, platform_price: int) -> tuple[int, int]:
    """The lowest and highest unit price a reseller may set, both inclusive.

    The bounds are rounded inwards (the lowest up, the highest down), so every
    price in range honours the plan exactly.
    """
    low = -(-platform_price * (BASIS + terms.min_markup) // BASIS)
    high = platform_price * (BASIS + terms.max_markup) // BASIS
    return low, high


def check_price(terms: ResellerTerms, platform_price: int, price: int, field: str = "price") -> int:
    low, high = price_range(terms, platform_price)
    if not low <= price <= high:
        raise DomainError(
            ErrorCode.RESELLER_PRICE_OUT_OF_RANGE,
            f"The price must be between {low} and {high} (minor units).",
            field,
        )
    return price


def invites_left(terms: ResellerTerms, level: ResellerLevel, invited: int) -> int:
    """How many more resellers one at ``level`` who has invited ``invited`` may invite."""
    return max(0, terms.quota_of(level) - invited)


def reseller_earnings(facts: OrderFacts, plan: PlanVersion, terms: ResellerTerms) -> list[Earning]:
    if not isinstance(facts.seller_rank, ResellerLevel):
        return []
    found: list[Earning] = []
    # Never more than the range allows, whatever price reached the order.
    markup = 0
    for line in facts.lines:
        _, high = price_range(terms, line.platform_price)
        markup += max(0, min(line.paid_price, high) - line.platform_price) * line.quantity
    if markup:
        found.append(
            Earning(
                facts.seller_id,
                EarningKind.RESELLER_MARKUP,
                markup,
                "reseller.markup",
                plan.id,
                plan.version,
                SELLER_LEVEL,
            )
        )
    inviter_level = SELLER_LEVEL + 1
    # A reseller's own purchase is not a sale of theirs: it earns their inviter nothing.
    if not facts.self_purchase and facts.upline and payable(inviter_level, plan.max_levels):
        inviter = facts.upline[0]
        past = facts.seller_prior_sales + facts.paid - terms.invite_share_threshold
        eligible = min(facts.paid, max(0, past))
        amount = share([(eligible, terms.invite_share)])
        if isinstance(inviter.rank, ResellerLevel) and amount:
            found.append(
                Earning(
                    inviter.user_id,
                    EarningKind.RESELLER_INVITE_SHARE,
                    amount,
                    "reseller.invite_share",
                    plan.id,
                    plan.version,
                    inviter_level,
                )
            )
    return found

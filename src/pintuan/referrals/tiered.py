"""The tiered shop-owner plan (万物心选): commissions, team shares, invite rewards, tiers.

Who earns on an order sold (or bought for themselves) by owner S:

- S: the product's rate on what the buyer paid (SALES_COMMISSION), or on their
  own purchase as the plan's self-purchase mode says (SELF_PURCHASE when paid as
  a commission; a discount is taken off the price at checkout instead).
- The nearest gold ancestor of S within the level cap: the team share (25%) of
  what S earned. This is break-away: once an owner below reaches gold, the
  owners under them are nearer to them than to the old gold, so the team share
  of that branch goes to the new gold owner, and the old one keeps the share of
  the new gold owner's own profit only. Platform-funded: S's earning is whole.
- S's inviter, on S's first completed order: the invite reward of the inviter's
  tier.
"""

from __future__ import annotations

from pintuan.referrals.depth import SELLER_LEVEL, payable
from pintuan.referrals.rounding import share
from pintuan.referrals.settlement import Earning, EarningKind, OrderFacts
from pintuan.referrals.terms import OwnerTier, PlanVersion, SelfPurchaseMode, TieredTerms


def self_purchase_price(terms: TieredTerms, product_id: int, platform_price: int) -> int:
    """What an owner pays for one unit bought for themselves.

    In DISCOUNT mode the product's rate comes off the price, the discount
    floored like every share: the owner never gets more than the rate.
    """
    if terms.self_purchase is not SelfPurchaseMode.DISCOUNT:
        return platform_price
    return platform_price - share([(platform_price, terms.rate_of(product_id))])


def tiered_earnings(facts: OrderFacts, plan: PlanVersion, terms: TieredTerms) -> list[Earning]:
    if not isinstance(facts.seller_rank, OwnerTier):
        return []

    def earning(user_id: int, kind: EarningKind, amount: int, rule: str, level: int) -> Earning:
        return Earning(user_id, kind, amount, rule, plan.id, plan.version, level)

    found: list[Earning] = []
    commission = share((line.paid, terms.rate_of(line.product_id)) for line in facts.lines)
    if not facts.self_purchase:
        kind, rule = EarningKind.SALES_COMMISSION, "tiered.sales_commission"
    elif terms.self_purchase is SelfPurchaseMode.COMMISSION:
        kind, rule = EarningKind.SELF_PURCHASE, "tiered.self_purchase_commission"
    else:
        commission = 0
    if commission:
        found.append(earning(facts.seller_id, kind, commission, rule, SELLER_LEVEL))

    for level, ancestor in enumerate(facts.upline, start=SELLER_LEVEL + 1):
        if not payable(level, plan.max_levels):
            break
        if isinstance(ancestor.rank, OwnerTier) and ancestor.rank.is_gold:
            amount = share([(commission, terms.team_share)])
            if amount:
                found.append(
                    earning(
                        ancestor.user_id, EarningKind.TEAM_SHARE, amount, "tiered.team_share", level
                    )
                )
            break

    if facts.first_order and facts.upline and payable(SELLER_LEVEL + 1, plan.max_levels):
        inviter = facts.upline[0]
        if isinstance(inviter.rank, OwnerTier):
            reward = terms.rule_of(inviter.rank).invite_reward
            if reward:
                found.append(
                    earning(
                        inviter.user_id,
                        EarningKind.INVITE_REWARD,
                        reward,
                        f"tiered.invite_reward.{inviter.rank.value.lower()}",
                        SELLER_LEVEL + 1,
                    )
                )
    return found


def promotion(
    terms: TieredTerms, current: OwnerTier, team_size: int, team_sales: int
) -> OwnerTier | None:
    """The tier an owner is promoted to, or None: the highest whose thresholds (team
    size and team sales, both) are met, if above ``current``. Never a demotion."""
    reached = current
    for rule in terms.tiers:
        if (
            rule.tier.rank > reached.rank
            and team_size >= rule.min_team_size
            and team_sales >= rule.min_team_sales
        ):
            reached = rule.tier
    return reached if reached is not current else None

"""The commission engine: an order's facts and a plan version in, its earnings out.

Pure and deterministic: no I/O, no clock. The caller stores each earning as one
ledger entry keyed (order, beneficiary, kind); the engine never returns two
earnings with the same beneficiary and kind, nor one above the level cap.
"""

from __future__ import annotations

from pintuan.referrals.resellers import reseller_earnings
from pintuan.referrals.settlement import Earning, OrderFacts
from pintuan.referrals.terms import PlanVersion, TieredTerms
from pintuan.referrals.tiered import tiered_earnings


def earnings(facts: OrderFacts, plan: PlanVersion) -> list[Earning]:
    if facts.merchant_id != plan.merchant_id:
        raise ValueError(f"order {facts.order_id} is not settled under merchant {plan.merchant_id}")
    if isinstance(plan.terms, TieredTerms):
        return tiered_earnings(facts, plan, plan.terms)
    return reseller_earnings(facts, plan, plan.terms)

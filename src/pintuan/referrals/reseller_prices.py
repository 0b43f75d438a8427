"""Resellers' own selling prices, held within the range their merchant's plan allows."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from pintuan.catalog.models import Variant
from pintuan.core.clock import now_utc
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.referrals.plan_models import PlanMember, ResellerPrice
from pintuan.referrals.plans import plan_row_in_force, version_of
from pintuan.referrals.resellers import check_price
from pintuan.referrals.terms import PlanKind, ResellerTerms


async def set_price(reseller_id: int, variant: Variant, price: int) -> ResellerPrice:
    """Set (or change) the unit price ``reseller_id`` sells ``variant`` at."""
    product = await variant.product
    row = await plan_row_in_force(product.merchant_id, now_utc())
    plan = None if row is None else version_of(row)
    is_member = await PlanMember.exists(
        user_id=reseller_id, merchant_id=product.merchant_id, kind=PlanKind.RESELLER
    )
    if plan is None or not isinstance(plan.terms, ResellerTerms) or not is_member:
        raise DomainError(
            ErrorCode.NOT_A_RESELLER, "You are not a reseller of this merchant.", "variantId"
        )
    if plan.currency != variant.currency:
        raise DomainError(
            ErrorCode.UNSUPPORTED_CURRENCY, "The plan pays in another currency.", "variantId"
        )
    check_price(plan.terms, variant.price_amount, price)
    async with in_transaction():
        existing = (
            await ResellerPrice.filter(reseller_id=reseller_id, variant_id=variant.id)
            .select_for_update()
            .first()
        )
        if existing is None:
            return await ResellerPrice.create(
                reseller_id=reseller_id,
                variant_id=variant.id,
                price=price,
                currency=variant.currency,
                plan_id=plan.id,
            )
        existing.price, existing.plan_id = price, plan.id
        await existing.save(update_fields=["price", "plan_id", "updated_at"])
        return existing


async def price_of(reseller_id: int, variant_id: int) -> ResellerPrice | None:
    """The reseller's price for a buyer arriving through their link; None: the list price."""
    return await ResellerPrice.get_or_none(reseller_id=reseller_id, variant_id=variant_id)

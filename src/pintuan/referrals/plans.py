"""Commission plans: drafting a version, activating it, and the version in force at a time.

A merchant's plan is a sequence of versions. Each is written whole as a DRAFT
and becomes ACTIVE once; an active version never changes. An order settles
under the version in force when it was paid: the active one with the latest
``active_from`` at or before that moment, so a new version never reaches back.

Every write records the merchant's plans tag (``plans_tag``) and the version's
own, so cached answers that read either are purged once the write commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from pintuan.accounts.models import Merchant
from pintuan.core import cache_tags
from pintuan.core.clock import now_utc
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.core.ids import NodeType
from pintuan.core.money import is_supported_currency
from pintuan.referrals.depth import check_max_levels
from pintuan.referrals.plan_models import CommissionPlan, PlanStatus
from pintuan.referrals.terms import PlanVersion, Terms, kind_of, terms_from_json, terms_to_json


def version_of(row: CommissionPlan) -> PlanVersion:
    return PlanVersion(
        id=row.id,
        merchant_id=row.merchant_id,
        version=row.version,
        currency=row.currency,
        max_levels=row.max_levels,
        terms=terms_from_json(row.terms),
        active_from=row.active_from,
    )


async def _locked_next_version(merchant_id: int) -> int:
    """Inside a transaction: lock the merchant, so two drafts never take one number."""
    await Merchant.filter(id=merchant_id).select_for_update().first()
    latest = await CommissionPlan.filter(merchant_id=merchant_id).order_by("-version").first()
    return 1 if latest is None else latest.version + 1


async def _draft(
    merchant_id: int, terms: Terms, currency: str, max_levels: int, created_by_id: int | None
) -> CommissionPlan:
    if not is_supported_currency(currency):
        raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, "Unknown currency.", "currency")
    return await CommissionPlan.create(
        merchant_id=merchant_id,
        version=await _locked_next_version(merchant_id),
        kind=kind_of(terms),
        currency=currency,
        max_levels=check_max_levels(max_levels),
        terms=terms_to_json(terms),
        created_by_id=created_by_id,
    )


async def _activate(plan: CommissionPlan) -> CommissionPlan:
    await Merchant.filter(id=plan.merchant_id).select_for_update().first()
    later = await CommissionPlan.exists(
        merchant_id=plan.merchant_id, status=PlanStatus.ACTIVE, version__gt=plan.version
    )
    if later:
        raise DomainError(
            ErrorCode.PLAN_SUPERSEDED, "A later version of this plan is already active.", "id"
        )
    now = now_utc()
    changed = await CommissionPlan.filter(id=plan.id, status=PlanStatus.DRAFT).update(
        status=PlanStatus.ACTIVE, active_from=now
    )
    if not changed:
        raise DomainError(
            ErrorCode.PLAN_NOT_DRAFT, "This version is already active; it never changes.", "id"
        )
    plan.status, plan.active_from = PlanStatus.ACTIVE, now
    return plan


def plans_tag(merchant_id: int) -> str:
    """Read by whatever shows which versions a merchant has or which is in force."""
    return cache_tags.listing(NodeType.COMMISSION_PLAN, f"merchant-{merchant_id}")


def _wrote(plan: CommissionPlan) -> CommissionPlan:
    cache_tags.wrote(
        cache_tags.entity(NodeType.COMMISSION_PLAN, plan.id), plans_tag(plan.merchant_id)
    )
    return plan


async def create_plan(
    merchant_id: int, terms: Terms, currency: str, max_levels: int, created_by_id: int | None
) -> CommissionPlan:
    """A new DRAFT version, numbered after every earlier one."""
    async with in_transaction():
        return _wrote(await _draft(merchant_id, terms, currency, max_levels, created_by_id))


async def activate_plan(plan: CommissionPlan) -> CommissionPlan:
    """Put a DRAFT in force from now; a version older than the active one is refused."""
    async with in_transaction():
        return _wrote(await _activate(plan))


async def publish_plan(
    merchant_id: int, terms: Terms, currency: str, max_levels: int, created_by_id: int | None
) -> CommissionPlan:
    """Draft and activate a version in one step."""
    async with in_transaction():
        draft = await _draft(merchant_id, terms, currency, max_levels, created_by_id)
        return _wrote(await _activate(draft))


async def plan_by_id(plan_id: int) -> CommissionPlan | None:
    return await CommissionPlan.get_or_none(id=plan_id)


def plans_of_merchant(merchant_id: int) -> QuerySet[CommissionPlan]:
    return CommissionPlan.filter(merchant_id=merchant_id)


async def plan_row_in_force(merchant_id: int, at: datetime) -> CommissionPlan | None:
    return (
        await CommissionPlan.filter(
            merchant_id=merchant_id, status=PlanStatus.ACTIVE, active_from__lte=at
        )
        .order_by("-active_from", "-version")
        .first()
    )


async def plans_in_force(merchant_ids: Sequence[int], at: datetime) -> list[CommissionPlan | None]:
    """The version in force at ``at`` for each merchant, in one query."""
    rows = await CommissionPlan.filter(
        merchant_id__in=list(merchant_ids), status=PlanStatus.ACTIVE, active_from__lte=at
    ).order_by("active_from", "version")
    latest = {row.merchant_id: row for row in rows}
    return [latest.get(merchant_id) for merchant_id in merchant_ids]


async def plan_in_force(merchant_id: int, at: datetime) -> PlanVersion | None:
    """The version an order of ``merchant_id`` paid at ``at`` settles under; None if no
    plan was active then (the order earns nothing)."""
    row = await plan_row_in_force(merchant_id, at)
    return None if row is None else version_of(row)

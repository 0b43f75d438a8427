"""The plans' DataLoaders: the version in force per merchant, for lists of merchants."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader

from pintuan.core.clock import now_utc
from pintuan.graphql.context import Info
from pintuan.referrals import plans
from pintuan.referrals.plan_models import CommissionPlan


async def _in_force_now(merchant_ids: Sequence[int]) -> list[CommissionPlan | None]:
    return await plans.plans_in_force(merchant_ids, now_utc())


@dataclass
class PlanLoaders:
    in_force_now: DataLoader[int, CommissionPlan | None] = field(
        default_factory=lambda: DataLoader(_in_force_now)
    )


def plan_loaders(info: Info) -> PlanLoaders:
    return info.context.loaders.of(PlanLoaders)

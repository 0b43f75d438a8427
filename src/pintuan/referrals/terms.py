"""The terms of a commission plan: what a merchant publishes, validated, as frozen values.

Rates and shares are integer basis points (1/10,000: 500 is 5%), amounts are
integer minor units of the plan's currency, so no float ever touches money.
Terms are stored as JSON on the plan row; ``terms_to_json`` and
``terms_from_json`` are the only way in and out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pintuan.core.errors import DomainError, ErrorCode
from pintuan.core.validation import MAX_INT

BASIS = 10_000
MIN_RATE = 500  # 5%
MAX_RATE = 4_000  # 40%
DEFAULT_TEAM_SHARE = 2_500  # 25%
DEFAULT_INVITE_SHARE = 1_000  # 10%
MAX_PRODUCT_RATES = 1_000


class PlanKind(StrEnum):
    TIERED_OWNER = "TIERED_OWNER"
    RESELLER = "RESELLER"


class OwnerTier(StrEnum):
    """Shop-owner tiers, lowest first; GOLD and above head a team of their own."""

    OWNER = "OWNER"
    GOLD = "GOLD"
    SENIOR_GOLD = "SENIOR_GOLD"

    @property
    def rank(self) -> int:
        return list(OwnerTier).index(self)

    @property
    def is_gold(self) -> bool:
        return self is not OwnerTier.OWNER


class ResellerLevel(StrEnum):
    V1 = "V1"
    V2 = "V2"
    V3 = "V3"
    V4 = "V4"
    V5 = "V5"


class SelfPurchaseMode(StrEnum):
    """What an owner gets on their own purchase: the rate off the price, as a commission,
    or nothing."""

    DISCOUNT = "DISCOUNT"
    COMMISSION = "COMMISSION"
    NONE = "NONE"


Rank = OwnerTier | ResellerLevel


@dataclass(frozen=True)
class TierRule:
    """A tier's promotion thresholds (both must be met) and its invite reward."""

    tier: OwnerTier
    min_team_size: int
    min_team_sales: int
    invite_reward: int


@dataclass(frozen=True)
class TieredTerms:
    default_rate: int
    product_rates: tuple[tuple[int, int], ...]  # (product id, rate), sorted by product
    self_purchase: SelfPurchaseMode
    tiers: tuple[TierRule, ...]  # one per OwnerTier, lowest first
    team_share: int = DEFAULT_TEAM_SHARE

    def rate_of(self, product_id: int) -> int:
        return dict(self.product_rates).get(product_id, self.default_rate)

    def rule_of(self, tier: OwnerTier) -> TierRule:
        return self.tiers[tier.rank]


@dataclass(frozen=True)
class LevelRule:
    level: ResellerLevel
    invite_quota: int


@dataclass(frozen=True)
class ResellerTerms:
    """Markup range over the platform price, and the inviter's share once an invitee's
    sales pass ``invite_share_threshold``."""

    min_markup: int
    max_markup: int
    invite_share_threshold: int
    levels: tuple[LevelRule, ...]  # one per ResellerLevel, V1 first
    invite_share: int = DEFAULT_INVITE_SHARE

    def quota_of(self, level: ResellerLevel) -> int:
        return self.levels[list(ResellerLevel).index(level)].invite_quota


Terms = TieredTerms | ResellerTerms


@dataclass(frozen=True)
class PlanVersion:
    """One published (or draft) version of a merchant's plan, as the engine reads it."""

    id: int
    merchant_id: int
    version: int
    currency: str
    max_levels: int
    terms: Terms
    active_from: datetime | None

    @property
    def kind(self) -> PlanKind:
        return kind_of(self.terms)


def kind_of(terms: Terms) -> PlanKind:
    return PlanKind.TIERED_OWNER if isinstance(terms, TieredTerms) else PlanKind.RESELLER


def _amount(value: int, field: str) -> int:
    if not 0 <= value <= MAX_INT:
        raise DomainError(ErrorCode.INVALID, f"Must be between 0 and {MAX_INT}.", field)
    return value


def _rate(value: int, field: str) -> int:
    if not MIN_RATE <= value <= MAX_RATE:
        raise DomainError(
            ErrorCode.COMMISSION_RATE_OUT_OF_RANGE,
            f"A commission rate is {MIN_RATE}-{MAX_RATE} basis points (5%-40%).",
            field,
        )
    return value


def _share(value: int, field: str) -> int:
    if not 0 <= value <= BASIS:
        raise DomainError(ErrorCode.INVALID, f"A share is 0-{BASIS} basis points.", field)
    return value


def tiered_terms(
    default_rate: int,
    product_rates: Iterable[tuple[int, int]],
    self_purchase: SelfPurchaseMode,
    tiers: Iterable[TierRule],
    team_share: int = DEFAULT_TEAM_SHARE,
    field: str = "tiered",
) -> TieredTerms:
    """Validated tiered-owner terms; each refusal names its input."""
    rates: dict[int, int] = {}
    for i, (product_id, rate) in enumerate(product_rates):
        if product_id in rates:
            raise DomainError(
                ErrorCode.INVALID, "A product has one rate.", f"{field}.productRates.{i}"
            )
        rates[product_id] = _rate(rate, f"{field}.productRates.{i}.rateBasisPoints")
    if len(rates) > MAX_PRODUCT_RATES:
        raise DomainError(
            ErrorCode.INVALID,
            f"At most {MAX_PRODUCT_RATES} product rates.",
            f"{field}.productRates",
        )
    rules = sorted(tiers, key=lambda r: r.tier.rank)
    if [r.tier for r in rules] != list(OwnerTier):
        raise DomainError(
            ErrorCode.INVALID,
            "Give one rule for each of OWNER, GOLD, SENIOR_GOLD.",
            f"{field}.tiers",
        )
    for i, rule in enumerate(rules):
        at = f"{field}.tiers.{i}"
        _amount(rule.min_team_size, f"{at}.minTeamSize")
        _amount(rule.min_team_sales, f"{at}.minTeamSales")
        _amount(rule.invite_reward, f"{at}.inviteReward")
        if rule.tier is OwnerTier.OWNER:
            if rule.min_team_size or rule.min_team_sales:
                raise DomainError(
                    ErrorCode.INVALID, "Owners join by invitation, with no threshold.", at
                )
            continue
        if rule.min_team_sales == 0:
            raise DomainError(
                ErrorCode.HEADCOUNT_ONLY,
                "A promotion needs a team-sales threshold: no plan rewards headcount alone.",
                f"{at}.minTeamSales",
            )
        below = rules[i - 1]
        if rule.min_team_size < below.min_team_size or rule.min_team_sales < below.min_team_sales:
            raise DomainError(
                ErrorCode.INVALID, "A higher tier's thresholds are at least the tier below's.", at
            )
    return TieredTerms(
        default_rate=_rate(default_rate, f"{field}.defaultRateBasisPoints"),
        product_rates=tuple(sorted(rates.items())),
        self_purchase=self_purchase,
        tiers=tuple(rules),
        team_share=_share(team_share, f"{field}.teamShareBasisPoints"),
    )


def reseller_terms(
    min_markup: int,
    max_markup: int,
    invite_share_threshold: int,
    levels: Iterable[LevelRule],
    invite_share: int = DEFAULT_INVITE_SHARE,
    field: str = "reseller",
) -> ResellerTerms:
    """Validated reseller terms; each refusal names its input."""
    _share(min_markup, f"{field}.minMarkupBasisPoints")
    _share(max_markup, f"{field}.maxMarkupBasisPoints")
    if min_markup > max_markup:
        raise DomainError(
            ErrorCode.MARKUP_RANGE_INVALID,
            "The lowest markup is above the highest.",
            f"{field}.minMarkupBasisPoints",
        )
    rules = sorted(levels, key=lambda r: list(ResellerLevel).index(r.level))
    if [r.level for r in rules] != list(ResellerLevel):
        raise DomainError(
            ErrorCode.INVALID, "Give one rule for each level V1-V5.", f"{field}.levels"
        )
    for i, rule in enumerate(rules):
        _amount(rule.invite_quota, f"{field}.levels.{i}.inviteQuota")
    return ResellerTerms(
        min_markup=min_markup,
        max_markup=max_markup,
        invite_share_threshold=_amount(invite_share_threshold, f"{field}.inviteShareThreshold"),
        levels=tuple(rules),
        invite_share=_share(invite_share, f"{field}.inviteShareBasisPoints"),
    )


def terms_to_json(terms: Terms) -> dict[str, Any]:
    if isinstance(terms, TieredTerms):
        return {
            "kind": PlanKind.TIERED_OWNER.value,
            "default_rate": terms.default_rate,
            "product_rates": [list(pair) for pair in terms.product_rates],
            "self_purchase": terms.self_purchase.value,
            "team_share": terms.team_share,
            "tiers": [
                [r.tier.value, r.min_team_size, r.min_team_sales, r.invite_reward]
                for r in terms.tiers
            ],
        }
    return {
        "kind": PlanKind.RESELLER.value,
        "min_markup": terms.min_markup,
        "max_markup": terms.max_markup,
        "invite_share": terms.invite_share,
        "invite_share_threshold": terms.invite_share_threshold,
        "levels": [[r.level.value, r.invite_quota] for r in terms.levels],
    }


def terms_from_json(data: dict[str, Any]) -> Terms:
    if data["kind"] == PlanKind.TIERED_OWNER:
        return TieredTerms(
            default_rate=data["default_rate"],
            product_rates=tuple((p, r) for p, r in data["product_rates"]),
            self_purchase=SelfPurchaseMode(data["self_purchase"]),
            team_share=data["team_share"],
            tiers=tuple(
                TierRule(OwnerTier(t), size, sales, reward)
                for t, size, sales, reward in data["tiers"]
            ),
        )
    return ResellerTerms(
        min_markup=data["min_markup"],
        max_markup=data["max_markup"],
        invite_share=data["invite_share"],
        invite_share_threshold=data["invite_share_threshold"],
        levels=tuple(LevelRule(ResellerLevel(v), quota) for v, quota in data["levels"]),
    )

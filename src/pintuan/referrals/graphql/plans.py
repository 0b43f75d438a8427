"""Commission plans over GraphQL: merchants draft, activate and read their plan's versions;
anyone reads the version in force; resellers set their own prices."""

from __future__ import annotations

from datetime import datetime

import strawberry

from pintuan.accounts import merchants
from pintuan.accounts.graphql.loaders import account_loaders
from pintuan.accounts.graphql.users import User
from pintuan.catalog.graphql.types import Merchant
from pintuan.catalog.models import Product
from pintuan.catalog.models import Variant as VariantModel
from pintuan.core import cache_tags
from pintuan.core.clock import now_utc
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.core.pagination import SortKey, parse_int
from pintuan.graphql import provided
from pintuan.graphql.arguments import exactly_one
from pintuan.graphql.cache_hints import Hint, cache_hint
from pintuan.graphql.context import Info
from pintuan.graphql.ids import NodeType, decode_id, to_global_id
from pintuan.graphql.money import Money
from pintuan.graphql.mutations import MutationPayload, found, mutation
from pintuan.graphql.node import Node, register_node
from pintuan.graphql.pagination import Connection, paginate
from pintuan.graphql.permissions import (
    MerchantActor,
    SignedIn,
    allow,
    require_merchant,
    unauthenticated,
)
from pintuan.referrals import members, plan_models, plans, reseller_prices
from pintuan.referrals.graphql.loaders import plan_loaders
from pintuan.referrals.plan_models import PlanStatus
from pintuan.referrals.terms import (
    DEFAULT_INVITE_SHARE,
    DEFAULT_TEAM_SHARE,
    LevelRule,
    OwnerTier,
    PlanKind,
    ResellerLevel,
    ResellerTerms,
    SelfPurchaseMode,
    Terms,
    TieredTerms,
    TierRule,
    reseller_terms,
    terms_from_json,
    tiered_terms,
)

strawberry.enum(PlanKind, name="CommissionPlanKind", description="Which of the two plans.")
strawberry.enum(
    PlanStatus,
    name="CommissionPlanStatus",
    description="A DRAFT becomes ACTIVE once and never changes again.",
)
strawberry.enum(OwnerTier, description="Shop-owner tiers; GOLD and above head a team.")
strawberry.enum(ResellerLevel, description="Reseller levels; each may invite a quota of others.")
strawberry.enum(
    SelfPurchaseMode,
    description="An owner's own purchase: the rate off the price, as a commission, or nothing.",
)

NEWEST_VERSION_FIRST = SortKey(("version",), True, (parse_int,))


@cache_hint(inherit=True)
@strawberry.type(description="A product's own commission rate.")
class ProductRate:
    product_id: strawberry.ID
    rate_basis_points: int


@cache_hint(inherit=True)
@strawberry.type(description="A tier's promotion thresholds (both must be met) and invite reward.")
class TierRuleTerms:
    tier: OwnerTier
    min_team_size: int
    min_team_sales: Money
    invite_reward: Money


@cache_hint(inherit=True)
@strawberry.type(
    name="TieredOwnerTerms",
    description="万物心选: rates in basis points (500 = 5%), amounts in minor units.",
)
class TieredOwnerTermsType:
    default_rate_basis_points: int
    product_rates: list[ProductRate]
    self_purchase: SelfPurchaseMode
    team_share_basis_points: int
    tiers: list[TierRuleTerms]

    @classmethod
    def of(cls, terms: TieredTerms, currency: str) -> TieredOwnerTermsType:
        return cls(
            default_rate_basis_points=terms.default_rate,
            product_rates=[
                ProductRate(
                    product_id=strawberry.ID(to_global_id(NodeType.PRODUCT, product_id)),
                    rate_basis_points=rate,
                )
                for product_id, rate in terms.product_rates
            ],
            self_purchase=terms.self_purchase,
            team_share_basis_points=terms.team_share,
            tiers=[
                TierRuleTerms(
                    tier=r.tier,
                    min_team_size=r.min_team_size,
                    min_team_sales=Money.of(r.min_team_sales, currency),
                    invite_reward=Money.of(r.invite_reward, currency),
                )
                for r in terms.tiers
            ],
        )


@cache_hint(inherit=True)
@strawberry.type(description="A reseller level and how many others it may invite.")
class ResellerLevelRule:
    level: ResellerLevel
    invite_quota: int


@cache_hint(inherit=True)
@strawberry.type(
    name="ResellerTerms",
    description="爱库存: the markup range over the platform price and the inviter's share.",
)
class ResellerTermsType:
    min_markup_basis_points: int
    max_markup_basis_points: int
    invite_share_basis_points: int
    invite_share_threshold: Money
    levels: list[ResellerLevelRule]

    @classmethod
    def of(cls, terms: ResellerTerms, currency: str) -> ResellerTermsType:
        return cls(
            min_markup_basis_points=terms.min_markup,
            max_markup_basis_points=terms.max_markup,
            invite_share_basis_points=terms.invite_share,
            invite_share_threshold=Money.of(terms.invite_share_threshold, currency),
            levels=[
                ResellerLevelRule(level=r.level, invite_quota=r.invite_quota) for r in terms.levels
            ],
        )


# Active versions are public terms (drafts reach staff only, in their own audience);
# every plan write purges the answers that read the merchant's plans.
@cache_hint(max_age=60)
@strawberry.type(description="One version of a merchant's commission plan.")
class CommissionPlan(Node):
    version: int
    kind: PlanKind
    status: PlanStatus
    max_levels: int = strawberry.field(
        description="Levels paid, the seller's own included: at most 3."
    )
    active_from: datetime | None
    created_at: datetime
    tiered: TieredOwnerTermsType | None
    reseller: ResellerTermsType | None

    @classmethod
    def of(cls, row: plan_models.CommissionPlan) -> CommissionPlan:
        cache_tags.read(cache_tags.entity(NodeType.COMMISSION_PLAN, row.id))
        terms = terms_from_json(row.terms)
        return cls(
            id=strawberry.ID(to_global_id(NodeType.COMMISSION_PLAN, row.id)),
            version=row.version,
            kind=row.kind,
            status=row.status,
            max_levels=row.max_levels,
            active_from=row.active_from,
            created_at=row.created_at,
            tiered=(
                TieredOwnerTermsType.of(terms, row.currency)
                if isinstance(terms, TieredTerms)
                else None
            ),
            reseller=(
                ResellerTermsType.of(terms, row.currency)
                if isinstance(terms, ResellerTerms)
                else None
            ),
        )


@strawberry.input
class ProductRateInput:
    product_id: strawberry.ID
    rate_basis_points: int


@strawberry.input
class TierRuleInput:
    tier: OwnerTier
    min_team_size: int = 0
    min_team_sales: int = strawberry.field(default=0, description="Minor units.")
    invite_reward: int = strawberry.field(default=0, description="Minor units.")


@strawberry.input(description="Rates and shares in basis points (500 = 5%).")
class TieredOwnerTermsInput:
    default_rate_basis_points: int
    tiers: list[TierRuleInput]
    self_purchase: SelfPurchaseMode
    product_rates: list[ProductRateInput] = strawberry.field(default_factory=list)
    team_share_basis_points: int = DEFAULT_TEAM_SHARE


@strawberry.input
class ResellerLevelRuleInput:
    level: ResellerLevel
    invite_quota: int


@strawberry.input(description="Markups and shares in basis points over the platform price.")
class ResellerTermsInput:
    min_markup_basis_points: int
    max_markup_basis_points: int
    invite_share_threshold: int = strawberry.field(description="Minor units of sales.")
    levels: list[ResellerLevelRuleInput]
    invite_share_basis_points: int = DEFAULT_INVITE_SHARE


@strawberry.input(description="A plan version: give exactly one of `tiered` and `reseller`.")
class CommissionPlanInput:
    merchant_id: strawberry.ID
    currency: str = "CNY"
    max_levels: int = 3
    tiered: TieredOwnerTermsInput | None = None
    reseller: ResellerTermsInput | None = None


@strawberry.type
class CommissionPlanPayload(MutationPayload):
    commission_plan: CommissionPlan | None = None


@strawberry.input(
    description="A reseller's unit price for a variant, in its currency's minor units."
)
class ResellerPriceSetInput:
    variant_id: strawberry.ID
    price: int


@strawberry.type(description="What a reseller sells a variant at through their own links.")
class ResellerPrice:
    variant_id: strawberry.ID
    price: Money
    updated_at: datetime


@strawberry.type
class ResellerPricePayload(MutationPayload):
    reseller_price: ResellerPrice | None = None


@strawberry.input(description="Enrol a user: give exactly one of `tier` and `level`.")
class PlanMemberEnrollInput:
    merchant_id: strawberry.ID
    user_id: strawberry.ID
    tier: OwnerTier | None = None
    level: ResellerLevel | None = None


@strawberry.type(description="A user's place in a merchant's plan.")
class PlanMember:
    user: User
    tier: OwnerTier | None
    level: ResellerLevel | None
    joined_at: datetime


@cache_hint(inherit=True)
@strawberry.type(
    description="Where a user stands in one merchant's plan: a shop-owner `tier` or a "
    "reseller `level` (the other null), and since when."
)
class PlanTier:
    merchant_id: strawberry.ID
    kind: PlanKind
    tier: OwnerTier | None
    level: ResellerLevel | None
    joined_at: datetime
    since: datetime = strawberry.field(
        description="When the current rank was reached: the last promotion, else joining."
    )
    merchant_pk: strawberry.Private[int]

    @strawberry.field(description="The merchant whose plan this is.")
    async def merchant(self, info: Info) -> Merchant | None:
        found = await account_loaders(info).merchant.load(self.merchant_pk)
        return Merchant.of_view(found) if found else None


@provided.provide("User.tier")
async def tiers_of(info: Info, user_id: int, merchant_id: strawberry.ID | None) -> list[PlanTier]:
    query = plan_models.PlanMember.filter(user_id=user_id)
    if merchant_id is not None:
        query = query.filter(merchant_id=decode_id(merchant_id, NodeType.MERCHANT, "merchantId"))
    rows = await query.order_by("merchant_id")
    promoted = {
        (member_id, rank): at
        for member_id, rank, at in await plan_models.TierPromotion.filter(
            member_id__in=[r.id for r in rows]
        ).values_list("member_id", "to_rank", "promoted_at")
    }
    found: list[PlanTier] = []
    for row in rows:
        rank = members.rank_of(row.kind, row.rank)
        found.append(
            PlanTier(
                merchant_id=strawberry.ID(to_global_id(NodeType.MERCHANT, row.merchant_id)),
                kind=row.kind,
                tier=rank if isinstance(rank, OwnerTier) else None,
                level=rank if isinstance(rank, ResellerLevel) else None,
                joined_at=row.joined_at,
                since=promoted.get((row.id, row.rank), row.joined_at),
                merchant_pk=row.merchant_id,
            )
        )
    return found


@strawberry.type
class PlanMemberEnrollPayload(MutationPayload):
    member: PlanMember | None = None


async def _product_ids(merchant_id: int, rates: list[ProductRateInput]) -> list[int]:
    ids = [
        decode_id(r.product_id, NodeType.PRODUCT, f"tiered.productRates.{i}.productId")
        for i, r in enumerate(rates)
    ]
    owned = {p.id for p in await Product.filter(id__in=ids, merchant_id=merchant_id).only("id")}
    for i, pk in enumerate(ids):
        if pk not in owned:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                "No such product of this merchant.",
                f"tiered.productRates.{i}.productId",
            )
    return ids


async def _tiered(merchant_id: int, t: TieredOwnerTermsInput) -> TieredTerms:
    ids = await _product_ids(merchant_id, t.product_rates)
    return tiered_terms(
        default_rate=t.default_rate_basis_points,
        product_rates=[
            (pk, r.rate_basis_points) for pk, r in zip(ids, t.product_rates, strict=True)
        ],
        self_purchase=t.self_purchase,
        tiers=[
            TierRule(r.tier, r.min_team_size, r.min_team_sales, r.invite_reward) for r in t.tiers
        ],
        team_share=t.team_share_basis_points,
    )


def _reseller(r: ResellerTermsInput) -> ResellerTerms:
    return reseller_terms(
        min_markup=r.min_markup_basis_points,
        max_markup=r.max_markup_basis_points,
        invite_share_threshold=r.invite_share_threshold,
        levels=[LevelRule(level.level, level.invite_quota) for level in r.levels],
        invite_share=r.invite_share_basis_points,
    )


async def _terms(merchant_id: int, input: CommissionPlanInput) -> Terms:
    if input.tiered is not None and input.reseller is None:
        return await _tiered(merchant_id, input.tiered)
    if input.reseller is not None and input.tiered is None:
        return _reseller(input.reseller)
    raise DomainError(ErrorCode.INVALID, "Give exactly one of `tiered` and `reseller`.", "tiered")


async def _managed(info: Info, input: CommissionPlanInput) -> tuple[int, Terms]:
    merchant_id = decode_id(input.merchant_id, NodeType.MERCHANT, "merchantId")
    require_merchant(info, merchant_id)
    found(await merchants.merchant_by_id(merchant_id), "merchant", "merchantId")
    return merchant_id, await _terms(merchant_id, input)


def _author(info: Info) -> int | None:
    user = info.context.viewer.user
    return None if user is None else user.id


@strawberry.type
class CommissionPlanMutation:
    @mutation(MerchantActor(), description="Draft a new version of the merchant's plan.")
    async def commission_plan_create(
        self, info: Info, input: CommissionPlanInput
    ) -> CommissionPlanPayload:
        merchant_id, terms = await _managed(info, input)
        row = await plans.create_plan(
            merchant_id, terms, input.currency, input.max_levels, _author(info)
        )
        return CommissionPlanPayload(commission_plan=CommissionPlan.of(row))

    @mutation(
        MerchantActor(),
        description="Put a draft in force from now. Orders paid earlier keep their version.",
    )
    async def commission_plan_activate(
        self, info: Info, id: strawberry.ID
    ) -> CommissionPlanPayload:
        row = found(
            await plans.plan_by_id(decode_id(id, NodeType.COMMISSION_PLAN)), "commission plan", "id"
        )
        require_merchant(info, row.merchant_id)
        return CommissionPlanPayload(
            commission_plan=CommissionPlan.of(await plans.activate_plan(row))
        )

    @mutation(MerchantActor(), description="Draft a version and put it in force at once.")
    async def commission_plan_publish(
        self, info: Info, input: CommissionPlanInput
    ) -> CommissionPlanPayload:
        merchant_id, terms = await _managed(info, input)
        row = await plans.publish_plan(
            merchant_id, terms, input.currency, input.max_levels, _author(info)
        )
        return CommissionPlanPayload(commission_plan=CommissionPlan.of(row))

    @mutation(SignedIn(), description="A reseller's price, within their merchant's markup range.")
    async def reseller_price_set(
        self, info: Info, input: ResellerPriceSetInput
    ) -> ResellerPricePayload:
        variant = found(
            await VariantModel.get_or_none(
                id=decode_id(input.variant_id, NodeType.VARIANT, "variantId")
            ),
            "variant",
            "variantId",
        )
        user = info.context.viewer.user
        if user is None:
            raise unauthenticated()
        row = await reseller_prices.set_price(user.id, variant, input.price)
        return ResellerPricePayload(
            reseller_price=ResellerPrice(
                variant_id=input.variant_id,
                price=Money.of(row.price, row.currency),
                updated_at=row.updated_at,
            )
        )

    @mutation(
        MerchantActor(),
        description="Enrol a shop owner at a tier or a reseller at a level; tiers then only "
        "rise by promotion.",
    )
    async def plan_member_enroll(
        self, info: Info, input: PlanMemberEnrollInput
    ) -> PlanMemberEnrollPayload:
        merchant_id = decode_id(input.merchant_id, NodeType.MERCHANT, "merchantId")
        require_merchant(info, merchant_id)
        found(await merchants.merchant_by_id(merchant_id), "merchant", "merchantId")
        user = found(
            await account_loaders(info).user.load(
                decode_id(input.user_id, NodeType.USER, "userId")
            ),
            "user",
            "userId",
        )
        exactly_one(info, {"tier": input.tier, "level": input.level})
        rank = next(r for r in (input.tier, input.level) if r is not None)
        row = await members.enroll(user.id, merchant_id, rank)
        return PlanMemberEnrollPayload(
            member=PlanMember(
                user=User.of(user),
                tier=rank if isinstance(rank, OwnerTier) else None,
                level=rank if isinstance(rank, ResellerLevel) else None,
                joined_at=row.joined_at,
            )
        )


@provided.provide("Merchant.commissionPlan")
async def plan_in_force_now(info: Info, merchant_id: int) -> CommissionPlan | None:
    cache_tags.read(plans.plans_tag(merchant_id))
    row = await plan_loaders(info).in_force_now.load(merchant_id)
    return None if row is None else CommissionPlan.of(row)


@cache_hint(fields={"commission_plans": Hint(max_age=60)})
@strawberry.type
class CommissionPlanQuery:
    @strawberry.field(
        description="The version of a merchant's plan in force at `at` (default: now); "
        "null when none was."
    )
    async def commission_plan(
        self, info: Info, merchant_id: strawberry.ID, at: datetime | None = None
    ) -> CommissionPlan | None:
        pk = decode_id(merchant_id, NodeType.MERCHANT, "merchantId")
        cache_tags.read(plans.plans_tag(pk))
        row = await plans.plan_row_in_force(pk, at or now_utc())
        return None if row is None else CommissionPlan.of(row)

    @strawberry.field(
        extensions=allow(MerchantActor()),
        description="Every version of a merchant's plan, drafts included, newest first.",
    )
    async def commission_plans(
        self,
        info: Info,
        merchant_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[CommissionPlan]:
        pk = decode_id(merchant_id, NodeType.MERCHANT, "merchantId")
        require_merchant(info, pk)
        cache_tags.read(plans.plans_tag(pk))
        return await paginate(
            info,
            plans.plans_of_merchant(pk),
            NEWEST_VERSION_FIRST,
            "COMMISSION_PLANS",
            CommissionPlan.of,
            first,
            after,
        )


async def _plan_node(info: Info, pk: int) -> CommissionPlan | None:
    """Active versions are public terms; drafts only for those who manage the merchant."""
    row = await plans.plan_by_id(pk)
    if row is None:
        return None
    if row.status is not PlanStatus.ACTIVE and not info.context.viewer.can_manage(row.merchant_id):
        return None
    return CommissionPlan.of(row)


register_node(NodeType.COMMISSION_PLAN, _plan_node)

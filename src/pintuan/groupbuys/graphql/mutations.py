"""Running offers and completing orders (merchants); buying into offers (signed-in shoppers)."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import datetime
from typing import TypeVar

import strawberry

from pintuan.catalog.graphql.admin import owned_variant
from pintuan.core.errors import ApiErrorCode, DomainError, ErrorCode
from pintuan.graphql.arguments import exactly_one
from pintuan.graphql.context import Info
from pintuan.graphql.errors import ApiError
from pintuan.graphql.ids import NodeType, decode_id
from pintuan.graphql.mutations import MutationPayload, found, mutation, user_errors
from pintuan.graphql.permissions import MerchantActor, SignedIn, require_merchant
from pintuan.groupbuys import lookups, models, offers, orders, purchases
from pintuan.groupbuys.graphql.loaders import groupbuy_loaders
from pintuan.groupbuys.graphql.runtime import runtime_of
from pintuan.groupbuys.graphql.types import Group, GroupBuy, Order


@strawberry.input(description="Prices are in minor units of the variant's currency.")
class GroupBuyCreateInput:
    variant_id: strawberry.ID
    group_price: int
    group_size: int
    starts_at: datetime
    ends_at: datetime
    stock_limit: int
    duration_seconds: int = 24 * 3600
    per_user_limit: int = 1
    solo_price: int | None = strawberry.field(
        default=None, description="Defaults to the variant's price."
    )


@strawberry.input(
    description=(
        "Once groups exist: only soloPrice, a later endsAt, perUserLimit, stockLimit. "
        "A later endsAt also extends open groups whose timer the old end cut short."
    )
)
class GroupBuyUpdateInput:
    id: strawberry.ID
    solo_price: int | None = None
    group_price: int | None = None
    group_size: int | None = None
    duration_seconds: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    per_user_limit: int | None = None
    stock_limit: int | None = None


@strawberry.type
class GroupBuyPayload(MutationPayload):
    group_buy: GroupBuy | None = None


@strawberry.input
class GroupStartInput:
    group_buy_id: strawberry.ID
    idempotency_key: str
    payment_token: str
    quantity: int = 1
    ref: str | None = strawberry.field(
        default=None, description="The share code the buyer arrived with, if any."
    )


@strawberry.input(description="Name the group by groupId or by shareCode.")
class GroupJoinInput:
    idempotency_key: str
    payment_token: str
    group_id: strawberry.ID | None = None
    share_code: str | None = None
    quantity: int = 1
    ref: str | None = strawberry.field(
        default=None, description="The share code the buyer arrived with, if any."
    )


@strawberry.input(
    description=(
        "Buy alone: at the variant's own price, or, naming the offer (groupBuyId), at the "
        "offer's solo price from its stock and within its per-person limit."
    )
)
class OrderCreateInput:
    variant_id: strawberry.ID
    idempotency_key: str
    payment_token: str
    quantity: int = 1
    group_buy_id: strawberry.ID | None = None
    ref: str | None = strawberry.field(
        default=None, description="The share code the buyer arrived with, if any."
    )


@strawberry.type
class PurchasePayload(MutationPayload):
    order: Order | None = None
    group: Group | None = None

    @classmethod
    def of(cls, purchase: purchases.Purchase) -> PurchasePayload:
        return cls(
            order=Order.of(purchase.order),
            group=Group.of(purchase.group) if purchase.group else None,
            user_errors=user_errors(purchase.errors),
        )


@strawberry.type
class OrderPayload(MutationPayload):
    order: Order | None = None


async def _offer(info: Info, id: strawberry.ID) -> models.GroupBuy:
    loaded = await groupbuy_loaders(info).group_buy.load(decode_id(id, NodeType.GROUP_BUY))
    offer = found(loaded, "group buy", "id")
    require_merchant(info, offer.merchant_id)
    return offer


def _request(
    info: Info, input: GroupStartInput | GroupJoinInput | OrderCreateInput
) -> purchases.PurchaseRequest:
    user = info.context.viewer.user
    if user is None:
        raise ApiError(ApiErrorCode.UNAUTHENTICATED, "Sign in to buy.")
    return purchases.PurchaseRequest(
        user.id, input.quantity, input.idempotency_key, input.payment_token, input.ref
    )


Terms = TypeVar("Terms", offers.OfferTerms, offers.OfferChanges)


def _copy_into(cls: type[Terms], input: object) -> Terms:
    """The input's fields of the same names (the offer inputs mirror these dataclasses)."""
    return cls(**{f.name: getattr(input, f.name) for f in fields(cls)})


async def _group_id(input: GroupJoinInput) -> int:
    if input.group_id is not None:
        return decode_id(input.group_id, NodeType.GROUP, "groupId")
    group = await lookups.group_by_share_code(input.share_code or "")
    if group is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No group has that share code.", "shareCode")
    return group.id


def _blamed(error: DomainError, named_by: str) -> DomainError:
    """``error`` pointed at the input that named the group: a shopper may give its shareCode."""
    if error.field != "groupId" or named_by == "groupId":
        return error
    return DomainError(error.code, error.message, named_by)


@strawberry.type
class GroupBuyMutation:
    @mutation(MerchantActor())
    async def group_buy_create(self, info: Info, input: GroupBuyCreateInput) -> GroupBuyPayload:
        variant, product = await owned_variant(info, input.variant_id, "variantId")
        terms = _copy_into(offers.OfferTerms, input)
        offer = await offers.create_offer(variant, product, terms)
        return GroupBuyPayload(group_buy=GroupBuy.of(offer))

    @mutation(MerchantActor())
    async def group_buy_update(self, info: Info, input: GroupBuyUpdateInput) -> GroupBuyPayload:
        offer = await _offer(info, input.id)
        changes = _copy_into(offers.OfferChanges, input)
        updated = await offers.update_offer(offer, changes, runtime_of(info))
        return GroupBuyPayload(group_buy=GroupBuy.of(updated))

    @mutation(MerchantActor(), description="Open groups are cancelled and refunded.")
    async def group_buy_cancel(self, info: Info, id: strawberry.ID) -> GroupBuyPayload:
        offer = await _offer(info, id)
        cancelled = await offers.cancel_offer(offer, runtime_of(info))
        return GroupBuyPayload(group_buy=GroupBuy.of(cancelled))

    @mutation(SignedIn(), description="Start a group as its leader.")
    async def group_start(self, info: Info, input: GroupStartInput) -> PurchasePayload:
        offer_id = decode_id(input.group_buy_id, NodeType.GROUP_BUY, "groupBuyId")
        request = _request(info, input)
        return PurchasePayload.of(await purchases.start_group(offer_id, request, runtime_of(info)))

    @mutation(SignedIn())
    async def group_join(self, info: Info, input: GroupJoinInput) -> PurchasePayload:
        request = _request(info, input)
        named_by = exactly_one(info, {"groupId": input.group_id, "shareCode": input.share_code})
        try:
            purchase = await purchases.join_group(await _group_id(input), request, runtime_of(info))
        except DomainError as exc:
            raise _blamed(exc, named_by) from None
        errors = [_blamed(error, named_by) for error in purchase.errors]
        return PurchasePayload.of(replace(purchase, errors=errors))

    @mutation(SignedIn())
    async def order_create(self, info: Info, input: OrderCreateInput) -> PurchasePayload:
        variant_id = decode_id(input.variant_id, NodeType.VARIANT, "variantId")
        offer_id = (
            None
            if input.group_buy_id is None
            else decode_id(input.group_buy_id, NodeType.GROUP_BUY, "groupBuyId")
        )
        request = _request(info, input)
        runtime = runtime_of(info)
        return PurchasePayload.of(await purchases.buy_alone(variant_id, request, runtime, offer_id))

    @mutation(
        MerchantActor(),
        description=(
            "Mark a paid order delivered (COMPLETED); final. A group order completes "
            "only once its group is FILLED."
        ),
    )
    async def order_complete(self, info: Info, id: strawberry.ID) -> OrderPayload:
        loaded = await groupbuy_loaders(info).order.load(decode_id(id, NodeType.ORDER))
        order = found(loaded, "order", "id")
        require_merchant(info, order.merchant_id)
        completed = await orders.complete(order.id)
        return OrderPayload(order=Order.of(completed))

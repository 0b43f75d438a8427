"""Running offers and completing orders (merchants); buying into offers (signed-in shoppers)."""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import fields
from datetime import datetime
from typing import Any, TypeVar

import strawberry

from pintuan.catalog.graphql.admin import owned_variant
from pintuan.core.errors import ApiErrorCode, DomainError, ErrorCode
from pintuan.graphql.context import Info
from pintuan.graphql.errors import ApiError, UserError, user_errors
from pintuan.graphql.ids import NodeType, decode_id
from pintuan.graphql.loaders import required
from pintuan.graphql.permissions import MerchantActor, SignedIn, allow, require_merchant
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
class GroupBuyPayload:
    group_buy: GroupBuy | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class GroupStartInput:
    group_buy_id: strawberry.ID
    idempotency_key: str
    payment_token: str
    quantity: int = 1


@strawberry.input(description="Name the group by groupId or by shareCode.")
class GroupJoinInput:
    idempotency_key: str
    payment_token: str
    group_id: strawberry.ID | None = None
    share_code: str | None = None
    quantity: int = 1


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


@strawberry.type
class PurchasePayload:
    order: Order | None = None
    group: Group | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, purchase: purchases.Purchase) -> PurchasePayload:
        return cls(
            order=Order.of(purchase.order),
            group=Group.of(purchase.group) if purchase.group else None,
            user_errors=[e for error in purchase.errors for e in user_errors(error)],
        )


@strawberry.type
class OrderPayload:
    order: Order | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


async def _offer(info: Info, id: strawberry.ID) -> models.GroupBuy:
    offer = await required(
        groupbuy_loaders(info).group_buy, decode_id(id, NodeType.GROUP_BUY), "group buy", "id"
    )
    require_merchant(info, offer.merchant_id)
    return offer


def _request(
    info: Info, quantity: int, idempotency_key: str, payment_token: str
) -> purchases.PurchaseRequest:
    user = info.context.viewer.user
    if user is None:
        raise ApiError(ApiErrorCode.UNAUTHENTICATED, "Sign in to buy.")
    return purchases.PurchaseRequest(user.id, quantity, idempotency_key, payment_token)


async def _purchase(attempt: Coroutine[Any, Any, purchases.Purchase]) -> PurchasePayload:
    try:
        return PurchasePayload.of(await attempt)
    except DomainError as exc:
        return PurchasePayload(user_errors=user_errors(exc))


Terms = TypeVar("Terms", offers.OfferTerms, offers.OfferChanges)


def _copy_into(cls: type[Terms], input: object) -> Terms:
    """The input's fields of the same names (the offer inputs mirror these dataclasses)."""
    return cls(**{f.name: getattr(input, f.name) for f in fields(cls)})


async def _group_id(input: GroupJoinInput) -> int:
    if (input.group_id is None) == (input.share_code is None):
        raise DomainError(
            ErrorCode.INVALID, "Give exactly one of groupId and shareCode.", "groupId"
        )
    if input.group_id is not None:
        return decode_id(input.group_id, NodeType.GROUP, "groupId")
    group = await lookups.group_by_share_code(input.share_code or "")
    if group is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No group has that share code.", "shareCode")
    return group.id


@strawberry.type
class GroupBuyMutation:
    @strawberry.mutation(extensions=allow(MerchantActor()))
    async def group_buy_create(self, info: Info, input: GroupBuyCreateInput) -> GroupBuyPayload:
        variant, product = await owned_variant(info, input.variant_id, "variantId")
        terms = _copy_into(offers.OfferTerms, input)
        try:
            offer = await offers.create_offer(variant, product, terms)
        except DomainError as exc:
            return GroupBuyPayload(user_errors=user_errors(exc))
        return GroupBuyPayload(group_buy=GroupBuy.of(offer))

    @strawberry.mutation(extensions=allow(MerchantActor()))
    async def group_buy_update(self, info: Info, input: GroupBuyUpdateInput) -> GroupBuyPayload:
        offer = await _offer(info, input.id)
        changes = _copy_into(offers.OfferChanges, input)
        try:
            updated = await offers.update_offer(offer, changes, runtime_of(info))
        except DomainError as exc:
            return GroupBuyPayload(user_errors=user_errors(exc))
        return GroupBuyPayload(group_buy=GroupBuy.of(updated))

    @strawberry.mutation(
        extensions=allow(MerchantActor()), description="Open groups are cancelled and refunded."
    )
    async def group_buy_cancel(self, info: Info, id: strawberry.ID) -> GroupBuyPayload:
        offer = await _offer(info, id)
        try:
            cancelled = await offers.cancel_offer(offer, runtime_of(info))
        except DomainError as exc:
            return GroupBuyPayload(user_errors=user_errors(exc))
        return GroupBuyPayload(group_buy=GroupBuy.of(cancelled))

    @strawberry.mutation(extensions=allow(SignedIn()), description="Start a group as its leader.")
    async def group_start(self, info: Info, input: GroupStartInput) -> PurchasePayload:
        offer_id = decode_id(input.group_buy_id, NodeType.GROUP_BUY, "groupBuyId")
        request = _request(info, input.quantity, input.idempotency_key, input.payment_token)
        return await _purchase(purchases.start_group(offer_id, request, runtime_of(info)))

    @strawberry.mutation(extensions=allow(SignedIn()))
    async def group_join(self, info: Info, input: GroupJoinInput) -> PurchasePayload:
        request = _request(info, input.quantity, input.idempotency_key, input.payment_token)

        async def join() -> purchases.Purchase:
            return await purchases.join_group(await _group_id(input), request, runtime_of(info))

        payload = await _purchase(join())
        if input.group_id is None:
            # A shopper who named the group by its code is pointed at that input.
            for error in payload.user_errors:
                if error.field == "groupId":
                    error.field = "shareCode"
        return payload

    @strawberry.mutation(extensions=allow(SignedIn()))
    async def order_create(self, info: Info, input: OrderCreateInput) -> PurchasePayload:
        variant_id = decode_id(input.variant_id, NodeType.VARIANT, "variantId")
        offer_id = (
            None
            if input.group_buy_id is None
            else decode_id(input.group_buy_id, NodeType.GROUP_BUY, "groupBuyId")
        )
        request = _request(info, input.quantity, input.idempotency_key, input.payment_token)
        runtime = runtime_of(info)
        return await _purchase(purchases.buy_alone(variant_id, request, runtime, offer_id))

    @strawberry.mutation(
        extensions=allow(MerchantActor()),
        description=(
            "Mark a paid order delivered (COMPLETED); final. A group order completes "
            "only once its group is FILLED."
        ),
    )
    async def order_complete(self, info: Info, id: strawberry.ID) -> OrderPayload:
        order = await groupbuy_loaders(info).order.load(decode_id(id, NodeType.ORDER))
        if order is not None:
            require_merchant(info, order.merchant_id)
        try:
            if order is None:
                raise DomainError(ErrorCode.NOT_FOUND, "No such order.", "id")
            completed = await orders.complete(order.id)
        except DomainError as exc:
            return OrderPayload(user_errors=user_errors(exc))
        return OrderPayload(order=Order.of(completed))

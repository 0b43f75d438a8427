"""What the referral domain does when accounts and group buys report a change."""

from __future__ import annotations

from datetime import timedelta

from pintuan.accounts.events import USER_REGISTERED
from pintuan.core import outbox
from pintuan.core.outbox import Event, Handlers
from pintuan.groupbuys.events import ORDER_COMPLETED, ORDER_PAID, ORDER_REFUNDED
from pintuan.referrals import attribution, ledger, promotions, settle, tree
from pintuan.referrals.earnings_feed import EarningsFeed
from pintuan.referrals.models import AttributionRule
from pintuan.settings import Settings

TEAM_SALES = "referrals.team-sales"  # the handler counting sales on the tree


async def _registered(event: Event) -> None:
    """Count the new member, then promote the owners above whose team it completes."""
    user_id = int(event.payload["user_id"])
    await tree.count_registration(user_id)
    await promotions.promote_above(user_id)


async def _sold(event: Event) -> None:
    """Count the sale, then promote the owners above the buyer whose team sales it
    completes (in the same delivery, so a promotion never misses its own count)."""
    buyer_id = int(event.payload["buyer_id"])
    sign = -1 if event.topic == ORDER_REFUNDED else 1
    upline = await tree.count_sale(buyer_id, sign * int(event.payload["total"]))
    if sign > 0:
        await promotions.promote_due(upline)


def policy_of(settings: Settings) -> attribution.Policy:
    return attribution.Policy(
        rule=AttributionRule(settings.attribution_rule),
        window=timedelta(days=settings.attribution_window_days),
        bind_unbound_buyers=settings.referral_bind_mode == "FIRST_SHARE_IF_UNBOUND",
    )


def register(handlers: Handlers, settings: Settings, feed: EarningsFeed | None = None) -> None:
    """Handler names key their receipts: never rename one. With a ``feed``, the
    ledger entries a delivery wrote or moved are announced once it has committed."""
    policy = policy_of(settings)

    async def credit(event: Event) -> None:
        order_id = int(event.payload["order_id"])
        if event.topic == ORDER_REFUNDED:
            await attribution.reverse(order_id)
        else:
            await attribution.attribute(order_id, policy)

    async def commissions(event: Event) -> None:
        """The earner was frozen with the order (``OrderTerms``), so this needs nothing
        of the attribution handler and either may run first."""
        order_id = int(event.payload["order_id"])
        with ledger.journal() as changes:
            if event.topic == ORDER_PAID:
                await settle.settle_paid_order(order_id)
            elif event.topic == ORDER_COMPLETED:
                await ledger.on_order_completed(order_id)
                await settle.reward_first_completion(order_id)
            else:
                await ledger.on_order_refunded(order_id)
        if feed is not None and changes:
            announce = feed.announce
            outbox.after_commit(lambda: announce(changes))

    handlers.register("referrals.team-members", [USER_REGISTERED], _registered)
    handlers.register(TEAM_SALES, [ORDER_PAID, ORDER_REFUNDED], _sold)
    handlers.register("referrals.attribution", [ORDER_PAID, ORDER_REFUNDED], credit)
    handlers.register(
        "referrals.commissions", [ORDER_PAID, ORDER_COMPLETED, ORDER_REFUNDED], commissions
    )

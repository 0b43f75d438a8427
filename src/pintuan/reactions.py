"""Which domain reacts to which outbox events, and who decides what at checkout: wired
here, in the composition root, so the domain that emits an event or makes a purchase
never imports the ones that react to it or price it."""

from __future__ import annotations

from pintuan.accounts.invites import InviteGate
from pintuan.core.cache_tags import Purge
from pintuan.core.outbox import Consumer, Handlers
from pintuan.groupbuys.checkout import Checkout
from pintuan.live.bus import EventBus
from pintuan.referrals import reactions as referrals
from pintuan.referrals.checkout import ReferralCheckout
from pintuan.referrals.earnings_feed import EarningsFeed
from pintuan.referrals.quotas import InviteQuotas
from pintuan.settings import Settings


def outbox_handlers(settings: Settings, bus: EventBus | None = None) -> Handlers:
    """With a ``bus``, handlers announce what they changed on it (live notifications)."""
    handlers = Handlers()
    referrals.register(handlers, settings, EarningsFeed(bus) if bus is not None else None)
    return handlers


def outbox_consumer(settings: Settings, bus: EventBus, purge: Purge | None = None) -> Consumer:
    return Consumer(
        outbox_handlers(settings, bus),
        poll_seconds=settings.outbox_poll_milliseconds / 1000,
        # SQLite runs one transaction at a time: more deliveries would only queue.
        concurrency=settings.outbox_consumers if settings.is_postgres else 1,
        purge=purge,
    )


def checkout(settings: Settings) -> Checkout:
    """What every purchase asks before its order is made: the referral domain's quote."""
    return ReferralCheckout(referrals.policy_of(settings))


def invite_gate() -> InviteGate:
    """What a registration with an invite code asks: the reseller invite quotas."""
    return InviteQuotas()

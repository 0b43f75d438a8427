"""Which domain reacts to which outbox events: wired here, in the composition root,
so the domain that emits an event never imports the ones that react to it."""

from __future__ import annotations

from pintuan.core.cache_tags import Purge
from pintuan.core.outbox import Consumer, Handlers
from pintuan.referrals import reactions as referrals
from pintuan.settings import Settings


def outbox_handlers(settings: Settings) -> Handlers:
    handlers = Handlers()
    referrals.register(handlers, settings)
    return handlers


def outbox_consumer(settings: Settings, purge: Purge | None = None) -> Consumer:
    return Consumer(
        outbox_handlers(settings),
        poll_seconds=settings.outbox_poll_milliseconds / 1000,
        purge=purge,
    )

"""Which domain reacts to which outbox events: wired here, in the composition root,
so the domain that emits an event never imports the ones that react to it."""

from __future__ import annotations

from pintuan.core.outbox import Consumer, Handlers
from pintuan.settings import Settings


def outbox_handlers() -> Handlers:
    return Handlers()


def outbox_consumer(settings: Settings) -> Consumer:
    return Consumer(outbox_handlers(), poll_seconds=settings.outbox_poll_milliseconds / 1000)

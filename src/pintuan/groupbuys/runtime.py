"""What domain operations need beyond the database: the gateway and the live layer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import Redis

from pintuan.groupbuys.checkout import Checkout
from pintuan.groupbuys.gateways import PaymentGateway, gateway_named
from pintuan.groupbuys.progress import GroupProgress
from pintuan.live.bus import EventBus
from pintuan.live.connection import connect
from pintuan.live.deadlines import Deadlines
from pintuan.live.response_store import ResponseStore, open_store, purge_quietly
from pintuan.settings import Settings


@dataclass(frozen=True, slots=True)
class Runtime:
    gateway: PaymentGateway
    redis: Redis
    bus: EventBus  # this process's one pub/sub fan-out, for every domain's live events
    progress: GroupProgress
    group_deadlines: Deadlines
    payment_deadlines: Deadlines
    payment_window_seconds: int
    checkout: Checkout
    responses: ResponseStore | None = None  # the response cache's store; None when off

    async def purge(self, tags: set[str]) -> None:
        """Cached answers that read ``tags`` are dropped; never raises."""
        await purge_quietly(self.responses, tags)

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings, checkout: Checkout) -> AsyncIterator[Runtime]:
        """Connect the live layer (real or in-process) for as long as the block runs;
        ``checkout`` is what the domains above decide at each purchase."""
        redis = connect(settings)
        bus = EventBus(redis)
        try:
            yield cls(
                gateway=gateway_named(settings.payment_gateway),
                redis=redis,
                bus=bus,
                progress=GroupProgress(redis, bus),
                group_deadlines=Deadlines(redis, "deadlines:groups"),
                payment_deadlines=Deadlines(redis, "deadlines:payments"),
                payment_window_seconds=settings.payment_window_seconds,
                checkout=checkout,
                responses=open_store(settings, redis),
            )
        finally:
            await bus.aclose()
            await redis.aclose()

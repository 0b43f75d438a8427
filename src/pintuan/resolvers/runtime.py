"""What domain operations need beyond the database: the gateway and the live layer."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from pintuan.live.bus import EventBus
from pintuan.live.deadlines import Deadlines
from pintuan.live.progress import GroupProgress
from pintuan.payments import PaymentGateway, gateway_named
from pintuan.settings import Settings


@dataclass(frozen=True, slots=True)
class Runtime:
    gateway: PaymentGateway
    progress: GroupProgress
    group_deadlines: Deadlines
    payment_deadlines: Deadlines
    payment_window_seconds: int

    @classmethod
    def build(cls, settings: Settings, redis: Redis, bus: EventBus) -> Runtime:
        return cls(
            gateway=gateway_named(settings.payment_gateway),
            progress=GroupProgress(redis, bus),
            group_deadlines=Deadlines(redis, "deadlines:groups"),
            payment_deadlines=Deadlines(redis, "deadlines:payments"),
            payment_window_seconds=settings.payment_window_seconds,
        )

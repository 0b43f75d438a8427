"""Operational fields: the server clock, also streamed to check WebSocket clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry

from pintuan.core.clock import now_utc
from pintuan.core.errors import ApiErrorCode
from pintuan.graphql.errors import ApiError

MAX_TICKS = 3600


@strawberry.type
class SystemQuery:
    @strawberry.field(description="The server's current time (UTC).")
    def server_time(self) -> datetime:
        return now_utc()


@strawberry.type
class SystemSubscription:
    @strawberry.subscription(description="The server time every interval, `count` times.")
    async def server_time(
        self, interval_seconds: float = 1.0, count: int = 10
    ) -> AsyncGenerator[datetime, None]:
        if not 0.01 <= interval_seconds <= 60:
            raise ApiError(
                ApiErrorCode.INVALID_ARGUMENTS, "intervalSeconds must be between 0.01 and 60."
            )
        if not 1 <= count <= MAX_TICKS:
            raise ApiError(
                ApiErrorCode.INVALID_ARGUMENTS, f"count must be between 1 and {MAX_TICKS}."
            )
        for tick in range(count):
            if tick:
                await asyncio.sleep(interval_seconds)
            yield now_utc()

"""Rate limits for operations sent over a WebSocket.

A socket is authenticated once, but each operation it carries is a request:
it spends from the same bucket as the same viewer's HTTP requests, so opening
a socket is no way around the limit.
"""

from __future__ import annotations

from graphql import GraphQLError

from pintuan.accounts.quota import rate_bucket
from pintuan.core.errors import ApiErrorCode
from pintuan.graphql.context import Context
from pintuan.graphql.errors import ApiError


async def over_rate_limit(context: Context) -> GraphQLError | None:
    """Spends one request; the error to send for the operation when none was left."""
    bucket, per_minute = rate_bucket(context.viewer, context.client_ip, context.settings)
    verdict = await context.limiter.take(bucket, per_minute)
    if verdict.allowed:
        return None
    message = f"Rate limit exceeded; retry in {verdict.retry_after_seconds} seconds."
    return ApiError(ApiErrorCode.RATE_LIMITED, message)

"""How the conversation's mutations refuse: who acts, FORBIDDEN, and pacing.

A ``NotAllowed`` from the services (the viewer sees the object but may not do
this to it) becomes a top-level ``FORBIDDEN``; ``Paced`` (a posting or
commenting rate limit, a community's slow mode) becomes ``RATE_LIMITED`` or
``SLOW_MODE`` with ``extensions.retryAfterSeconds``, HTTP 429 and a
``Retry-After`` header, as every other limit of the API answers. Business
refusals stay ``userErrors`` (``pintuan.graphql.mutations``).
"""

from __future__ import annotations

from typing import Any

import strawberry
from starlette.responses import Response
from strawberry.extensions.field_extension import AsyncExtensionResolver, FieldExtension

from pintuan.communities.pacing import Paced
from pintuan.communities.standing import Actor, NotAllowed
from pintuan.core.errors import ApiErrorCode
from pintuan.graphql.context import Info
from pintuan.graphql.errors import ApiError
from pintuan.graphql.mutations import UserErrors
from pintuan.graphql.permissions import unauthenticated


def actor(info: Info) -> Actor:
    """Whoever asks, signed in or not."""
    viewer = info.context.viewer
    user = viewer.user
    return Actor(user.id if user is not None else None, viewer.is_admin)


def signed_in(info: Info) -> tuple[Actor, int]:
    """The signed-in user who acts, and their id; UNAUTHENTICATED for anyone else."""
    found = actor(info)
    if found.user_id is None:
        raise unauthenticated()
    return found, found.user_id


def paced_error(info: Info, exc: Paced) -> ApiError:
    response = info.context.response
    if isinstance(response, Response):
        response.status_code = 429
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
    error = ApiError(exc.code, exc.message)
    error.extensions = {**(error.extensions or {}), "retryAfterSeconds": exc.retry_after_seconds}
    return error


class Refusals(FieldExtension):
    """Turns the services' non-business refusals into the API's top-level errors."""

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: Any, **kwargs: Any
    ) -> Any:
        try:
            return await next_(source, info, **kwargs)
        except NotAllowed as exc:
            raise ApiError(ApiErrorCode.FORBIDDEN, str(exc)) from None
        except Paced as exc:
            raise paced_error(info, exc) from None


def social_mutation(description: str) -> Any:
    """A mutation whose refusals are userErrors, FORBIDDEN or a pacing error."""
    return strawberry.mutation(description=description, extensions=[UserErrors(), Refusals()])

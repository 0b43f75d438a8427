"""Live events rendered once per process and pushed to every graphql-transport-ws subscriber.

Run the usual way, each of a thousand watchers of a group would execute its
selection set and pass the result through Strawberry's per-result machinery
for every event: the last watcher would wait for all of that work. Instead a
subscription yields only its first result (the snapshot) through Strawberry;
later events are rendered by the channel's room (``live.rooms``) once per
rendering key, to JSON, and each subscriber writes that text onto its socket
as a ``next`` message of its own operation.

Subscribers share a rendering when they sent the same document text,
operation name and variables, unless rendering it read who the viewer is
(``Context.viewer`` counts its reads): some fields (a user's email, their
orders) depend on who asks, and such a rendering is reused only by the same
viewer (same user and API key).

Subscriptions over the legacy graphql-ws protocol, which has no operation to
push onto, receive their events through Strawberry as before.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import replace
from functools import cached_property
from inspect import isawaitable
from typing import Any, Generic, TypeVar

from graphql import ExecutionResult, GraphQLError, parse
from graphql.execution.executor import Executor
from starlette.requests import Request
from starlette.websockets import WebSocket, WebSocketState
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ErrorMessage, StartMessage

from pintuan.core.errors import ApiErrorCode
from pintuan.graphql.context import Context, Info
from pintuan.graphql.errors import is_unexpected
from pintuan.graphql.loaders import Loaders
from pintuan.graphql.quota import over_rate_limit
from pintuan.live.bus import Event
from pintuan.live.rooms import Delivery, Prepare, Rendering, Rooms, Seat

T = TypeVar("T")
WSOperation = Operation[Context, None]

MASKED_MESSAGE = "Unexpected error."
MASKED_CODE = {"code": ApiErrorCode.INTERNAL_SERVER_ERROR}

current_operation: ContextVar[WSOperation | None] = ContextVar("pintuan_ws_operation", default=None)


class EventExecutor(StrawberryGraphQLCoreExecutionContext):
    """Runs each subscription event with a context of its own.

    A WebSocket's context lives as long as the connection: each event gets fresh
    loaders (it shows the rows as they are now, not as the first event saw them)
    and its own count of viewer reads (see ``Renderer.render``).
    """

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        if isinstance(self.context_value, Context):
            executor.context_value = replace(self.context_value, loaders=Loaders(), viewer_reads=0)
        return executor


class LiveTransportHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """Lets a subscription's resolver push messages onto its own operation."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        """A payload of the wrong shape closes the socket with 4400, as the protocol
        says; run as it came, it failed deep inside (an unmasked AttributeError for
        list variables, a bare ``complete`` for a numeric query)."""
        if problem := payload_problem(message.get("payload")):
            await self.handle_invalid_message(problem)
            return
        if self.connection_acknowledged and (refusal := await over_rate_limit(self.context)):
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [refusal.formatted]}
            )
            return
        await super().handle_subscribe(message)

    async def run_operation(self, operation: WSOperation) -> None:
        current_operation.set(operation)
        await super().run_operation(operation)


class LegacyTransportHandler(BaseGraphQLWSHandler[Context, None]):
    """The legacy graphql-ws protocol, with the same check of each operation's payload."""

    async def handle_start(self, message: StartMessage) -> None:
        if problem := payload_problem(message.get("payload")):
            error = ErrorMessage(type="error", id=message["id"], payload={"message": problem})
            await self.send_message(error)
            return
        if refusal := await over_rate_limit(self.context):
            error = ErrorMessage(type="error", id=message["id"], payload=refusal.formatted)
            await self.send_message(error)
            return
        await super().handle_start(message)


def payload_problem(payload: object) -> str | None:
    """What is wrong with an operation payload's shape, as the HTTP endpoint checks it."""
    if not isinstance(payload, dict):
        return "The operation payload must be an object."
    if not isinstance(payload.get("query"), str):
        return "The operation's `query` must be a string."
    for name in ("variables", "extensions"):
        if not isinstance(payload.get(name), dict | None):
            return f"The operation's `{name}` must be an object or null."
    if not isinstance(payload.get("operationName"), str | None):
        return "The operation's `operationName` must be a string or null."
    return None


class Renderer:
    """Runs one subscription's selection set on an event: the spec's ExecuteSubscriptionEvent."""

    def __init__(self, info: Info, operation: WSOperation) -> None:
        self.info = info
        self.operation = operation
        viewer = info.context.viewer
        self.key: Hashable = (
            operation.query,
            operation.operation_name,
            json.dumps(operation.variables, sort_keys=True, default=str),
        )
        self.viewer: Hashable = (
            viewer.user.id if viewer.user is not None else None,
            viewer.api_key.id if viewer.api_key is not None else None,
        )

    @cached_property
    def _executor(self) -> Executor[Context]:
        # Strawberry has parsed and validated this very document for the snapshot.
        built = EventExecutor.build(
            self.info.schema._schema,
            parse(self.operation.query),
            context_value=self.info.context,
            raw_variable_values=self.operation.variables,
            operation_name=self.operation.operation_name,
        )
        if isinstance(built, list):
            raise GraphQLError(f"cannot render the subscription: {built}")
        return built

    async def render(self, event: object) -> Rendering:
        executor = self._executor.build_per_event_executor(event)
        result = executor.execute_operation()
        if isawaitable(result):
            result = await result
        assert isinstance(result, ExecutionResult)
        personal = executor.context_value.viewer_reads > 0
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            self.info.schema.process_errors(result.errors)
            payload["errors"] = [self._public(error).formatted for error in result.errors]
        return Rendering(json.dumps(payload, separators=(",", ":")), personal)

    def _public(self, error: GraphQLError) -> GraphQLError:
        if self.info.context.settings.debug or not is_unexpected(error):
            return error
        return GraphQLError(MASKED_MESSAGE, error.nodes, path=error.path, extensions=MASKED_CODE)


class Feed(Generic[T]):
    """A subscriber's deliveries; ``push`` sends the shared rendering when it can."""

    def __init__(
        self, seat: Seat[T], operation: WSOperation | None, socket: Request | WebSocket
    ) -> None:
        self.seat = seat
        self.operation = operation
        self.socket = socket if isinstance(socket, WebSocket) else None
        if operation is not None:
            self._head = f'{{"id":{json.dumps(operation.id)},"type":"next","payload":'

    def __aiter__(self) -> AsyncIterator[Delivery[T]]:
        return self.seat

    async def push(self, delivery: Delivery[T]) -> bool:
        """Send the event's shared rendering; False when the caller must yield the event."""
        operation, socket = self.operation, self.socket
        if operation is None or socket is None or delivery.rendered is None:
            return False
        # A socket closed by the server (an expired or revoked sign-in) takes no more.
        if not operation.completed and socket.application_state != WebSocketState.DISCONNECTED:
            await socket.send_text(f"{self._head}{delivery.rendered}}}")
        return True


@asynccontextmanager
async def watch(
    info: Info,
    rooms: Rooms,
    channel: str,
    decode: Callable[[Event], T],
    prepare: Prepare | None = None,
) -> AsyncIterator[Feed[T]]:
    """Events on ``channel`` of ``rooms`` published from now on, for this subscription;
    ``prepare`` as ``Rooms.seat`` takes it."""
    operation = current_operation.get()
    socket = info.context.request
    if operation is None:
        async with rooms.seat(channel, decode, prepare=prepare) as seat:
            yield Feed(seat, None, socket)
        return
    renderer = Renderer(info, operation)
    key, viewer = renderer.key, renderer.viewer
    async with rooms.seat(channel, decode, key, viewer, renderer.render, prepare) as seat:
        yield Feed(seat, operation, socket)

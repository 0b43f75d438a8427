"""The ASGI application: routes, middleware and the lifespan that owns connections."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress

import orjson
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import NonJsonMessageReceived, WebSocketDisconnected
from strawberry.types.unset import UnsetType
from tortoise import Tortoise, connections

from pintuan.accounts.keyfile import with_signing_key
from pintuan.accounts.socket_guard import SocketGuard
from pintuan.accounts.viewer import AccessDenied, authenticate
from pintuan.core import json_nesting
from pintuan.core.db import tortoise_config
from pintuan.core.errors import ApiErrorCode
from pintuan.gc_policy import tune_for_serving
from pintuan.graphql.context import Context
from pintuan.graphql.errors import view_refusal
from pintuan.graphql.fanout import LegacyTransportHandler, LiveTransportHandler
from pintuan.groupbuys.runtime import Runtime
from pintuan.groupbuys.scheduler import ExpiryScheduler
from pintuan.groupbuys.webhooks import payment_webhook
from pintuan.http.access import AccessMiddleware, browser_origin, configured_origins
from pintuan.http.middleware import BodyLimitMiddleware, RequestIdMiddleware
from pintuan.live.ratelimit import RateLimiter
from pintuan.live.throttle import SigninThrottle
from pintuan.referrals.releases import run_releases
from pintuan.schema import build_schema
from pintuan.settings import Settings

log = logging.getLogger("pintuan")
READY_TIMEOUT_SECONDS = 2.0


def writable(text: str) -> str:
    """``text`` with any lone surrogate it quotes escaped, so UTF-8 can carry it."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class PintuanWebSocket(ASGIWebSocketAdapter):
    """Names a too-deep message's refusal, and keeps close reasons writable.

    Strawberry treats any message it cannot decode as one invalid message; a
    too-deep one closes with 4400 and the code the HTTP endpoint answers with.
    Close reasons may quote the client's text (an unknown operation's name).
    """

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object]:
        try:
            async for message in super().iter_json(ignore_parsing_errors=ignore_parsing_errors):
                yield message
        except NonJsonMessageReceived as exc:
            if not isinstance(exc.__cause__, json_nesting.TooDeep):
                raise
            await self.close(4400, f"{ApiErrorCode.REQUEST_TOO_DEEP}: {json_nesting.MESSAGE}")

    async def send_json(self, message: Mapping[str, object]) -> None:
        """Text frames, as graphql-transport-ws requires, from the view's encoder's bytes."""
        try:
            await self.ws.send_text(self.view.encode_json_string(message))
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

    async def close(self, code: int, reason: str) -> None:
        await super().close(code, writable(reason))


class PintuanGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = LiveTransportHandler
    graphql_ws_handler_class = LegacyTransportHandler
    websocket_adapter_class = PintuanWebSocket

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
        )
        self.settings = settings

    def decode_json(self, data: str | bytes) -> object:
        return json_nesting.decode(data)

    def encode_json(self, data: object) -> bytes:
        """orjson, over ten times cheaper than ``json`` on a catalog page. It cannot
        write a lone surrogate; none reaches a response, as text holding one is
        refused before execution (``StorableTextLiterals``, ``StorableTextVariables``)
        and the refusals that quote a request are made writable in ``__call__``."""
        return orjson.dumps(data)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None
    ) -> Context:
        context = Context(request=request, response=response, settings=self.settings)
        if isinstance(request, Request):
            context.viewer = request.state.viewer
        return context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry's own refusals as coded JSON, writable whatever they quote."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as exc:
            exc.reason = writable(exc.reason)
            response = view_refusal(exc)
        await response(scope, receive, send)

    def is_websocket_origin_allowed(self, request: WebSocket, origin: str) -> bool:
        """Decided by AccessMiddleware, which may consult the API keys."""
        return bool(request.state.origin_allowed)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate a WebSocket from its connection_init payload."""
        params = context.connection_params or {}
        authorization, api_key = params.get("authorization"), params.get("apiKey")
        if not isinstance(authorization, str | None) or not isinstance(api_key, str | None):
            raise ConnectionRejectionError({"message": "Credentials must be strings."})
        origin = browser_origin(context.request.headers)
        try:
            context.viewer = await authenticate(authorization, api_key, origin, self.settings)
        except AccessDenied as exc:
            raise ConnectionRejectionError({"code": exc.code, "message": exc.message}) from None
        if isinstance(context.request, WebSocket):
            guard: SocketGuard = context.request.app.state.socket_guard
            guard.guard(context.request, context.viewer)
        return await super().on_ws_connect(context)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    checks = {"database": _check_database(), "live": _check_live(request)}
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, READY_TIMEOUT_SECONDS)
            results[name] = "ok"
        except Exception as exc:  # any failure means not ready; the reason is logged
            log.warning("readiness check %s failed: %r", name, exc)
            results[name] = "unavailable"
    ready = all(v == "ok" for v in results.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": results},
        status_code=200 if ready else 503,
    )


async def _check_database() -> None:
    await connections.get("default").execute_query("SELECT 1")


async def _check_live(request: Request) -> None:
    await request.app.state.runtime.redis.ping()


@asynccontextmanager
async def _scheduled(runtime: Runtime, settings: Settings) -> AsyncIterator[None]:
    """The expiry scheduler and the commission releases as tasks of this process,
    unless they are left to workers."""
    if not settings.run_scheduler:
        yield
        return
    runner = ExpiryScheduler(runtime, settings.sweep_interval_seconds)
    tasks = [
        asyncio.create_task(runner.run(), name="expiry-scheduler"),
        asyncio.create_task(
            run_releases(settings.commission_freeze_seconds, settings.sweep_interval_seconds),
            name="commission-releases",
        ),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task


def create_served_app() -> Starlette:
    """The app ``pintuan serve`` runs in each worker process, tuned for a long life."""
    return create_app(tune_gc=True)


def create_app(settings: Settings | None = None, *, tune_gc: bool = False) -> Starlette:
    settings = with_signing_key(settings or Settings.from_env())
    settings.check_production_safety()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await Tortoise.init(
            config=tortoise_config(settings.database_url), _enable_global_fallback=True
        )
        try:
            async with Runtime.open(settings) as runtime:
                app.state.runtime = runtime
                app.state.limiter = RateLimiter(runtime.redis)
                app.state.throttle = SigninThrottle(
                    runtime.redis,
                    settings.signin_free_failures,
                    settings.signin_ip_free_failures,
                    settings.signin_max_lockout_seconds,
                )
                async with (
                    SocketGuard.running(settings.session_check_seconds) as socket_guard,
                    _scheduled(runtime, settings),
                ):
                    app.state.socket_guard = socket_guard
                    if tune_gc:
                        tune_for_serving()
                    yield
        finally:
            await Tortoise.close_connections()

    graphql = PintuanGraphQL(settings)
    app = Starlette(
        debug=False,
        routes=[
            Route("/graphql", graphql),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/webhooks/payments", payment_webhook, methods=["POST"]),
        ],
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
            Middleware(AccessMiddleware, settings=settings, origins=configured_origins(settings)),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app

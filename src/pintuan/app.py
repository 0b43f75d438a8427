"""The ASGI application: routes, middleware and the lifespan that owns connections."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext, suppress
from dataclasses import dataclass

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.http.exceptions import NonJsonMessageReceived, WebSocketDisconnected
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType
from tortoise import Tortoise, connections

from pintuan.accounts.keyfile import with_signing_key
from pintuan.accounts.socket_guard import SocketGuard
from pintuan.accounts.viewer import AccessDenied, authenticate
from pintuan.communities.members import expire_ended_terms
from pintuan.core import json_nesting, outbox
from pintuan.core.db import tortoise_config
from pintuan.core.errors import ApiErrorCode
from pintuan.embed.routes import embed_routes
from pintuan.gc_policy import tune_for_serving
from pintuan.graphql import persisted
from pintuan.graphql.cache_policy import Policies
from pintuan.graphql.context import Context
from pintuan.graphql.errors import view_refusal
from pintuan.graphql.fanout import LegacyTransportHandler, LiveTransportHandler
from pintuan.graphql.response_cache import BYPASS, Outcome, ResponseCache, headers
from pintuan.groupbuys.runtime import Runtime
from pintuan.groupbuys.scheduler import ExpiryScheduler
from pintuan.groupbuys.webhooks import payment_webhook
from pintuan.http.access import AccessMiddleware, browser_origin, configured_origins
from pintuan.http.middleware import BodyLimitMiddleware, RequestIdMiddleware
from pintuan.http.responses import error_response
from pintuan.live.documents import DocumentStore, MemoryDocuments, RedisDocuments
from pintuan.live.ratelimit import LocalRateLimiter, RedisRateLimiter
from pintuan.live.throttle import SigninThrottle
from pintuan.reactions import checkout, invite_gate, outbox_consumer
from pintuan.referrals.earnings_feed import EarningsFeed
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
        self.policies = Policies(self.schema._schema, settings.max_tokens)  # type: ignore[attr-defined]

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
        except persisted.PersistedQueryRefusal as exc:
            # 200, as Apollo's clients expect before they resend the query with its hash.
            response = error_response(200, exc.code, exc.message)
            response.headers.update(headers(BYPASS))
        await response(scope, receive, send)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        """Not for a persisted query's GET, which has no ``query`` either."""
        return "extensions" not in request.query_params and super().should_render_graphql_ide(
            request
        )

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Persisted queries resolved, then answered through the response cache."""
        caching: Caching = request.app.state.caching
        request_data, request.state.persisted = await persisted.resolve(
            caching.documents, request_data
        )

        def execute() -> Awaitable[ExecutionResult]:
            return super(PintuanGraphQL, self).execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )

        result, outcome = await caching.responses.serve(request_data, context.viewer, execute)
        request.state.cache = outcome
        sub_response.headers.update(headers(outcome))
        if outcome.data is not None:
            sub_response.body = self._encoded(outcome, request.state.persisted, result)
        etag = outcome.etag if request.method == "GET" else None
        if etag is not None and etag in request.headers.get("if-none-match", ""):
            sub_response.status_code = 304
        return result

    def _extensions(self, outcome: Outcome, persisted_query: str | None) -> dict[str, object]:
        """In debug mode, what the cache and APQ did, for whoever tunes a client."""
        if not self.settings.debug:
            return {}
        extensions: dict[str, object] = {"responseCache": outcome.report()}
        if persisted_query is not None:
            extensions["persistedQuery"] = persisted_query
        return extensions

    def _encoded(
        self, outcome: Outcome, persisted_query: str | None, result: ExecutionResult
    ) -> bytes:
        """The whole answer around the cache's encoded ``data`` (a hit was not executed,
        so it reports no cost)."""
        extensions = {**(result.extensions or {}), **self._extensions(outcome, persisted_query)}
        tail = b',"extensions":' + orjson.dumps(extensions) if extensions else b""
        return b'{"data":' + (outcome.data or b"null") + tail + b"}"

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        processed = await super().process_result(request, result)
        outcome: Outcome = getattr(request.state, "cache", BYPASS)
        extensions = self._extensions(outcome, getattr(request.state, "persisted", None))
        if extensions:
            processed["extensions"] = {**(processed.get("extensions") or {}), **extensions}
        return processed

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        """A cached or cacheable answer goes out as the cache encoded it, once."""
        if sub_response.status_code == 304:
            return Response(status_code=304, headers=dict(sub_response.headers))
        if sub_response.body:
            response = Response(sub_response.body, media_type="application/json")
            response.headers.update(sub_response.headers)
            return response
        return super().create_response(response_data, sub_response)

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
    body: dict[str, object] = {"status": "ready" if ready else "unavailable", "checks": results}
    if results["database"] == "ok":
        # Reported, not checked: a lagging consumer delays reactions but serves requests.
        lag = await outbox.lag()
        body["outbox"] = {"pending": lag.pending, "oldestSeconds": round(lag.oldest_seconds, 3)}
    return JSONResponse(body, status_code=200 if ready else 503)


async def _check_database() -> None:
    await connections.get("default").execute_query("SELECT 1")


async def _check_live(request: Request) -> None:
    await request.app.state.runtime.redis.ping()


@dataclass(frozen=True, slots=True)
class Caching:
    responses: ResponseCache
    documents: DocumentStore


def _caching(settings: Settings, runtime: Runtime, policies: Policies) -> Caching:
    """The runtime's response store, which background work purges too; documents are
    shared through Redis when there is one."""
    documents: DocumentStore = (
        RedisDocuments(runtime.redis) if settings.redis_url else MemoryDocuments()
    )
    return Caching(ResponseCache(runtime.responses, policies), documents)


def scheduler(runtime: Runtime, settings: Settings) -> ExpiryScheduler:
    """The expiry scheduler, whose sweep also lapses ended paid memberships."""
    return ExpiryScheduler(runtime, settings.sweep_interval_seconds, (expire_ended_terms,))


@asynccontextmanager
async def _scheduled(runtime: Runtime, settings: Settings) -> AsyncIterator[None]:
    """The expiry scheduler, the commission releases and the outbox's pruning as
    tasks of this process, unless they are left to workers."""
    if not settings.run_scheduler:
        yield
        return
    runner = scheduler(runtime, settings)
    tasks = [
        asyncio.create_task(runner.run(), name="expiry-scheduler"),
        asyncio.create_task(
            run_releases(
                settings.commission_freeze_seconds,
                settings.sweep_interval_seconds,
                EarningsFeed(runtime.bus),
            ),
            name="commission-releases",
        ),
        asyncio.create_task(
            outbox.run_pruning(settings.outbox_retention_seconds, settings.sweep_interval_seconds),
            name="outbox-pruning",
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


def _consuming(settings: Settings, runtime: Runtime) -> AbstractAsyncContextManager[None]:
    """The outbox consumer as a task of this process, unless it is left to workers."""
    if not settings.run_outbox_consumer:
        return nullcontext()
    return outbox_consumer(settings, runtime.bus, runtime.purge).running()


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
            async with Runtime.open(settings, checkout(settings)) as runtime:
                app.state.runtime = runtime
                app.state.caching = _caching(settings, runtime, graphql.policies)
                app.state.limiter = (
                    RedisRateLimiter(runtime.redis) if settings.redis_url else LocalRateLimiter()
                )
                app.state.throttle = SigninThrottle(
                    runtime.redis,
                    settings.signin_free_failures,
                    settings.signin_ip_free_failures,
                    settings.signin_max_lockout_seconds,
                )
                async with (
                    SocketGuard.running(settings.session_check_seconds) as socket_guard,
                    _scheduled(runtime, settings),
                    _consuming(settings, runtime),
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
            *embed_routes(settings),
        ],
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
            Middleware(AccessMiddleware, settings=settings, origins=configured_origins(settings)),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.invite_gate = invite_gate()
    return app

"""Access control ahead of GraphQL: credentials, per-key CORS, and rate limits.

Runs as ASGI middleware on /graphql so refusals are proper HTTP answers
(401, 403, 429 with Retry-After) and nothing reaches the schema unchecked.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pintuan.accounts import apikeys
from pintuan.accounts.quota import rate_bucket
from pintuan.accounts.viewer import AccessDenied, Viewer, authenticate, origin_allowed
from pintuan.core.errors import ApiErrorCode, DomainError
from pintuan.core.validation import origin as normalise_origin
from pintuan.http.responses import send_error
from pintuan.live.ratelimit import RateLimiter
from pintuan.settings import Settings, SettingsError

ALLOWED_HEADERS = "authorization, content-type, x-pintuan-key, x-request-id"
EXPOSED_HEADERS = "x-request-id, retry-after, etag, age, x-cache"
PREFLIGHT_MAX_AGE = "600"


def browser_origin(headers: Headers) -> str | None:
    """The request's Origin, normalised when well-formed; None from non-browser clients."""
    raw = headers.get("origin")
    if raw is None:
        return None
    try:
        return normalise_origin(raw, "origin")
    except DomainError:
        return raw


def is_same_origin(origin: str, headers: Headers) -> bool:
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:  # a malformed Origin, e.g. "http://[", is nobody's own
        return False
    return netloc == headers.get("host", "").lower()


def presented_key(headers: Headers, query: QueryParams) -> str | None:
    return headers.get("x-pintuan-key") or query.get("key")


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    """``send`` adding ``extra`` to the response's headers, as the app answers."""
    if not extra:
        return send

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    return sending


def configured_origins(settings: Settings) -> set[str]:
    """PINTUAN_ALLOWED_ORIGINS, normalised like API keys' origins; refused when unusable."""
    try:
        return {normalise_origin(o, "origin") for o in settings.allowed_origins_list}
    except DomainError as exc:
        raise SettingsError(f"PINTUAN_ALLOWED_ORIGINS: {exc.message}") from None


LOCAL_DEV_HOSTS = frozenset({"localhost", "127.0.0.1"})


def is_local_dev_origin(origin: str) -> bool:
    """A page served from this machine over plain http, as a frontend's dev server is."""
    try:
        parts = urlsplit(origin)
        return parts.scheme == "http" and parts.hostname in LOCAL_DEV_HOSTS
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Presented:
    """What a request shows before anything is checked: read once, used by every step."""

    headers: Headers
    origin: str | None
    key_secret: str | None

    @classmethod
    def of(cls, scope: Scope) -> Presented:
        headers = Headers(scope=scope)
        query = QueryParams(scope.get("query_string", b""))
        return cls(headers, browser_origin(headers), presented_key(headers, query))


class AccessMiddleware:
    """Vets every request to ``path`` in named steps: sockets by origin, preflights
    answered here, requests authenticated, rate-limited, then passed on with CORS.

    Unlike Starlette's CORSMiddleware the allowed origins are not a static list:
    each publishable key names its own, so CORS follows authentication.
    """

    def __init__(
        self, app: ASGIApp, settings: Settings, origins: set[str], path: str = "/graphql"
    ) -> None:
        self.app = app
        self.settings = settings
        self.path = path
        self.static_origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        presented = Presented.of(scope)
        if scope["type"] == "websocket":
            await self._socket(scope, receive, send, presented)
        elif scope["method"] == "OPTIONS":
            await self._preflight(send, presented)
        else:
            await self._request(scope, receive, send, presented)

    async def _socket(
        self, scope: Scope, receive: Receive, send: Send, presented: Presented
    ) -> None:
        """Credentials arrive later, in connection_init; here only the origin is
        vetted, and the verdict left in the scope for the socket's handshake."""
        state = scope.setdefault("state", {})
        state["origin_allowed"] = await self._origin_known(presented)
        await self.app(scope, receive, send)

    async def _request(
        self, scope: Scope, receive: Receive, send: Send, presented: Presented
    ) -> None:
        """Authenticate, then rate-limit, then pass on with CORS headers: each
        refusal is answered here, so nothing unchecked reaches the schema."""
        viewer = await self._authenticated(send, presented)
        if viewer is None:
            return
        cors = self._cors_headers(viewer, presented.origin)
        if not await self._within_rate_limit(scope, send, viewer, cors):
            return
        scope.setdefault("state", {})["viewer"] = viewer
        await self.app(scope, receive, with_headers(send, cors))

    async def _authenticated(self, send: Send, presented: Presented) -> Viewer | None:
        """The request's viewer, or None once its bad credentials were refused
        (without CORS headers: a refused key vouches for no origin)."""
        try:
            return await authenticate(
                presented.headers.get("authorization"),
                presented.key_secret,
                presented.origin,
                self.settings,
            )
        except AccessDenied as exc:
            await send_error(send, exc.status, exc.code, exc.message)
            return None

    async def _within_rate_limit(
        self, scope: Scope, send: Send, viewer: Viewer, cors: list[tuple[bytes, bytes]]
    ) -> bool:
        """Takes one request from the viewer's bucket; over the limit the 429 carries
        the CORS headers, so a browser page can read Retry-After and back off."""
        limiter: RateLimiter = scope["app"].state.limiter
        bucket, per_minute = rate_bucket(viewer, client_ip(scope), self.settings)
        verdict = await limiter.take(bucket, per_minute)
        if verdict.allowed:
            return True
        retry_after = verdict.retry_after_seconds
        await send_error(
            send,
            429,
            ApiErrorCode.RATE_LIMITED,
            f"Rate limit exceeded; retry in {retry_after} seconds.",
            [(b"retry-after", str(retry_after).encode()), *cors],
        )
        return False

    def _cors_headers(self, viewer: Viewer, origin: str | None) -> list[tuple[bytes, bytes]]:
        """CORS for first-party origins and for those the request's own key lists:
        a key admitting some origin never opens the API to every page."""
        if origin is None:
            return []
        key = viewer.api_key
        if self._first_party(origin) or (key is not None and origin_allowed(key, origin)):
            return self._allow(origin)
        return []

    def _first_party(self, origin: str) -> bool:
        """Configured origins, and in debug mode any localhost page, so that a frontend
        in development works against the demo without configuration."""
        if origin in self.static_origins:
            return True
        return self.settings.debug and is_local_dev_origin(origin)

    def _allow(self, origin: str) -> list[tuple[bytes, bytes]]:
        return [
            (b"access-control-allow-origin", origin.encode()),
            (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
            (b"vary", b"Origin"),
        ]

    async def _origin_known(self, presented: Presented) -> bool:
        """Whether a cross-origin browser page may talk to us at all.

        With a key in the URL the answer is that key's; otherwise any active
        publishable key listing the origin admits it, and the request itself is
        then checked against the key it carries.
        """
        origin = presented.origin
        if origin is None or self._first_party(origin) or is_same_origin(origin, presented.headers):
            return True
        if presented.key_secret:
            key = await apikeys.active_key(presented.key_secret)
            return key is not None and origin_allowed(key, origin)
        return origin in await apikeys.origins_of_active_publishable_keys()

    async def _preflight(self, send: Send, presented: Presented) -> None:
        """Answers OPTIONS itself: only origins some key or the configuration
        admits learn which methods and headers they may use."""
        origin = presented.origin
        if origin is None or not await self._origin_known(presented):
            await send_error(
                send, 403, ApiErrorCode.FORBIDDEN, "This origin may not call this API."
            )
            return
        allow = [
            *self._allow(origin),
            (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
            (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
            (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode()),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": allow})
        await send({"type": "http.response.body", "body": b""})

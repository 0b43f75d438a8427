"""What every resolver can see: the request, the viewer, settings and fresh loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from pintuan.accounts.viewer import Viewer
from pintuan.graphql.loaders import Loaders
from pintuan.live.ratelimit import RateLimiter
from pintuan.live.throttle import SigninThrottle
from pintuan.settings import Settings


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    settings: Settings
    loaders: Loaders = field(default_factory=Loaders)
    connection_params: dict[str, Any] | None = None
    _viewer: Viewer = field(default_factory=Viewer, repr=False)
    viewer_reads: int = field(default=0, repr=False)

    @property
    def viewer(self) -> Viewer:
        """Who asks. Reads are counted: a live event rendered without asking is the
        same for every viewer and can be shared by all of them (schema.fanout)."""
        self.viewer_reads += 1
        return self._viewer

    @viewer.setter
    def viewer(self, viewer: Viewer) -> None:
        self._viewer = viewer

    @property
    def client_ip(self) -> str:
        client = self.request.client
        return client.host if client else "unknown"

    @property
    def limiter(self) -> RateLimiter:
        limiter: RateLimiter = self.request.app.state.limiter
        return limiter

    @property
    def throttle(self) -> SigninThrottle:
        throttle: SigninThrottle = self.request.app.state.throttle
        return throttle


Info = StrawberryInfo[Context, None]

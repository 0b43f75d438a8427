"""What every resolver can see: the request, settings and fresh loaders."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from pintuan.schema.loaders import Loaders
from pintuan.settings import Settings


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    settings: Settings
    loaders: Loaders = field(default_factory=Loaders)


Info = StrawberryInfo[Context, None]

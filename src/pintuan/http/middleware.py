"""ASGI middleware: request ids and size and nesting limits, ahead of any parsing."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pintuan.core import json_nesting
from pintuan.core.errors import ApiErrorCode
from pintuan.core.logs import request_id
from pintuan.http.responses import send_error

log = logging.getLogger("pintuan.http.access")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Tags each request with an id (the client's X-Request-ID if sane) and logs it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _CLIENT_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            # A WebSocket's messages go straight out: wrapping each costs live fan-out.
            await self.app(scope, receive, send_with_id if scope["type"] == "http" else send)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            log.info(
                "%s %s %s %.1fms",
                scope.get("method", "WS"),
                scope["path"],
                status or "-",
                elapsed,
            )
            request_id.reset(token)


# The query parameters Strawberry decodes as JSON on a GET.
JSON_PARAMETERS = ("variables", "extensions")


class BodyLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` (413), and bodies or JSON query
    parameters nested too deeply to decode (400), before anything reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse_size(send)
            return
        query = QueryParams(scope.get("query_string", b""))
        if any(json_nesting.too_deep(query.get(name, "")) for name in JSON_PARAMETERS):
            await self._refuse_depth(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse_size(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if json_nesting.too_deep(body):
            await self._refuse_depth(send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse_size(self, send: Send) -> None:
        message = f"The request body exceeds {self.max_bytes} bytes."
        await send_error(send, 413, ApiErrorCode.REQUEST_TOO_LARGE, message)

    async def _refuse_depth(self, send: Send) -> None:
        await send_error(send, 400, ApiErrorCode.REQUEST_TOO_DEEP, json_nesting.MESSAGE)

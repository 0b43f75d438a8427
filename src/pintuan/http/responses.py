"""Every error response the HTTP edge sends, in one coded shape.

Middleware, the webhook route and the GraphQL view's refusals all answer
``{"errors": [{"message": ..., "extensions": {"code": ...}}]}``, the shape
GraphQL clients already read, so a client parses one body whichever layer refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.responses import JSONResponse
from starlette.types import Send

from pintuan.core.errors import ApiErrorCode

Header = tuple[bytes, bytes]


def error_payload(code: ApiErrorCode, message: str) -> dict[str, object]:
    return {"errors": [{"message": message, "extensions": {"code": code.value}}]}


def error_response(status: int, code: ApiErrorCode, message: str) -> JSONResponse:
    """For routes and views, which return a Response."""
    return JSONResponse(error_payload(code, message), status_code=status)


async def send_error(
    send: Send, status: int, code: ApiErrorCode, message: str, headers: Sequence[Header] = ()
) -> None:
    """For ASGI middleware, which refuses before any Response machinery runs."""
    body = json.dumps(error_payload(code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

"""POST /webhooks/payments: signed payment events from the gateway."""

from __future__ import annotations

import json
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pintuan.core.errors import ApiErrorCode
from pintuan.core.ids import NodeType, parse_global_id
from pintuan.core.validation import UNSTORABLE_MESSAGE, storable, unstorable
from pintuan.groupbuys import payments
from pintuan.groupbuys.gateways import webhook_signature_valid
from pintuan.groupbuys.order_models import PaymentEvent, PaymentTransaction
from pintuan.groupbuys.runtime import Runtime
from pintuan.http.responses import error_response
from pintuan.settings import Settings

SIGNATURE_HEADER = "x-pintuan-signature"
log = logging.getLogger("pintuan.groupbuys.webhooks")


def _order_pk(raw: object) -> int | None:
    """Orders are named by their global ID, as clients see them."""
    parsed = parse_global_id(raw) if isinstance(raw, str) else None
    if parsed is None:
        return None
    type_name, pk = parsed
    return pk if type_name == NodeType.ORDER else None


def _storable(event_id: str, kind: str, reference: str) -> bool:
    return (
        storable(PaymentEvent, "event_id", event_id)
        and storable(PaymentEvent, "kind", kind)
        and storable(PaymentTransaction, "reference", reference)
    )


def _refused(code: ApiErrorCode, message: str) -> Response:
    return error_response(400, code, message)


def _parsed(body: bytes) -> tuple[str, str, int, str] | Response:
    """The event's id, type, order and reference, or the coded 400 refusing it."""
    try:
        event = json.loads(body)
        event_id, kind = str(event["id"]), str(event["type"])
        reference = str(event.get("reference", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return _refused(ApiErrorCode.MALFORMED_EVENT, "malformed event")
    if unstorable([event_id, kind, reference]):
        return _refused(ApiErrorCode.INVALID_TEXT, UNSTORABLE_MESSAGE)
    order_id = _order_pk(event.get("orderId"))
    if order_id is None or not event_id or not _storable(event_id, kind, reference):
        return _refused(ApiErrorCode.MALFORMED_EVENT, "malformed event")
    return event_id, kind, order_id, reference


async def payment_webhook(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    runtime: Runtime = request.app.state.runtime
    if not settings.webhook_secret:
        # An empty key would make every signature computable by anyone.
        return error_response(
            503,
            ApiErrorCode.WEBHOOKS_NOT_CONFIGURED,
            "Payment webhooks are off: PINTUAN_WEBHOOK_SECRET is not set.",
        )
    body = await request.body()
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not webhook_signature_valid(settings.webhook_secret, body, signature):
        return error_response(401, ApiErrorCode.INVALID_SIGNATURE, "invalid signature")
    parsed = _parsed(body)
    if isinstance(parsed, Response):
        return parsed
    event_id, kind, order_id, reference = parsed
    outcome = await payments.handle_event(event_id, kind, order_id, reference, runtime)
    log.info("payment event %s (%s) for order %s: %s", event_id, kind, order_id, outcome)
    return JSONResponse({"outcome": outcome.value})

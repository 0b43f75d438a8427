"""Payment gateways: one order state machine, two ways of learning a charge's outcome.

``instant`` settles inside the mutation (the token ``tok_decline`` declines);
``webhook`` leaves the order awaiting payment until a signed event arrives.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol

DECLINE_TOKEN = "tok_decline"


@dataclass(frozen=True, slots=True)
class ChargeOutcome:
    """settled=False means the gateway will tell us later (webhook)."""

    settled: bool
    approved: bool
    reference: str | None = None


class PaymentGateway(Protocol):
    name: str
    # Whether charges are confirmed by POST /webhooks/payments; a gateway that
    # settles in the mutation never is, so any event claiming a charge is false.
    confirms_by_webhook: bool

    async def charge(self, order_id: int, amount: int, currency: str, token: str) -> ChargeOutcome:
        """Ask for the money; must be idempotent per order."""
        ...

    async def refund(self, order_id: int, amount: int, currency: str) -> str:
        """Return the money; must be idempotent per order. Returns the refund reference,
        never empty (an empty one marks a refund still owed)."""
        ...


class InstantGateway:
    name = "instant"
    confirms_by_webhook = False

    async def charge(self, order_id: int, amount: int, currency: str, token: str) -> ChargeOutcome:
        if token == DECLINE_TOKEN:
            return ChargeOutcome(settled=True, approved=False)
        return ChargeOutcome(settled=True, approved=True, reference=f"ch_{order_id}")

    async def refund(self, order_id: int, amount: int, currency: str) -> str:
        return f"re_{order_id}"


class WebhookGateway:
    """Charges are confirmed or failed later by POST /webhooks/payments."""

    name = "webhook"
    confirms_by_webhook = True

    async def charge(self, order_id: int, amount: int, currency: str, token: str) -> ChargeOutcome:
        return ChargeOutcome(settled=False, approved=False)

    async def refund(self, order_id: int, amount: int, currency: str) -> str:
        return f"re_{order_id}"  # idempotent per order, as the interface requires


def gateway_named(name: str) -> PaymentGateway:
    gateways: dict[str, PaymentGateway] = {"instant": InstantGateway(), "webhook": WebhookGateway()}
    if name not in gateways:
        raise ValueError(f"unknown payment gateway {name!r}; use one of {sorted(gateways)}")
    return gateways[name]


def sign_webhook(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_signature_valid(secret: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign_webhook(secret, body), signature.strip().lower())

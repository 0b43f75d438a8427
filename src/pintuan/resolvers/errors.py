"""Domain errors: business failures the schema layer reports to clients."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Every code a client may see in ``userErrors`` or ``extensions.code``."""

    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    INVALID_FILTER = "INVALID_FILTER"
    INVALID_CURSOR = "INVALID_CURSOR"
    INVALID_PAGE_SIZE = "INVALID_PAGE_SIZE"
    PAGE_SIZE_EXCEEDED = "PAGE_SIZE_EXCEEDED"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    PASSWORD_TOO_SHORT = "PASSWORD_TOO_SHORT"
    INVALID_INVITE_CODE = "INVALID_INVITE_CODE"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    INVALID_TOKEN = "INVALID_TOKEN"
    TOKEN_REUSED = "TOKEN_REUSED"
    HANDLE_TAKEN = "HANDLE_TAKEN"
    SKU_TAKEN = "SKU_TAKEN"
    ALREADY_STAFF = "ALREADY_STAFF"
    UNSUPPORTED_CURRENCY = "UNSUPPORTED_CURRENCY"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    ARCHIVED = "ARCHIVED"
    ALREADY_REVOKED = "ALREADY_REVOKED"
    GROUP_FULL = "GROUP_FULL"
    GROUP_CLOSED = "GROUP_CLOSED"
    ALREADY_MEMBER = "ALREADY_MEMBER"
    OFFER_NOT_ACTIVE = "OFFER_NOT_ACTIVE"
    OFFER_CHANGED = "OFFER_CHANGED"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    GROUPS_EXIST = "GROUPS_EXIST"
    ALREADY_CANCELLED = "ALREADY_CANCELLED"
    ORDER_NOT_PAID = "ORDER_NOT_PAID"
    GROUP_NOT_FILLED = "GROUP_NOT_FILLED"
    ALREADY_COMPLETED = "ALREADY_COMPLETED"


class ApiErrorCode(StrEnum):
    """Every ``extensions.code`` a top-level error may carry, beside the domain
    codes (``ErrorCode``) that queries raise as top-level errors."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    RATE_LIMITED = "RATE_LIMITED"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    INVALID_TEXT = "INVALID_TEXT"
    INVALID_ID = "INVALID_ID"
    WRONG_ID_TYPE = "WRONG_ID_TYPE"
    INVALID_ARGUMENTS = "INVALID_ARGUMENTS"
    TOO_MANY_IDS = "TOO_MANY_IDS"
    WEBHOOKS_NOT_CONFIGURED = "WEBHOOKS_NOT_CONFIGURED"
    MALFORMED_EVENT = "MALFORMED_EVENT"
    REQUEST_TOO_DEEP = "REQUEST_TOO_DEEP"


class DomainError(Exception):
    """A rule refused the request; nothing was written."""

    def __init__(self, code: ErrorCode | str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message
        self.field = field

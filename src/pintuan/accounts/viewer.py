"""Turning request credentials into a Viewer: who acts, and for which merchants."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pintuan.accounts import apikeys, users
from pintuan.accounts.models import ApiKey, ApiKeyKind, User
from pintuan.accounts.tokens import AccessClaims, InvalidToken, read_access_token
from pintuan.core.errors import ApiErrorCode, DomainError
from pintuan.core.validation import origin as normalise_origin
from pintuan.settings import Settings


class AccessDenied(Exception):
    """Credentials were presented and refused; ``code`` is UNAUTHENTICATED or FORBIDDEN."""

    def __init__(self, code: ApiErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return 401 if self.code == ApiErrorCode.UNAUTHENTICATED else 403


@dataclass(frozen=True, slots=True)
class Viewer:
    user: User | None = None
    staff_of: frozenset[int] = field(default_factory=frozenset)
    api_key: ApiKey | None = None
    token: AccessClaims | None = None  # the access token the user signed in with

    @property
    def session(self) -> str | None:
        return self.token.session if self.token is not None else None

    @property
    def expires_at(self) -> datetime | None:
        return self.token.expires_at if self.token is not None else None

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.is_admin

    @property
    def is_anonymous(self) -> bool:
        return self.user is None and not self.is_secret_key

    @property
    def is_secret_key(self) -> bool:
        return self.api_key is not None and self.api_key.kind == ApiKeyKind.SECRET

    def can_manage(self, merchant_id: int) -> bool:
        """Admins, the merchant's staff and the merchant's own secret key."""
        if self.is_admin or merchant_id in self.staff_of:
            return True
        return (
            self.is_secret_key
            and self.api_key is not None
            and (self.api_key.merchant_id == merchant_id)
        )


def origin_allowed(key: ApiKey, origin: str) -> bool:
    try:
        return normalise_origin(origin, "origin") in key.allowed_origins
    except DomainError:
        return False


async def authenticate(
    authorization: str | None, api_key: str | None, origin: str | None, settings: Settings
) -> Viewer:
    """The caller behind these credentials; refusing any credential that does not check out."""
    key = None
    if api_key:
        key = await apikeys.active_key(api_key)
        if key is None:
            raise AccessDenied(ApiErrorCode.UNAUTHENTICATED, "The API key is invalid or revoked.")
        if origin is not None:
            if key.kind == ApiKeyKind.SECRET:
                raise AccessDenied(
                    ApiErrorCode.FORBIDDEN,
                    "Secret keys are for servers; never send one from a browser.",
                )
            if not origin_allowed(key, origin):
                raise AccessDenied(ApiErrorCode.FORBIDDEN, "This origin may not use this API key.")
    if not authorization:
        return Viewer(api_key=key)
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AccessDenied(
            ApiErrorCode.UNAUTHENTICATED, "Send the access token as 'Bearer <token>'."
        )
    try:
        claims = read_access_token(token.strip(), settings)
    except InvalidToken:
        raise AccessDenied(
            ApiErrorCode.UNAUTHENTICATED, "The access token is invalid or expired."
        ) from None
    account = await users.signed_in(claims.user_id, claims.session)
    if account.user is None:
        raise AccessDenied(
            ApiErrorCode.UNAUTHENTICATED, "The access token's account no longer exists."
        )
    if account.signed_out:
        raise AccessDenied(
            ApiErrorCode.UNAUTHENTICATED, "This session was signed out; sign in again."
        )
    return Viewer(user=account.user, staff_of=account.staff_of, api_key=key, token=claims)

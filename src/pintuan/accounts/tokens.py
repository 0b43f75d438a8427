"""Access tokens (short-lived JWTs) and opaque refresh tokens, stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from pintuan.settings import Settings

ALGORITHM = "HS256"


class InvalidToken(Exception):
    """The token is expired, forged, or not meant for this API."""


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    expires_at: datetime


def issue_access_token(
    user_id: int, settings: Settings, now: datetime | None = None
) -> AccessToken:
    issued = now or datetime.now(UTC)
    expires = issued + timedelta(seconds=settings.access_token_seconds)
    claims = {
        "sub": str(user_id),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued,
        "exp": expires,
        "jti": uuid.uuid4().hex,
    }
    return AccessToken(jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM), expires)


def read_access_token(token: str, settings: Settings) -> int:
    """The user id an access token speaks for."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject.isdigit():
        raise InvalidToken("malformed subject")
    return int(subject)


def new_opaque_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def digest(token: str) -> str:
    """SHA-256 is enough for high-entropy random tokens; passwords use Argon2."""
    return hashlib.sha256(token.encode()).hexdigest()

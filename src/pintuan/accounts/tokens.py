"""Access tokens (short-lived JWTs) and opaque refresh tokens, stored only as hashes."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from pintuan.core.clock import now_utc
from pintuan.settings import Settings

ALGORITHM = "HS256"
# Ids are the database's 32-bit serials; anything else in ``sub`` is not one of ours.
MAX_USER_ID = 2**31 - 1
CANONICAL_ID = re.compile(r"[1-9][0-9]{0,9}", re.ASCII)
SESSION_ID = re.compile(r"[0-9a-f]{32}", re.ASCII)


class InvalidToken(Exception):
    """The token is expired, forged, or not meant for this API."""


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """Who a token speaks for, from which sign-in (``session``: the refresh-token
    family, so that signing out ends its access tokens too), and until when."""

    user_id: int
    session: str
    expires_at: datetime


def new_session_id() -> str:
    return uuid.uuid4().hex


def issue_access_token(
    user_id: int, session: str, settings: Settings, now: datetime | None = None
) -> AccessToken:
    issued = now or now_utc()
    expires = issued + timedelta(seconds=settings.access_token_seconds)
    claims = {
        "sub": str(user_id),
        "sid": session,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued,
        "exp": expires,
        "jti": uuid.uuid4().hex,
    }
    return AccessToken(jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM), expires)


def read_access_token(token: str, settings: Settings) -> AccessClaims:
    """What a well-signed, unexpired token for this API claims."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "sid", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    subject, session = claims["sub"], claims["sid"]
    # Only the canonical ASCII decimal: int() would also take "08", "٣" or " 8".
    if not isinstance(subject, str) or not CANONICAL_ID.fullmatch(subject):
        raise InvalidToken("malformed subject")
    if int(subject) > MAX_USER_ID:
        raise InvalidToken("malformed subject")
    if not isinstance(session, str) or not SESSION_ID.fullmatch(session):
        raise InvalidToken("malformed session")
    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    return AccessClaims(int(subject), session, expires_at)


def new_opaque_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def digest(token: str) -> str:
    """SHA-256 is enough for high-entropy random tokens; passwords use Argon2."""
    return hashlib.sha256(token.encode()).hexdigest()

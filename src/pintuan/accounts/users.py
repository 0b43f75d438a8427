"""Accounts and sessions: registration, sign-in, refresh-token rotation, staff lookups."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from pintuan.accounts import events
from pintuan.accounts.invites import InviteGate
from pintuan.accounts.models import MerchantStaff, RefreshToken, User
from pintuan.accounts.passwords import hash_password, verify_password
from pintuan.accounts.tokens import (
    AccessToken,
    digest,
    issue_access_token,
    new_opaque_token,
    new_session_id,
)
from pintuan.core import codes, sql, validation
from pintuan.core.clock import now_utc
from pintuan.core.errors import DomainError, ErrorCode
from pintuan.live.throttle import SigninThrottle
from pintuan.settings import Settings

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
SESSION_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    access: AccessToken
    refresh_token: str
    refresh_expires_at: datetime


def normalise_email(raw: str) -> str:
    """The stored form of an address, to look one up; an address registration
    would refuse gets the same trimming and folding, and so matches no one."""
    try:
        return validation.email(raw)
    except DomainError:
        return unicodedata.normalize("NFC", raw.strip()).lower()


def _valid_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise DomainError(
            ErrorCode.PASSWORD_TOO_SHORT,
            f"Passwords have at least {MIN_PASSWORD} characters.",
            "password",
        )
    if len(password) > MAX_PASSWORD:
        raise DomainError(ErrorCode.INVALID, "That password is too long.", "password")
    return password


def _new_handle(email: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", email.split("@")[0]).strip("-")[:40] or "user"
    return f"{base}-{secrets.token_hex(3)}"


async def register(
    email: str,
    password: str,
    display_name: str,
    invite_code: str | None = None,
    *,
    gate: InviteGate,
    is_admin: bool = False,
) -> User:
    """Create a user; an invite code records its owner as the inviter, once and for good,
    if ``gate`` admits one more invitee of theirs."""
    email = validation.email(email)
    _valid_password(password)
    name = validation.text(display_name, "displayName", max_length=100)
    inviter = None
    if invite_code is not None:
        inviter = await validation.find(User, invite_code=invite_code.strip().upper())
        if inviter is None:
            raise DomainError(
                ErrorCode.INVALID_INVITE_CODE, "No one has that invite code.", "inviteCode"
            )
    if await User.exists(email=email):
        raise DomainError(ErrorCode.EMAIL_TAKEN, "That email is already registered.", "email")
    password_hash = await hash_password(password)
    try:
        async with in_transaction():
            if inviter is not None:
                await gate.admit(inviter.id, "inviteCode")
            user = await User.create(
                email=email,
                password_hash=password_hash,
                handle=_new_handle(email),
                display_name=name,
                invite_code=codes.new_code(),
                inviter=inviter,
                is_admin=is_admin,
            )
            await events.user_registered(user)
            return user
    except IntegrityError:
        # Lost a race with a concurrent registration of the same email.
        raise DomainError(
            ErrorCode.EMAIL_TAKEN, "That email is already registered.", "email"
        ) from None


async def _issue_session(user: User, family: str, settings: Settings) -> Session:
    token = new_opaque_token("rt")
    expires = now_utc() + timedelta(seconds=settings.refresh_token_seconds)
    await RefreshToken.create(
        user=user, family=family, token_hash=digest(token), expires_at=expires
    )
    return Session(user, issue_access_token(user.id, family, settings), token, expires)


def _account_subject(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()


async def sign_in(
    email: str, password: str, client_ip: str, throttle: SigninThrottle, settings: Settings
) -> Session:
    """Check credentials; every failure looks the same, whether or not the email exists."""
    normalised = normalise_email(email)
    account = _account_subject(normalised)
    wait = await throttle.locked_for(account, client_ip)
    if wait:
        raise DomainError(
            ErrorCode.TOO_MANY_ATTEMPTS,
            f"Too many failed sign-ins; try again in {wait} seconds.",
        )
    user = await user_by_email(normalised)
    if not await verify_password(user.password_hash if user else None, password) or user is None:
        await throttle.failed(account, client_ip)
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "The email or password is wrong.")
    await throttle.succeeded(account, client_ip)
    return await _issue_session(user, new_session_id(), settings)


async def refresh(token: str, settings: Settings) -> Session:
    """Rotate a refresh token; presenting a used one revokes its whole family."""
    now = now_utc()
    token_hash = digest(token)
    async with in_transaction():
        claimed = await RefreshToken.filter(
            token_hash=token_hash, used_at=None, revoked_at=None, expires_at__gt=now
        ).update(used_at=now)
        row = await RefreshToken.get_or_none(token_hash=token_hash).select_related("user")
        if claimed == 1 and row is not None:
            return await _issue_session(row.user, row.family, settings)
    if row is not None and row.used_at is not None and row.revoked_at is None:
        await RefreshToken.filter(family=row.family, revoked_at=None).update(revoked_at=now)
        raise DomainError(
            ErrorCode.TOKEN_REUSED,
            "This refresh token was already used; every session from it is now signed out.",
            "refreshToken",
        )
    raise DomainError(
        ErrorCode.INVALID_TOKEN, "The refresh token is invalid or expired.", "refreshToken"
    )


async def revoke(token: str) -> None:
    """Sign out: revoke the token's whole family."""
    row = await RefreshToken.get_or_none(token_hash=digest(token))
    if row is None:
        raise DomainError(ErrorCode.INVALID_TOKEN, "Unknown refresh token.", "refreshToken")
    await RefreshToken.filter(family=row.family, revoked_at=None).update(revoked_at=now_utc())


async def user_by_email(email: str) -> User | None:
    return await validation.find(User, email=normalise_email(email))


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: User | None
    staff_of: frozenset[int]
    signed_out: bool  # the session the token came from was revoked


async def signed_in(user_id: int, session: str) -> SignedIn:
    """The account, the merchants it is staff of and whether the token's session was
    revoked, in one statement: run for every signed-in request, hence hand-written.
    The database is the truth, so a revocation holds at once on every process.
    (A family is revoked whole, and no token is issued in it afterwards.)"""
    rows = await sql.rows(
        'SELECT "app_user".*, "merchant_staff"."merchant_id" AS "staff_of", '
        'EXISTS (SELECT 1 FROM "refresh_token" WHERE "refresh_token"."family" = $2 '
        'AND "refresh_token"."revoked_at" IS NOT NULL) AS "signed_out" FROM "app_user" '
        'LEFT JOIN "merchant_staff" ON "merchant_staff"."user_id" = "app_user"."id" '
        'WHERE "app_user"."id" = $1',
        user_id,
        session,
    )
    if not rows:
        return SignedIn(None, frozenset(), False)
    staff_of = frozenset(int(row["staff_of"]) for row in rows if row["staff_of"] is not None)
    return SignedIn(sql.instance(User, rows[0]), staff_of, bool(rows[0]["signed_out"]))


async def signed_out_sessions(sessions: Iterable[str]) -> set[str]:
    """Which of these sessions have been revoked (in batches the drivers accept)."""
    wanted = sorted(set(sessions))
    revoked: set[str] = set()
    for start in range(0, len(wanted), SESSION_BATCH):
        batch = wanted[start : start + SESSION_BATCH]
        families = await RefreshToken.filter(
            family__in=batch, revoked_at__not_isnull=True
        ).values_list("family", flat=True)
        revoked.update(str(family) for family in families)
    return revoked


async def staff_merchant_ids_by_users(user_ids: Sequence[int]) -> list[frozenset[int]]:
    grouped: dict[int, set[int]] = defaultdict(set)
    for row in await MerchantStaff.filter(user_id__in=list(user_ids)):
        grouped[row.user_id].add(row.merchant_id)
    return [frozenset(grouped.get(uid, ())) for uid in user_ids]

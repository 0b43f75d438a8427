"""Outbox topics the accounts domain emits, each in the transaction of its change."""

from __future__ import annotations

from pintuan.accounts.models import User
from pintuan.core import outbox

USER_REGISTERED = "accounts.user.registered"


async def user_registered(user: User) -> None:
    await outbox.emit(USER_REGISTERED, {"user_id": user.id, "inviter_id": user.inviter_id})

"""Whether an inviter may take one more invitee, as decided by the domains above accounts.

Registration with an invite code asks its ``InviteGate`` inside the transaction
that binds the new user to their inviter, before the user is written; the
composition root supplies the referral domain's gate (reseller invite quotas),
so accounts import no domain above them.
"""

from __future__ import annotations

from typing import Protocol


class InviteGate(Protocol):
    async def admit(self, inviter_id: int, field: str) -> None:
        """Inside the binding transaction: raise a ``DomainError`` naming ``field`` if
        ``inviter_id`` may invite no one more; otherwise hold what keeps it so until
        the transaction ends."""

"""Short codes people read aloud and type: group share codes, invite codes.

The alphabet leaves out 0/O and 1/I, so a code copied by hand still works;
eight characters from 32 give 2^40 codes, and a clash is retried by the caller.
"""

from __future__ import annotations

import secrets

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
LENGTH = 8


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def parse(raw: str) -> str | None:
    """A code as typed (any case, spaces around) in its stored form; None if it is not one."""
    code = raw.strip().upper()
    if len(code) == LENGTH and all(c in ALPHABET for c in code):
        return code
    return None

"""Unpadded base64url, the encoding of global IDs and cursors (URL-safe, no '=')."""

from __future__ import annotations

import base64
import binascii


def encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(text: str) -> bytes:
    """The bytes behind ``text``; ValueError when it is not unpadded base64url."""
    try:
        return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode("ascii"))
    except (binascii.Error, UnicodeError) as exc:
        raise ValueError(str(exc)) from None

"""The clock: the current moment, timezone-aware UTC.

One function, so every timestamp the code writes or compares comes from the
same place and is never naive.
"""

from __future__ import annotations

from datetime import UTC, datetime


def now_utc() -> datetime:
    return datetime.now(UTC)

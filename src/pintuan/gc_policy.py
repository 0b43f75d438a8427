"""Garbage-collector settings for a long-running server process.

A server holding a thousand WebSocket subscriptions keeps a million or so
long-lived objects. With CPython's default thresholds a full collection runs
every second or so while events fan out, and each one walks all of them,
pausing the event loop for 50-200 ms: the slowest deliveries were exactly
those pauses. Objects alive once the server has started are frozen (never
scanned again), and collections run far less often; reference counting still
frees everything that is not part of a cycle at once.
"""

from __future__ import annotations

import gc

# Net allocations before a young collection (default 700), young collections
# per middle one, and middle collections per full one (defaults 10 and 10).
THRESHOLDS = (50_000, 20, 20)


def tune_for_serving() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)

"""The periodic step that makes commissions available once their freeze window passes.

Any number of processes may run it: ``release_due`` moves each entry by a
conditional update, so racing runs release it once. A run that fails is logged
and retried at the next interval; nothing is lost, as the ledger is the schedule.
"""

from __future__ import annotations

import asyncio
import logging

from pintuan.core.clock import now_utc
from pintuan.referrals.earnings_feed import EarningsFeed
from pintuan.referrals.ledger import journal, release_due

log = logging.getLogger("pintuan.referrals.releases")


async def run_releases(
    freeze_seconds: int, interval_seconds: float, feed: EarningsFeed | None = None
) -> None:
    """Release due entries every ``interval_seconds``, announcing each to ``feed``."""
    task = asyncio.current_task()
    while True:
        # A cancellation swallowed inside a client library's timeout is honoured here.
        if task is not None and task.cancelling():
            raise asyncio.CancelledError
        try:
            # Each batch of the release commits by itself, so its entries are
            # announced after their commit (or lost with the batch that failed).
            with journal() as changes:
                released = await release_due(now_utc(), freeze_seconds)
            if released:
                log.info("released %d commission entries", released)
            if feed is not None and changes:
                await feed.announce(changes)
        except Exception:  # keep releasing; the next run retries
            log.exception("commission release failed")
        await asyncio.sleep(interval_seconds)

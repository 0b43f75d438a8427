"""The expiry scheduler: fails groups whose timer ran out and lapses unpaid orders.

Any number of processes may run it. Due ids are claimed atomically in the live
layer, so each is handled by one process; every step is also a conditional
update in the database, so a double claim changes nothing. A periodic sweep
of the database catches whatever a crashed process claimed and never finished.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from pintuan.core.clock import now_utc
from pintuan.groupbuys import expiry
from pintuan.groupbuys.runtime import Runtime

log = logging.getLogger("pintuan.groupbuys.scheduler")
MAX_SLEEP_SECONDS = 1.0
BATCH = 100

# Another domain's catch-up, run with each sweep: given the moment, returns how much it did.
Sweep = Callable[[datetime], Awaitable[int]]


class ExpiryScheduler:
    def __init__(
        self, runtime: Runtime, sweep_interval_seconds: float, sweeps: Sequence[Sweep] = ()
    ) -> None:
        self.runtime = runtime
        self.sweep_interval = sweep_interval_seconds
        self.sweeps = tuple(sweeps)

    async def sweep(self) -> int:
        """The database sweep, then each other domain's: returns how much they did."""
        done = await expiry.sweep(self.runtime)
        for more in self.sweeps:
            done += await more(now_utc())
        return done

    async def rebuild(self) -> None:
        """Put every deadline the database knows back into the live layer."""
        groups, payments = await expiry.live_deadlines()
        await self.runtime.group_deadlines.restore(groups)
        await self.runtime.payment_deadlines.restore(payments)

    async def tick(self, now: datetime | None = None) -> int:
        """Handle everything due now; returns how many items were handled."""
        moment = now or now_utc()
        done = 0
        for group_id in await self.runtime.group_deadlines.claim_due(moment, BATCH):
            done += await expiry.expire_group(group_id, self.runtime)
        for order_id in await self.runtime.payment_deadlines.claim_due(moment, BATCH):
            done += await expiry.lapse_payment(order_id, self.runtime)
        return done

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None  # run() is always awaited from a task
        next_sweep = loop.time()
        rebuilt = False
        while True:
            # A cancellation that lands inside a client library's own timeout
            # can be swallowed there (seen at shutdown: the loop ran on and the
            # lifespan waited forever); honour it here all the same.
            if task.cancelling():
                raise asyncio.CancelledError
            try:
                if not rebuilt:
                    await self.rebuild()
                    rebuilt = True
                await self.tick()
                if loop.time() >= next_sweep:
                    swept = await self.sweep()
                    if swept:
                        log.info("sweep finished %d overdue items", swept)
                    next_sweep = loop.time() + self.sweep_interval
            except Exception:  # keep the scheduler alive; the next sweep retries
                log.exception("expiry scheduler step failed")
            await asyncio.sleep(await self._sleep_seconds())

    async def _sleep_seconds(self) -> float:
        soonest = [
            await self.runtime.group_deadlines.next_due(),
            await self.runtime.payment_deadlines.next_due(),
        ]
        due = [d for d in soonest if d is not None]
        if not due:
            return MAX_SLEEP_SECONDS
        wait = (min(due) - now_utc()).total_seconds()
        return min(MAX_SLEEP_SECONDS, max(0.01, wait))

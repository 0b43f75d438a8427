"""What domain operations need beyond the database: the gateway and the live layer."""

from __future__ import annotations

from dataclasses import dataclass

from pintuan.live.deadlines import Deadlines
from pintuan.live.progress import GroupProgress
from pintuan.payments import PaymentGateway


@dataclass(frozen=True, slots=True)
class Runtime:
    gateway: PaymentGateway
    progress: GroupProgress
    group_deadlines: Deadlines
    payment_deadlines: Deadlines
    payment_window_seconds: int

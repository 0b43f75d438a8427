"""The one rounding rule for every split of money.

A share is computed exactly in integers (amount x basis points) summed over
the order's lines, divided by 10,000 once, and floored to the minor unit.
What the floor drops (less than one minor unit per earning) stays with the
platform; no earning is ever rounded up, so the sum paid never exceeds the
plan's exact maths.
"""

from __future__ import annotations

from collections.abc import Iterable

from pintuan.referrals.terms import BASIS


def share(parts: Iterable[tuple[int, int]]) -> int:
    """Floor of sum(amount * basis_points) / 10,000 over ``(amount, basis_points)`` parts."""
    return sum(amount * points for amount, points in parts) // BASIS

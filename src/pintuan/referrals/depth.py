"""The level cap: how far up the invite tree any plan may pay.

Levels are counted as Chinese criminal practice counts them (the 2013 joint
opinion on pyramid-selling crimes: 3+ levels, the organiser's own included):
the seller is level 1, their inviter level 2, the inviter's inviter level 3.
A plan pays the seller and at most two levels above; a merchant may set fewer,
never more.
"""

from __future__ import annotations

from pintuan.core.errors import DomainError, ErrorCode

SELLER_LEVEL = 1
LEGAL_MAX_LEVELS = 3


def check_max_levels(max_levels: int, field: str = "maxLevels") -> int:
    if max_levels > LEGAL_MAX_LEVELS:
        raise DomainError(
            ErrorCode.DEPTH_ABOVE_CAP,
            f"A plan pays at most {LEGAL_MAX_LEVELS} levels, the seller's own included.",
            field,
        )
    if max_levels < SELLER_LEVEL:
        raise DomainError(ErrorCode.INVALID, "A plan pays at least the seller.", field)
    return max_levels


def payable(level: int, max_levels: int) -> bool:
    """Whether ``level`` (1 = the seller) may be paid under a plan of ``max_levels``."""
    return SELLER_LEVEL <= level <= min(max_levels, LEGAL_MAX_LEVELS)

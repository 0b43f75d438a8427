"""HOT ranking of feed posts: time decay, engagement, and the live state of a shared group.

Pure functions of the candidates and one moment, so a page and the next rank the same
window the same way (the cursor carries the moment) and the rules are tested directly.

The score is Lemmy's, ``log(max(2, engagement + 2)) / (age_h + 2) ** 1.8``, zero once a
post is older than ``MAX_AGE``, times a factor for a live group-buy share:

- an open group gains up to ``1 + LIVE_BOOST`` times as it nears filling (its members
  over its size) or its deadline (``1 / (1 + hours_left / URGENT_HOURS)``), combined as
  ``1 - (1 - fill)(1 - time)`` so that either pressure alone ranks it up and both
  together rank it higher;
- a filled, failed or cancelled group, or an open one past its deadline, gets
  ``CLOSED_FACTOR``: it sinks below a plain post of the same age and engagement,
  since nobody can join it any more.

Re-shares of one group collapse into one item: the share that scores best stands for
all of them and carries how many there were.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

GRAVITY = 1.8
MAX_AGE = timedelta(days=7)
COMMENT_WEIGHT = 2  # a comment costs its author more than a reaction does
LIVE_BOOST = 3.0
URGENT_HOURS = 2.0
CLOSED_FACTOR = 0.2
OPEN = "OPEN"

RankKey = tuple[float, int]


@dataclass(frozen=True, slots=True)
class GroupSignal:
    """A shared group's live state as ranking sees it."""

    status: str  # OPEN, FILLED, FAILED or CANCELLED
    members: int
    size: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Candidate:
    """A post that may appear in a HOT feed, with what ranks it."""

    post_id: int
    created_at: datetime
    reactions: int
    comments: int
    group_id: int | None = None
    group: GroupSignal | None = None


@dataclass(frozen=True, slots=True)
class Ranked:
    """One feed item: the share standing for its group (or a plain post), its score and
    how many posts of the window it stands for."""

    candidate: Candidate
    score: float
    shares: int

    @property
    def key(self) -> RankKey:
        """Descending order: higher scores first, then newer posts (higher ids)."""
        return (self.score, self.candidate.post_id)


def age_score(candidate: Candidate, now: datetime) -> float:
    """Engagement decayed by age; 0 past ``MAX_AGE``. A post from the future (clock skew
    between hosts) counts as brand new."""
    age = max(timedelta(0), now - candidate.created_at)
    if age > MAX_AGE:
        return 0.0
    engagement = max(0, candidate.reactions) + COMMENT_WEIGHT * max(0, candidate.comments)
    hours = age.total_seconds() / 3600
    return math.log(max(2, engagement + 2)) / math.pow(hours + 2, GRAVITY)


def urgency(group: GroupSignal, now: datetime) -> float:
    """How pressing joining an open group is, from 0 (empty, far from its deadline) to 1."""
    fill = min(1.0, max(0.0, group.members / group.size)) if group.size > 0 else 0.0
    hours_left = max(0.0, (group.expires_at - now).total_seconds() / 3600)
    pressing = 1 / (1 + hours_left / URGENT_HOURS)
    return 1 - (1 - fill) * (1 - pressing)


def is_live(group: GroupSignal, now: datetime) -> bool:
    return group.status == OPEN and now < group.expires_at


def group_factor(group: GroupSignal | None, now: datetime) -> float:
    """1 for a post without a group; above 1 for a live one; ``CLOSED_FACTOR`` otherwise."""
    if group is None:
        return 1.0
    if not is_live(group, now):
        return CLOSED_FACTOR
    return 1 + LIVE_BOOST * urgency(group, now)


def score(candidate: Candidate, now: datetime) -> float:
    return age_score(candidate, now) * group_factor(candidate.group, now)


def rank(candidates: Iterable[Candidate], now: datetime) -> list[Ranked]:
    """The candidates best first, each group once (its best-scoring share)."""
    plain: list[Ranked] = []
    best: dict[int, Ranked] = {}
    shares: dict[int, int] = {}
    for candidate in candidates:
        item = Ranked(candidate, score(candidate, now), 1)
        if candidate.group_id is None:
            plain.append(item)
            continue
        shares[candidate.group_id] = shares.get(candidate.group_id, 0) + 1
        held = best.get(candidate.group_id)
        if held is None or item.key > held.key:
            best[candidate.group_id] = item
    grouped = [Ranked(item.candidate, item.score, shares[gid]) for gid, item in best.items()]
    return sorted(plain + grouped, key=lambda item: item.key, reverse=True)


def page_after(ranked: Sequence[Ranked], after: RankKey | None, first: int) -> list[Ranked]:
    """Up to ``first + 1`` items strictly after ``after`` (the extra one says whether
    another page follows)."""
    start = 0
    if after is not None:
        start = next((i for i, item in enumerate(ranked) if item.key < after), len(ranked))
    return list(ranked[start : start + first + 1])

"""The HOT ranking rules, tested directly: decay, engagement, live groups, collapsed shares."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from pintuan.communities.ranking import (
    CLOSED_FACTOR,
    MAX_AGE,
    Candidate,
    GroupSignal,
    page_after,
    rank,
    score,
)

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
ages = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=8))
counts = st.integers(min_value=0, max_value=100_000)
sizes = st.integers(min_value=2, max_value=200)
hours_left = st.floats(min_value=0.001, max_value=72.0)


@st.composite
def open_groups(draw: st.DrawFn) -> GroupSignal:
    size = draw(sizes)
    members = draw(st.integers(min_value=1, max_value=size))
    left = timedelta(hours=draw(hours_left))
    return GroupSignal("OPEN", members, size, NOW + left)


@st.composite
def closed_groups(draw: st.DrawFn) -> GroupSignal:
    """Filled, failed or cancelled (whatever its deadline), or open past its deadline."""
    size = draw(sizes)
    members = draw(st.integers(min_value=0, max_value=size))
    status = draw(st.sampled_from(["FILLED", "FAILED", "CANCELLED", "OPEN"]))
    shift = timedelta(minutes=draw(st.integers(0, 10_000)))
    expires = NOW - shift if status == "OPEN" or draw(st.booleans()) else NOW + shift
    return GroupSignal(status, members, size, expires)


@st.composite
def candidates(draw: st.DrawFn) -> Candidate:
    group_id = draw(st.none() | st.integers(min_value=1, max_value=5))
    group = None
    if group_id is not None:
        group = draw(open_groups() | closed_groups())
    return Candidate(
        post_id=draw(st.integers(min_value=1, max_value=10**9)),
        created_at=NOW - draw(ages),
        reactions=draw(counts),
        comments=draw(counts),
        group_id=group_id,
        group=group,
    )


def unique_ids(items: list[Candidate]) -> list[Candidate]:
    return [replace(item, post_id=i + 1) for i, item in enumerate(items)]


windows = st.lists(candidates(), max_size=60).map(unique_ids)


@given(candidates())
def test_a_score_is_finite_and_never_negative(candidate: Candidate) -> None:
    value = score(candidate, NOW)
    assert math.isfinite(value)
    assert value >= 0


@given(candidates(), ages, ages)
def test_an_older_post_never_ranks_above_the_same_post_newer(
    candidate: Candidate, a: timedelta, b: timedelta
) -> None:
    newer, older = sorted((a, b))
    young = replace(candidate, created_at=NOW - newer, group=None)
    old = replace(candidate, created_at=NOW - older, group=None)
    assert score(old, NOW) <= score(young, NOW)


@given(candidates())
def test_a_post_past_the_window_scores_zero(candidate: Candidate) -> None:
    stale = replace(candidate, created_at=NOW - MAX_AGE - timedelta(seconds=1))
    assert score(stale, NOW) == 0


@given(candidates(), counts, counts)
def test_more_reactions_or_comments_never_rank_a_post_lower(
    candidate: Candidate, more_reactions: int, more_comments: int
) -> None:
    busier = replace(
        candidate,
        reactions=candidate.reactions + more_reactions,
        comments=candidate.comments + more_comments,
    )
    assert score(busier, NOW) >= score(candidate, NOW)


@given(candidates(), open_groups(), st.integers(min_value=0, max_value=200))
def test_a_group_closer_to_filling_ranks_up(
    candidate: Candidate, group: GroupSignal, joined: int
) -> None:
    fuller = replace(group, members=min(group.size, group.members + joined))
    assert score(replace(candidate, group=fuller), NOW) >= score(
        replace(candidate, group=group), NOW
    )


@given(candidates(), open_groups(), st.floats(min_value=0.0, max_value=1.0))
def test_a_group_closer_to_its_deadline_ranks_up(
    candidate: Candidate, group: GroupSignal, fraction: float
) -> None:
    sooner = replace(group, expires_at=NOW + (group.expires_at - NOW) * fraction)
    if sooner.expires_at <= NOW:
        return  # at the deadline it is no longer open
    assert score(replace(candidate, group=sooner), NOW) >= score(
        replace(candidate, group=group), NOW
    )


@given(candidates(), open_groups(), closed_groups())
def test_a_live_group_ranks_above_a_plain_post_and_a_closed_one_below(
    candidate: Candidate, live: GroupSignal, closed: GroupSignal
) -> None:
    plain = score(replace(candidate, group=None), NOW)
    assert score(replace(candidate, group=live), NOW) >= plain
    assert score(replace(candidate, group=closed), NOW) == CLOSED_FACTOR * plain


def test_a_group_one_member_short_and_ending_soon_outranks_a_fresh_plain_post() -> None:
    fresh = Candidate(1, NOW - timedelta(minutes=5), reactions=3, comments=0)
    nearly = GroupSignal("OPEN", 9, 10, NOW + timedelta(minutes=20))
    share = Candidate(2, NOW - timedelta(hours=2), 3, 0, group_id=7, group=nearly)
    filled = replace(share, post_id=3, group_id=8, group=replace(nearly, status="FILLED"))
    assert [item.candidate.post_id for item in rank([fresh, share, filled], NOW)] == [2, 1, 3]


@given(windows)
def test_each_group_appears_once_and_every_plain_post_once(window: list[Candidate]) -> None:
    ranked = rank(window, NOW)
    groups = [item.candidate.group_id for item in ranked if item.candidate.group_id is not None]
    assert len(groups) == len(set(groups))
    assert set(groups) == {c.group_id for c in window if c.group_id is not None}
    plain = [item.candidate.post_id for item in ranked if item.candidate.group_id is None]
    assert sorted(plain) == sorted(c.post_id for c in window if c.group_id is None)
    assert sum(item.shares for item in ranked) == len(window)


@given(windows)
def test_a_group_is_stood_for_by_its_best_scoring_share(window: list[Candidate]) -> None:
    for item in rank(window, NOW):
        gid = item.candidate.group_id
        if gid is None:
            continue
        shares = [c for c in window if c.group_id == gid]
        assert item.score == max(score(c, NOW) for c in shares)
        assert item.shares == len(shares)


@given(windows)
def test_items_come_best_first_with_ties_broken_by_newer_id(window: list[Candidate]) -> None:
    keys = [item.key for item in rank(window, NOW)]
    assert keys == sorted(keys, reverse=True)
    assert len(set(keys)) == len(keys)


@given(windows, st.integers(min_value=1, max_value=7))
def test_paging_after_each_last_key_walks_the_whole_ranking_once(
    window: list[Candidate], first: int
) -> None:
    ranked = rank(window, NOW)
    walked, after = [], None
    while True:
        page = page_after(ranked, after, first)
        walked += page[:first]
        if len(page) <= first:
            break
        after = page[first - 1].key
    assert walked == ranked

"""Many joins at once: a community's member cap admits exactly as many as it has seats.

Only on PostgreSQL (see ``needs_concurrency``): on SQLite the requests queue behind one
lock and would pass even if admission were a read-check-write.
"""

from __future__ import annotations

import asyncio

import pytest
from starlette.applications import Starlette

from pintuan.communities.models import Community, Member, MemberState
from pintuan.graphql.ids import from_global_id
from pintuan.settings import Settings
from tests.community_ops import codes, create, join, signed_in
from tests.conftest import GraphQLClient

pytestmark = pytest.mark.usefixtures("needs_concurrency")


async def test_twenty_joins_at_once_on_ten_free_seats_admit_exactly_ten(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    _, owner = await signed_in(settings)
    community = await create(gql, owner, "crowded", memberCap=15)
    for _ in range(4):
        _, early = await signed_in(settings)
        await join(gql, early, community["id"])
    crowd = [(await signed_in(settings))[1] for _ in range(20)]

    results = await asyncio.gather(*(join(gql, headers, community["id"]) for headers in crowd))

    outcomes = sorted(codes(r)[0] if codes(r) else "ADMITTED" for r in results)
    assert outcomes == ["ADMITTED"] * 10 + ["COMMUNITY_FULL"] * 10
    pk = from_global_id(community["id"])[1]
    active = await Member.filter(community_id=pk, state=MemberState.ACTIVE).count()
    assert active == 15
    assert (await Community.get(id=pk)).member_count == 15

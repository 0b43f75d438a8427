"""Leak probes: a private or premium community, its posts and its members are missing
to anyone but its active members, through every path, including the moment a member
is removed, banned or leaves, or their paid term ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.applications import Starlette

from pintuan.communities.models import Member, MemberState
from pintuan.graphql.ids import from_global_id
from pintuan.settings import Settings
from tests.community_ops import (
    INVITE,
    PIN,
    POST_UPDATE,
    UPDATE,
    call,
    codes,
    create,
    invite,
    join,
    member_id,
    post,
    signed_in,
)
from tests.conftest import GraphQLClient

NOW = datetime.now(UTC)
PROBE = """query($h: String!, $c: ID!, $p: ID!, $m: ID!) {
  community(handle: $h) { id memberCount }
  node(id: $c) { id }
  post: node(id: $p) { id }
  member: node(id: $m) { id }
  nodes(ids: [$c, $p, $m]) { id }
  communities(search: "secret") { edges { node { id } } }
}"""
NOTHING: dict[str, Any] = {
    "community": None,
    "node": None,
    "post": None,
    "member": None,
    "nodes": [None, None, None],
    "communities": {"edges": []},
}


async def _probe(gql: GraphQLClient, world: dict[str, str], headers: dict[str, str]) -> Any:
    body = await gql(PROBE, world, headers)
    assert "errors" not in body, body
    return body["data"]


async def _world(
    gql: GraphQLClient, settings: Settings, **fields: Any
) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, str]]]:
    """A hidden community with a member's post; returns the probe's variables, the
    owner's headers and a member's headers by what will happen to them."""
    owner_user, owner = await signed_in(settings)
    community = await create(gql, owner, "secret", **fields)
    people = {}
    for fate in ("stays", "removed", "banned", "leaves", "expires"):
        _, headers = await signed_in(settings)
        code = await invite(gql, owner, community["id"])
        assert (await join(gql, headers, community["id"], code))["member"]["state"] == "ACTIVE"
        people[fate] = headers
    made = (await post(gql, people["stays"], community["id"], "members only"))["post"]
    world = {
        "h": "secret",
        "c": community["id"],
        "p": made["id"],
        "m": await member_id(owner_user, community["id"]),
    }
    return world, owner, people


@pytest.mark.parametrize(
    "fields",
    [{"visibility": "PRIVATE"}, {"kind": "PREMIUM", "membership": "PAID_TERM", "termDays": 30}],
    ids=["private", "premium"],
)
async def test_outsiders_and_former_members_see_nothing_through_any_path(
    app: Starlette, gql: GraphQLClient, settings: Settings, fields: dict[str, Any]
) -> None:
    world, owner, people = await _world(gql, settings, **fields)
    assert (await _probe(gql, world, people["removed"]))["community"] is not None

    pk = from_global_id(world["c"])[1]
    rows = {m.user_id: m for m in await Member.filter(community_id=pk)}
    by_fate = {}
    for fate, headers in people.items():
        me = await gql("{ me { id } }", None, headers)
        by_fate[fate] = rows[from_global_id(me["data"]["me"]["id"])[1]]
    await Member.filter(id=by_fate["removed"].id).update(state=MemberState.REMOVED)
    await Member.filter(id=by_fate["banned"].id).update(
        state=MemberState.BANNED, banned_until=NOW + timedelta(days=1)
    )
    await call(
        gql,
        "mutation($c: ID!) { communityLeave(id: $c) { userErrors { code } } }",
        {"c": world["c"]},
        people["leaves"],
    )
    await Member.filter(id=by_fate["expires"].id).update(term_ends_at=NOW - timedelta(seconds=1))

    _, stranger = await signed_in(settings)
    outsiders = {"anonymous": {}, "stranger": stranger} | {
        fate: people[fate] for fate in ("removed", "banned", "leaves", "expires")
    }
    for who, headers in outsiders.items():
        assert await _probe(gql, world, headers) == NOTHING, who
    seen = await _probe(gql, world, people["stays"])
    assert seen["community"]["id"] == world["c"]
    assert seen["nodes"] == [{"id": world["c"]}, {"id": world["p"]}, {"id": world["m"]}]
    assert seen["communities"]["edges"] == [{"node": {"id": world["c"]}}]
    owner_view = await _probe(gql, world, owner)
    assert owner_view["post"] == {"id": world["p"]}


async def test_mutations_on_a_hidden_community_answer_not_found_never_forbidden(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    world, _, _ = await _world(gql, settings, visibility="PRIVATE")
    _, stranger = await signed_in(settings)
    post_create = "mutation($i: PostCreateInput!) { postCreate(input: $i) { userErrors { code } } }"
    join_it = (
        "mutation($i: CommunityJoinInput!) { communityJoin(input: $i) { userErrors { code } } }"
    )
    attempts: list[tuple[str, dict[str, Any]]] = [
        (UPDATE, {"i": {"communityId": world["c"], "name": "Mine"}}),
        (INVITE, {"i": {"communityId": world["c"]}}),
        (POST_UPDATE, {"i": {"postId": world["p"], "text": "defaced"}}),
        (PIN, {"p": world["p"]}),
        (post_create, {"i": {"communityId": world["c"], "text": "hi"}}),
        (join_it, {"i": {"communityId": world["c"]}}),
        (join_it, {"i": {"communityId": world["c"], "inviteCode": "ABCDEFGH"}}),
    ]
    for document, variables in attempts:
        payload = await call(gql, document, variables, stranger)
        assert codes(payload) == ["NOT_FOUND"], document


async def test_moderation_views_are_null_to_plain_members(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    _, owner = await signed_in(settings)
    community = await create(gql, owner, "open-one", joinPolicy="APPROVAL")
    _, member = await signed_in(settings)
    code = await invite(gql, owner, community["id"])
    await join(gql, member, community["id"], code)
    made = (await post(gql, owner, community["id"], "v1"))["post"]
    await call(gql, POST_UPDATE, {"i": {"postId": made["id"], "text": "v2"}}, owner)
    query = """query($p: ID!) {
      community(handle: "open-one") { pendingMembers { edges { node { id } } } }
      node(id: $p) { ... on Post { revisions { text } } } }"""
    as_member = (await gql(query, {"p": made["id"]}, member))["data"]
    assert as_member == {"community": {"pendingMembers": None}, "node": {"revisions": None}}
    as_owner = (await gql(query, {"p": made["id"]}, owner))["data"]
    assert as_owner["node"]["revisions"] == [{"text": "v1"}]

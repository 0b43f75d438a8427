"""Every community mutation, tried by each kind of caller on a public and on a private
community: anonymous, a non-member, a member, a moderator, the owner and an admin.

A refusal changes nothing. On a private community a non-member is told NOT_FOUND,
exactly as for a community that does not exist, never FORBIDDEN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.applications import Starlette

from pintuan.accounts.models import User
from pintuan.communities import communities, models
from pintuan.communities.graphql.mutations import CommunityMutation
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.settings import Settings
from tests import factories
from tests.community_ops import (
    APPROVE,
    BAN,
    CREATE,
    INVITE,
    JOIN,
    LEAVE,
    PIN,
    POST,
    POST_DELETE,
    POST_UPDATE,
    REJECT,
    REMOVE,
    REMOVE_INACTIVE,
    SET_ROLE,
    SET_TERM,
    UNPIN,
    UPDATE,
)
from tests.conftest import GraphQLClient, empty_tables

NOW = datetime.now(UTC)
CALLERS = ("anonymous", "non_member", "member", "moderator", "owner", "admin")
STAFF = ("moderator", "owner", "admin")


@dataclass
class World:
    community: str
    member_row: str  # the member's membership
    pending_row: str  # a request waiting for approval
    member_user: str
    post: str  # the member's post
    pinned_post: str
    headers: dict[str, dict[str, str]]


@dataclass(frozen=True)
class Operation:
    name: str
    document: str
    variables: Callable[[World, str], dict[str, Any]]
    ok: tuple[str, ...]  # callers it succeeds for
    refusals: dict[str, str]  # caller -> the userErrors code, for those refused by a rule

    def expected(self, caller: str, private: bool) -> str:
        if caller == "anonymous":
            return "UNAUTHENTICATED"
        if private and caller == "non_member" and self.name != "communityCreate":
            return "NOT_FOUND"
        if caller in self.ok:
            return "ok"
        return self.refusals.get(caller, "FORBIDDEN")


def _c(w: World, _: str) -> dict[str, Any]:
    return {"c": w.community}


def _member(w: World, _: str) -> dict[str, Any]:
    return {"m": w.member_row}


def _pending(w: World, _: str) -> dict[str, Any]:
    return {"m": w.pending_row}


def _post(w: World, _: str) -> dict[str, Any]:
    return {"p": w.post}


SIGNED_IN = ("non_member", "member", "moderator", "owner", "admin")
OPERATIONS = [
    Operation(
        "communityCreate",
        CREATE,
        lambda w, caller: {
            "i": {"handle": f"new-{caller}".replace("_", "-"), "name": "N", "kind": "DEALS"}
        },
        SIGNED_IN,
        {},
    ),
    Operation(
        "communityUpdate",
        UPDATE,
        lambda w, _: {"i": {"communityId": w.community, "name": "Renamed"}},
        ("owner", "admin"),
        {},
    ),
    Operation(
        "communityJoin",
        JOIN,
        lambda w, _: {"i": {"communityId": w.community}},
        ("non_member", "admin"),
        {"member": "ALREADY_MEMBER", "moderator": "ALREADY_MEMBER", "owner": "ALREADY_MEMBER"},
    ),
    Operation(
        "communityLeave",
        LEAVE,
        _c,
        ("member", "moderator"),
        {"owner": "OWNER_CANNOT_LEAVE", "admin": "NOT_FOUND", "non_member": "NOT_FOUND"},
    ),
    Operation("communityMemberApprove", APPROVE, _pending, STAFF, {}),
    Operation("communityMemberReject", REJECT, _pending, STAFF, {}),
    Operation("communityMemberRemove", REMOVE, _member, STAFF, {}),
    Operation(
        "communityMemberBan",
        BAN,
        lambda w, _: {
            "i": {
                "communityId": w.community,
                "userId": w.member_user,
                "until": (NOW + timedelta(days=3)).isoformat(),
            }
        },
        STAFF,
        {},
    ),
    Operation(
        "communityMemberSetRole",
        SET_ROLE,
        lambda w, _: {"m": w.member_row, "r": "MODERATOR"},
        ("owner", "admin"),
        {},
    ),
    Operation(
        "communityMemberSetTerm",
        SET_TERM,
        lambda w, _: {"m": w.member_row, "e": (NOW + timedelta(days=30)).isoformat()},
        ("owner", "admin"),
        {},
    ),
    Operation(
        "communityRemoveInactive",
        REMOVE_INACTIVE,
        lambda w, _: {"c": w.community, "d": 30},
        ("owner", "admin"),
        {},
    ),
    Operation(
        "communityInviteCreate",
        INVITE,
        lambda w, _: {"i": {"communityId": w.community}},
        STAFF,
        {},
    ),
    Operation(
        "postCreate",
        POST,
        lambda w, _: {"i": {"communityId": w.community, "text": "hi"}},
        ("member", "moderator", "owner"),
        {},
    ),
    Operation(
        "postUpdate",
        POST_UPDATE,
        lambda w, _: {"i": {"postId": w.post, "text": "edited"}},
        ("member",),
        {},
    ),
    Operation("postDelete", POST_DELETE, _post, ("member", *STAFF), {}),
    Operation("postPin", PIN, _post, STAFF, {}),
    Operation("postUnpin", UNPIN, lambda w, _: {"p": w.pinned_post}, STAFF, {}),
]


def test_every_community_mutation_has_an_entry() -> None:
    defined = CommunityMutation.__strawberry_definition__.fields  # type: ignore[attr-defined]
    names = {f.graphql_name or _camel(f.python_name) for f in defined}
    assert names == {o.name for o in OPERATIONS}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


async def _row(
    community: models.Community, user: User, role: models.MemberRole, state: models.MemberState
) -> models.Member:
    return await models.Member.create(
        community_id=community.id,
        user_id=user.id,
        role=role,
        state=state,
        term_ends_at=NOW + timedelta(days=300) if state == models.MemberState.ACTIVE else None,
        last_active_at=NOW,
        joined_at=NOW,
        updated_at=NOW,
    )


async def build_world(settings: Settings, private: bool) -> World:
    accounts = {caller: await factories.user() for caller in SIGNED_IN}
    await User.filter(id=accounts["admin"].id).update(is_admin=True)
    visibility = models.Visibility.PRIVATE if private else models.Visibility.PUBLIC
    community = await communities.create(
        accounts["owner"].id,
        "world",
        communities.Changes(
            name="World",
            kind=models.CommunityKind.INTEREST,
            visibility=visibility,
            membership=models.MembershipModel.PAID_TERM,
            term_days=365,
        ),
        NOW,
    )
    member = await _row(
        community, accounts["member"], models.MemberRole.MEMBER, models.MemberState.ACTIVE
    )
    await _row(
        community, accounts["moderator"], models.MemberRole.MODERATOR, models.MemberState.ACTIVE
    )
    pending = await _row(
        community, await factories.user(), models.MemberRole.MEMBER, models.MemberState.PENDING
    )
    await models.Member.filter(id=member.id).update(last_active_at=NOW - timedelta(days=40))
    await models.Community.filter(id=community.id).update(member_count=3)
    post = await models.Post.create(
        community_id=community.id, author_id=accounts["member"].id, text="mine", created_at=NOW
    )
    pinned = await models.Post.create(
        community_id=community.id,
        author_id=accounts["owner"].id,
        text="rules",
        pinned=True,
        pinned_at=NOW,
        created_at=NOW,
    )
    headers: dict[str, dict[str, str]] = {"anonymous": {}} | {
        caller: factories.bearer(await User.get(id=account.id), settings)
        for caller, account in accounts.items()
    }
    return World(
        community=to_global_id(NodeType.COMMUNITY, community.id),
        member_row=to_global_id(NodeType.COMMUNITY_MEMBER, member.id),
        pending_row=to_global_id(NodeType.COMMUNITY_MEMBER, pending.id),
        member_user=to_global_id(NodeType.USER, accounts["member"].id),
        post=to_global_id(NodeType.POST, post.id),
        pinned_post=to_global_id(NodeType.POST, pinned.id),
        headers=headers,
    )


async def snapshot() -> list[Any]:
    tables = (models.Community, models.Member, models.Invite, models.Post, models.PostRevision)
    return [sorted(map(str, await model.all().values())) for model in tables]


@pytest.mark.parametrize("private", [False, True], ids=["public", "private"])
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: o.name)
async def test_each_caller_gets_what_its_role_allows(
    app: Starlette, gql: GraphQLClient, settings: Settings, operation: Operation, private: bool
) -> None:
    for caller in CALLERS:
        await empty_tables()
        world = await build_world(settings, private)
        before = await snapshot()
        body = await gql(
            operation.document, operation.variables(world, caller), world.headers[caller]
        )
        expected = operation.expected(caller, private)
        if expected in ("UNAUTHENTICATED", "FORBIDDEN"):
            assert body["data"] is None or body["data"][operation.name] is None, caller
            assert body["errors"][0]["extensions"]["code"] == expected, (caller, body)
        else:
            assert "errors" not in body, (caller, body)
            errors = [e["code"] for e in body["data"][operation.name]["userErrors"]]
            assert errors == ([] if expected == "ok" else [expected]), caller
        if expected == "ok":
            assert await snapshot() != before, caller
        else:
            assert await snapshot() == before, caller

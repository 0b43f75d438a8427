"""GraphQL documents and calls shared by the community tests."""

from __future__ import annotations

from typing import Any

from pintuan.accounts.models import User
from pintuan.communities.models import Member, MemberState
from pintuan.graphql.ids import NodeType, from_global_id, to_global_id
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient

COMMUNITY_FIELDS = """id handle name kind visibility joinPolicy memberCap membership termDays
  memberCount postCount viewerMembership { id role state termEndsAt }"""
CREATE = f"""mutation($i: CommunityCreateInput!) {{ communityCreate(input: $i) {{
  community {{ {COMMUNITY_FIELDS} }} userErrors {{ field code }} }} }}"""
UPDATE = f"""mutation($i: CommunityUpdateInput!) {{ communityUpdate(input: $i) {{
  community {{ {COMMUNITY_FIELDS} }} userErrors {{ field code }} }} }}"""
MEMBER_FIELDS = (
    "member { id role state termEndsAt bannedUntil user { id } } userErrors { field code }"
)
JOIN = f"""mutation($i: CommunityJoinInput!) {{ communityJoin(input: $i) {{ {MEMBER_FIELDS} }} }}"""
LEAVE = f"""mutation($c: ID!) {{ communityLeave(id: $c) {{ {MEMBER_FIELDS} }} }}"""
APPROVE = f"""mutation($m: ID!) {{ communityMemberApprove(id: $m) {{ {MEMBER_FIELDS} }} }}"""
REJECT = f"""mutation($m: ID!) {{ communityMemberReject(id: $m) {{ {MEMBER_FIELDS} }} }}"""
REMOVE = f"""mutation($m: ID!) {{
  communityMemberRemove(id: $m) {{ {MEMBER_FIELDS} }} }}"""
BAN = f"""mutation($i: CommunityBanInput!) {{
  communityMemberBan(input: $i) {{ {MEMBER_FIELDS} }} }}"""
SET_ROLE = f"""mutation($m: ID!, $r: CommunityMemberRole!) {{
  communityMemberSetRole(id: $m, role: $r) {{ {MEMBER_FIELDS} }} }}"""
SET_TERM = f"""mutation($m: ID!, $e: DateTime!) {{
  communityMemberSetTerm(id: $m, endsAt: $e) {{ {MEMBER_FIELDS} }} }}"""
REMOVE_INACTIVE = """mutation($c: ID!, $d: Int!) {
  communityRemoveInactive(id: $c, days: $d) {
    removedCount community { memberCount } userErrors { field code } } }"""
INVITE = """mutation($i: CommunityInviteCreateInput!) { communityInviteCreate(input: $i) {
  invite { code maxUses uses expiresAt } userErrors { field code } } }"""
POST_FIELDS = """id text mediaUrls pinned editedAt reactionCount commentCount author { id }
  attachment { __typename ... on GroupShare { ref group { id status } }
    ... on ProductCard { product { id } } ... on OrderShowcase { paidAt product { id } } }"""
POST = f"""mutation($i: PostCreateInput!) {{ postCreate(input: $i) {{
  post {{ {POST_FIELDS} }} userErrors {{ field code }} }} }}"""
POST_UPDATE = """mutation($i: PostUpdateInput!) { postUpdate(input: $i) {
  post { id text mediaUrls editedAt revisions { text mediaUrls } } userErrors { field code } } }"""
POST_DELETE = (
    """mutation($p: ID!) { postDelete(id: $p) { post { id } userErrors { field code } } }"""
)
PIN = """mutation($p: ID!) { postPin(id: $p) { post { id pinned } userErrors { field code } } }"""
UNPIN = """mutation($p: ID!) { postUnpin(id: $p) {
  post { id pinned } userErrors { field code } } }"""
FEED = """query($h: String!, $first: Int, $after: String) { community(handle: $h) {
  feed(first: $first, after: $after) { edges { cursor node { id text pinned } }
    pageInfo { hasNextPage endCursor } } } }"""


async def call(
    gql: GraphQLClient, document: str, variables: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    """A mutation's payload; fails the test on a top-level error."""
    body = await gql(document, variables, headers)
    assert "errors" not in body, body
    [payload] = body["data"].values()
    assert isinstance(payload, dict)
    return payload


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


async def signed_in(settings: Settings) -> tuple[User, dict[str, str]]:
    account = await factories.user()
    return account, factories.bearer(account, settings)


async def create(
    gql: GraphQLClient, owner: dict[str, str], handle: str, **fields: Any
) -> dict[str, Any]:
    payload = await call(
        gql,
        CREATE,
        {"i": {"handle": handle, "name": handle.title(), "kind": "DEALS"} | fields},
        owner,
    )
    assert payload["userErrors"] == [], payload
    community: dict[str, Any] = payload["community"]
    return community


async def join(
    gql: GraphQLClient, headers: dict[str, str], community_id: str, invite: str | None = None
) -> dict[str, Any]:
    target: dict[str, Any] = {"communityId": community_id}
    if invite is not None:
        target["inviteCode"] = invite
    return await call(gql, JOIN, {"i": target}, headers)


async def invite(
    gql: GraphQLClient, headers: dict[str, str], community_id: str, **fields: Any
) -> str:
    payload = await call(gql, INVITE, {"i": {"communityId": community_id} | fields}, headers)
    assert payload["userErrors"] == [], payload
    code: str = payload["invite"]["code"]
    return code


async def post(
    gql: GraphQLClient, headers: dict[str, str], community_id: str, text: str = "hello", **more: Any
) -> dict[str, Any]:
    return await call(gql, POST, {"i": {"communityId": community_id, "text": text} | more}, headers)


async def member_id(user: User, community_id: str) -> str:
    row = await Member.get(user_id=user.id, community_id=from_global_id(community_id)[1])
    return to_global_id(NodeType.COMMUNITY_MEMBER, row.id)


async def active_count(community_pk: int) -> int:
    return await Member.filter(community_id=community_pk, state=MemberState.ACTIVE).count()

"""Registration, sign-in, refresh-token rotation and what users may see of each other."""

from __future__ import annotations

import asyncio
from typing import Any

from pintuan.accounts.models import RefreshToken, User
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient

REGISTER = """mutation($input: AccountRegisterInput!) { accountRegister(input: $input) {
  user { id handle displayName email inviteCode } userErrors { field code message } } }"""
SIGN_IN = """mutation($email: String!, $password: String!) {
  tokenCreate(input: { email: $email, password: $password }) {
    accessToken refreshToken accessTokenExpiresAt user { email }
    userErrors { field code message } } }"""
REFRESH = """mutation($t: String!) { tokenRefresh(refreshToken: $t) {
  accessToken refreshToken userErrors { code } } }"""
REVOKE = (
    """mutation($t: String!) { tokenRevoke(refreshToken: $t) { revoked userErrors { code } } }"""
)
ME = "{ me { id email roles inviteCode } }"


async def register(gql: GraphQLClient, **fields: Any) -> dict[str, Any]:
    data = {"email": "Mei@Example.COM ", "password": "long enough", "displayName": "Mei"} | fields
    body = await gql(REGISTER, {"input": data})
    result: dict[str, Any] = body["data"]["accountRegister"]
    return result


async def sign_in(gql: GraphQLClient, email: str, password: str) -> dict[str, Any]:
    body = await gql(SIGN_IN, {"email": email, "password": password})
    result: dict[str, Any] = body["data"]["tokenCreate"]
    return result


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_register_normalises_email_and_hashes_the_password(gql: GraphQLClient) -> None:
    result = await register(gql)

    assert result["userErrors"] == []
    assert result["user"]["email"] is None  # the caller is not signed in as this user
    stored = await User.get(email="mei@example.com")
    assert stored.password_hash.startswith("$argon2id$")
    assert "long enough" not in stored.password_hash


async def test_register_refuses_bad_input_and_writes_nothing(gql: GraphQLClient) -> None:
    await register(gql)
    cases = [
        ({"email": "MEI@example.com"}, "EMAIL_TAKEN", "email"),
        ({"email": "not-an-email"}, "INVALID", "email"),
        ({"email": "new@example.com", "password": "short"}, "PASSWORD_TOO_SHORT", "password"),
        ({"email": "new@example.com", "displayName": "  "}, "INVALID", "displayName"),
        (
            {"email": "new@example.com", "inviteCode": "NOPE1234"},
            "INVALID_INVITE_CODE",
            "inviteCode",
        ),
        (  # longer than any code: refused the same way, not failed
            {"email": "new@example.com", "inviteCode": "Z" * 300},
            "INVALID_INVITE_CODE",
            "inviteCode",
        ),
    ]
    for fields, code, field in cases:
        result = await register(gql, **fields)
        assert result["user"] is None
        assert result["userErrors"][0]["code"] == code, fields
        assert result["userErrors"][0]["field"] == field
    assert await User.all().count() == 1


async def test_register_validates_emails_and_names_strictly(gql: GraphQLClient) -> None:
    cases = [
        ({"email": "mei\u202e@example.com"}, "email"),
        ({"email": "mei@exa\u202emple.com"}, "email"),
        ({"email": "mei\x01@example.com"}, "email"),
        ({"email": "mei..li@example.com"}, "email"),
        ({"email": "mei@example"}, "email"),
        ({"email": "new@example.com", "displayName": "Mei\u202e"}, "displayName"),
        ({"email": "new@example.com", "displayName": "Mei\nAdmin"}, "displayName"),
    ]
    for fields, field in cases:
        result = await register(gql, **fields)
        assert result["user"] is None
        errors = [(e["field"], e["code"]) for e in result["userErrors"]]
        assert errors == [(field, "INVALID")], fields
    assert await User.all().count() == 0

    accepted = await register(gql, email="Ｍei@Example.com", displayName="Mei\u0301")
    assert accepted["userErrors"] == []
    stored = await User.get()
    assert stored.display_name == "Me\u00ed"
    signed_in = await sign_in(gql, "ｍei@EXAMPLE.com", "long enough")
    assert signed_in["userErrors"] == []


async def test_concurrent_registrations_of_one_email_create_one_account(
    gql: GraphQLClient,
) -> None:
    results = await asyncio.gather(*(register(gql, email="Twin@Example.com") for _ in range(5)))

    assert sum(1 for r in results if r["user"]) == 1
    assert {r["userErrors"][0]["code"] for r in results if not r["user"]} == {"EMAIL_TAKEN"}
    assert await User.filter(email="twin@example.com").count() == 1


async def test_invite_code_records_the_inviter_once(gql: GraphQLClient) -> None:
    inviter = await factories.user()

    result = await register(gql, inviteCode=inviter.invite_code.lower())

    invitee = await User.get(email="mei@example.com")
    assert result["userErrors"] == []
    assert invitee.inviter_id == inviter.id


async def test_sign_in_and_me(gql: GraphQLClient) -> None:
    await register(gql)
    anonymous = await gql(ME)
    session = await sign_in(gql, "MEI@example.com", "long enough")

    me = (await gql(ME, headers=auth(session["accessToken"])))["data"]["me"]

    assert anonymous["data"]["me"] is None
    assert session["userErrors"] == []
    assert session["refreshToken"].startswith("rt_")
    assert me["email"] == "mei@example.com"
    assert me["roles"] == ["CUSTOMER"]
    assert len(me["inviteCode"]) == 8


async def test_failed_sign_in_never_reveals_whether_the_email_exists(gql: GraphQLClient) -> None:
    await register(gql)
    wrong_password = await sign_in(gql, "mei@example.com", "wrong password")
    unknown_email = await sign_in(gql, "nobody@example.com", "wrong password")

    assert wrong_password["accessToken"] is None
    assert wrong_password["userErrors"] == unknown_email["userErrors"]
    assert wrong_password["userErrors"][0]["code"] == "INVALID_CREDENTIALS"


async def test_repeated_failures_lock_the_account_with_growing_backoff(
    gql: GraphQLClient, settings: Settings
) -> None:
    await factories.user("target@example.com")
    for _ in range(settings.signin_free_failures):
        failed = await sign_in(gql, "target@example.com", "guess")
        assert failed["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
    await sign_in(gql, "target@example.com", "guess")  # first failure past the free ones

    locked = await sign_in(gql, "target@example.com", factories.DEFAULT_PASSWORD)

    assert locked["accessToken"] is None
    assert locked["userErrors"][0]["code"] == "TOO_MANY_ATTEMPTS"


async def test_refresh_rotates_and_the_old_token_stops_working(gql: GraphQLClient) -> None:
    await factories.user("r@example.com")
    session = await sign_in(gql, "r@example.com", factories.DEFAULT_PASSWORD)

    rotated = (await gql(REFRESH, {"t": session["refreshToken"]}))["data"]["tokenRefresh"]
    me = await gql(ME, headers=auth(rotated["accessToken"]))
    again = (await gql(REFRESH, {"t": rotated["refreshToken"]}))["data"]["tokenRefresh"]

    assert rotated["userErrors"] == []
    assert rotated["refreshToken"] != session["refreshToken"]
    assert me["data"]["me"]["email"] == "r@example.com"
    assert again["userErrors"] == []


async def test_reusing_a_refresh_token_revokes_the_whole_family(gql: GraphQLClient) -> None:
    await factories.user("r@example.com")
    session = await sign_in(gql, "r@example.com", factories.DEFAULT_PASSWORD)
    rotated = (await gql(REFRESH, {"t": session["refreshToken"]}))["data"]["tokenRefresh"]

    replay = (await gql(REFRESH, {"t": session["refreshToken"]}))["data"]["tokenRefresh"]
    after = (await gql(REFRESH, {"t": rotated["refreshToken"]}))["data"]["tokenRefresh"]

    assert replay["userErrors"] == [{"code": "TOKEN_REUSED"}]
    assert after["accessToken"] is None
    assert after["userErrors"] == [{"code": "INVALID_TOKEN"}]


async def test_two_concurrent_refreshes_with_one_token_exactly_one_wins(
    gql: GraphQLClient,
) -> None:
    await factories.user("r@example.com")
    session = await sign_in(gql, "r@example.com", factories.DEFAULT_PASSWORD)

    results = await asyncio.gather(
        *(gql(REFRESH, {"t": session["refreshToken"]}) for _ in range(2))
    )

    payloads = [r["data"]["tokenRefresh"] for r in results]
    winners = [p for p in payloads if p["accessToken"]]
    assert len(winners) == 1
    assert [p["userErrors"] for p in payloads if not p["accessToken"]] == [
        [{"code": "TOKEN_REUSED"}]
    ]
    assert await RefreshToken.filter(used_at__isnull=False).count() == 1


async def test_revoke_signs_out_every_rotation(gql: GraphQLClient) -> None:
    await factories.user("r@example.com")
    session = await sign_in(gql, "r@example.com", factories.DEFAULT_PASSWORD)
    rotated = (await gql(REFRESH, {"t": session["refreshToken"]}))["data"]["tokenRefresh"]

    revoked = (await gql(REVOKE, {"t": session["refreshToken"]}))["data"]["tokenRevoke"]
    refused = (await gql(REFRESH, {"t": rotated["refreshToken"]}))["data"]["tokenRefresh"]
    unknown = (await gql(REVOKE, {"t": "rt_unknown"}))["data"]["tokenRevoke"]

    assert revoked == {"revoked": True, "userErrors": []}
    assert refused["userErrors"] == [{"code": "INVALID_TOKEN"}]
    assert unknown["userErrors"] == [{"code": "INVALID_TOKEN"}]


async def test_email_and_roles_are_private_to_self_and_admins(
    gql: GraphQLClient, settings: Settings
) -> None:
    shop = await factories.merchant()
    staff = await factories.user("staff@example.com", staff_of=shop)
    other = await factories.user()
    admin = await factories.user(admin=True)
    query = (
        """query($id: ID!) { node(id: $id) { ... on User { handle email roles inviteCode } } }"""
    )
    variables = {"id": to_global_id(NodeType.USER, staff.id)}

    as_anonymous = (await gql(query, variables))["data"]["node"]
    as_other = (await gql(query, variables, factories.bearer(other, settings)))["data"]["node"]
    as_self = (await gql(query, variables, factories.bearer(staff, settings)))["data"]["node"]
    as_admin = (await gql(query, variables, factories.bearer(admin, settings)))["data"]["node"]

    hidden = {"handle": staff.handle, "email": None, "roles": None, "inviteCode": None}
    assert as_anonymous == hidden
    assert as_other == hidden
    assert as_self["email"] == "staff@example.com"
    assert as_self["roles"] == ["CUSTOMER", "MERCHANT_STAFF"]
    assert as_admin["email"] == "staff@example.com"
    me = (await gql(ME, headers=factories.bearer(admin, settings)))["data"]["me"]
    assert me["roles"] == ["CUSTOMER", "ADMIN"]

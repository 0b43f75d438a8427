"""Access tokens: only well-signed, unexpired tokens for this API and a live account work."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from pintuan.accounts.models import User
from pintuan.accounts.tokens import ALGORITHM, issue_access_token, new_session_id
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient

ME = "{ me { email } }"


def claims(user_id: int, settings: Settings, **overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    base: dict[str, object] = {
        "sub": str(user_id),
        "sid": new_session_id(),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    return base | overrides


def sign(payload: dict[str, object], key: str) -> str:
    return jwt.encode(payload, key, algorithm=ALGORITHM)


def unsigned(payload: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        raw = json.dumps(data, default=lambda d: int(d.timestamp())).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


async def test_a_valid_token_signs_the_user_in(gql: GraphQLClient, settings: Settings) -> None:
    user = await factories.user("valid@example.com")
    body = await gql(ME, headers=factories.bearer(user, settings))
    assert body["data"]["me"] == {"email": "valid@example.com"}


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(
            lambda uid, s: sign(
                claims(uid, s, exp=datetime.now(UTC) - timedelta(seconds=1)), s.secret_key
            ),
            id="expired",
        ),
        pytest.param(
            lambda uid, s: sign(claims(uid, s), s.secret_key)[:-4] + "AAAA", id="tampered-signature"
        ),
        pytest.param(
            lambda uid, s: sign(claims(uid, s), "another-secret-key-of-sufficient-length!!"),
            id="other-key",
        ),
        pytest.param(lambda uid, s: unsigned(claims(uid, s)), id="alg-none"),
        pytest.param(
            lambda uid, s: sign(claims(uid, s, iss="someone-else"), s.secret_key), id="wrong-issuer"
        ),
        pytest.param(
            lambda uid, s: sign(claims(uid, s, aud="another-api"), s.secret_key),
            id="wrong-audience",
        ),
        pytest.param(
            lambda uid, s: sign(
                {k: v for k, v in claims(uid, s).items() if k != "exp"}, s.secret_key
            ),
            id="no-expiry",
        ),
        pytest.param(lambda uid, s: "not.a.jwt", id="garbage"),
    ],
)
async def test_bad_tokens_are_refused(gql: GraphQLClient, settings: Settings, forge) -> None:  # type: ignore[no-untyped-def]
    user = await factories.user()
    response = await gql.post(ME, headers={"authorization": f"Bearer {forge(user.id, settings)}"})

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "data" not in response.json()


async def test_a_token_of_a_deleted_user_is_refused(gql: GraphQLClient, settings: Settings) -> None:
    user = await factories.user()
    headers = factories.bearer(user, settings)
    await User.filter(id=user.id).delete()

    response = await gql.post(ME, headers=headers)

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_authorization_must_be_a_bearer_token(gql: GraphQLClient, settings: Settings) -> None:
    user = await factories.user()
    token = issue_access_token(user.id, new_session_id(), settings).token
    response = await gql.post(ME, headers={"authorization": f"Basic {token}"})
    assert response.status_code == 401


def _arabic_indic(number: int) -> str:
    return str(number).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param(lambda uid: f"0{uid}", id="leading-zero"),
        pytest.param(_arabic_indic, id="arabic-indic-digits"),
        pytest.param(lambda uid: "²", id="superscript-two"),
        pytest.param(lambda uid: str(2**31), id="beyond-32-bits"),
        pytest.param(lambda uid: str(2**64), id="beyond-64-bits"),
        pytest.param(lambda uid: "0", id="zero"),
        pytest.param(lambda uid: f"-{uid}", id="negative"),
        pytest.param(lambda uid: f"+{uid}", id="plus-sign"),
        pytest.param(lambda uid: f" {uid}", id="leading-space"),
        pytest.param(lambda uid: f"{uid}\n", id="trailing-newline"),
        pytest.param(lambda uid: uid, id="number-not-string"),
    ],
)
async def test_only_the_canonical_decimal_of_an_id_is_a_subject(
    gql: GraphQLClient, settings: Settings, subject: Any
) -> None:
    user = await factories.user()
    token = sign(claims(user.id, settings, sub=subject(user.id)), settings.secret_key)

    response = await gql.post(ME, headers={"authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_token_without_a_session_is_refused(gql: GraphQLClient, settings: Settings) -> None:
    user = await factories.user()
    payload = {k: v for k, v in claims(user.id, settings).items() if k != "sid"}

    response = await gql.post(
        ME, headers={"authorization": f"Bearer {sign(payload, settings.secret_key)}"}
    )

    assert response.status_code == 401

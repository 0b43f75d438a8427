"""Every top-level error a client can meet carries a code from one documented enum."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from pintuan.core.errors import ApiErrorCode
from tests.conftest import GraphQLClient
from tests.test_limits import costly_query, nested_query

JSON = {"content-type": "application/json"}
TWO_OPERATIONS = "query A { serverTime } query B { products(first: 1) { totalCount } }"
REVOKE = 'mutation { tokenRevoke(input: {refreshToken: "x"}) { userErrors { code } } }'

# Each: what is wrong, the request (method and httpx arguments), the code expected.
BAD_REQUESTS: list[tuple[str, str, dict[str, Any], ApiErrorCode]] = [
    ("syntax error", "POST", {"json": {"query": "{ products("}}, ApiErrorCode.GRAPHQL_PARSE_FAILED),
    (
        "unknown field",
        "POST",
        {"json": {"query": "{ nope }"}},
        ApiErrorCode.GRAPHQL_VALIDATION_FAILED,
    ),
    (
        "wrong argument type",
        "POST",
        {"json": {"query": '{ products(first: "x") { totalCount } }'}},
        ApiErrorCode.GRAPHQL_VALIDATION_FAILED,
    ),
    (
        "variable of the wrong type",
        "POST",
        {
            "json": {
                "query": "query($n: Int) { products(first: $n) { totalCount } }",
                "variables": {"n": "x"},
            }
        },
        ApiErrorCode.INVALID_VARIABLES,
    ),
    (
        "missing required variable",
        "POST",
        {"json": {"query": "query($h: String!) { product(handle: $h) { id } }"}},
        ApiErrorCode.INVALID_VARIABLES,
    ),
    ("too deep", "POST", {"json": {"query": nested_query(13)}}, ApiErrorCode.QUERY_TOO_DEEP),
    (
        "too many aliases",
        "POST",
        {"json": {"query": "{ " + " ".join(f"a{i}: serverTime" for i in range(16)) + " }"}},
        ApiErrorCode.TOO_MANY_ALIASES,
    ),
    (
        "too many tokens",
        "POST",
        {"json": {"query": "{ " + " ".join(["serverTime"] * 2100) + " }"}},
        ApiErrorCode.TOO_MANY_TOKENS,
    ),
    ("too costly", "POST", {"json": {"query": costly_query()}}, ApiErrorCode.QUERY_TOO_COSTLY),
    (
        "several operations, no name",
        "POST",
        {"json": {"query": TWO_OPERATIONS}},
        ApiErrorCode.OPERATION_NAME_REQUIRED,
    ),
    (
        "unknown operation name",
        "POST",
        {"json": {"query": TWO_OPERATIONS, "operationName": "C"}},
        ApiErrorCode.UNKNOWN_OPERATION,
    ),
    (
        "body is not JSON",
        "POST",
        {"content": b"{not json", "headers": JSON},
        ApiErrorCode.BAD_REQUEST,
    ),
    (
        "variables are not an object",
        "POST",
        {"content": b'{"query": "{ serverTime }", "variables": []}', "headers": JSON},
        ApiErrorCode.BAD_REQUEST,
    ),
    (
        "unsupported content type",
        "POST",
        {"content": b"{ serverTime }", "headers": {"content-type": "text/plain"}},
        ApiErrorCode.BAD_REQUEST,
    ),
    ("no query", "POST", {"json": {}}, ApiErrorCode.MISSING_QUERY),
    ("mutation over GET", "GET", {"params": {"query": REVOKE}}, ApiErrorCode.OPERATION_NOT_ALLOWED),
    (
        "unsupported method",
        "PUT",
        {"json": {"query": "{ serverTime }"}},
        ApiErrorCode.METHOD_NOT_ALLOWED,
    ),
    (
        "bad bearer token",
        "POST",
        {"json": {"query": "{ serverTime }"}, "headers": {"authorization": "Bearer x"}},
        ApiErrorCode.UNAUTHENTICATED,
    ),
]


@pytest.mark.parametrize(
    ("method", "request_args", "code"),
    [pytest.param(method, args, code, id=what) for what, method, args, code in BAD_REQUESTS],
)
async def test_every_refusal_carries_a_code_from_the_enum(
    http: httpx.AsyncClient, method: str, request_args: dict[str, Any], code: ApiErrorCode
) -> None:
    response = await http.request(method, "/graphql", **request_args)

    assert response.headers["content-type"] == "application/json"
    errors = response.json()["errors"]
    assert errors
    assert [error["extensions"]["code"] for error in errors] == [code] * len(errors)
    assert response.json().get("data") is None


def broken_clock() -> datetime:
    raise RuntimeError("the clock broke (internal detail)")


async def test_unexpected_errors_are_masked_with_a_code(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pintuan.graphql.system.now_utc", broken_clock)
    for debug in (False, True):
        async with make_app(debug=debug) as app:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.post("/graphql", json={"query": "{ serverTime }"})
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == ApiErrorCode.INTERNAL_SERVER_ERROR
        assert ("internal detail" in error["message"]) is debug


async def test_several_operations_without_a_name_run_none_of_them(
    http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    posted = await gql(TWO_OPERATIONS)
    got = (await http.get("/graphql", params={"query": TWO_OPERATIONS})).json()
    named = await gql.http.post("/graphql", json={"query": TWO_OPERATIONS, "operationName": "B"})

    for body in (posted, got):
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["OPERATION_NAME_REQUIRED"]
    assert named.json() == {
        "data": {"products": {"totalCount": 0}},
        "extensions": named.json()["extensions"],
    }

"""Fixtures: a migrated database per run, a fresh app and client per test.

The backend comes from the environment: with PINTUAN_TEST_DATABASE_URL and
PINTUAN_TEST_REDIS_URL set the suite runs on PostgreSQL and real Redis,
otherwise on a SQLite file and the in-process live layer.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette
from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate

from pintuan.app import create_app
from pintuan.core.db import tortoise_config
from pintuan.groupbuys.invariants import assert_books_balance
from pintuan.settings import Settings

PG_URL = os.environ.get("PINTUAN_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("PINTUAN_TEST_REDIS_URL")
TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-for-hs256"


def pytest_report_header() -> str:
    if PG_URL:
        return f"pintuan backend: PostgreSQL {PG_URL} + Redis {REDIS_URL}"
    return "pintuan backend: embedded (SQLite + in-process live layer)"


async def _recreate_postgres(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/").split("?")[0]
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres", query=""))
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    try:
        await migrate(config=tortoise_config(url))
    finally:
        await Tortoise.close_connections()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database brought to the current schema by the checked-in migrations."""
    if PG_URL:
        asyncio.run(_recreate_postgres(PG_URL))
        url = PG_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'pintuan.db'}"
    asyncio.run(_migrate(url))
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=REDIS_URL,
        debug=True,
        secret_key=TEST_SECRET_KEY,
        run_scheduler=False,
        run_outbox_consumer=False,
        # tests write many posts and comments as one user; tests of the limits set them low
        post_rate_limit=10_000,
        comment_rate_limit=10_000,
    )


async def empty_tables() -> None:
    assert Tortoise.apps is not None
    tables = [model._meta.db_table for model in Tortoise.apps["pintuan"].values()]
    conn = connections.get("default")
    quoted = ", ".join(f'"{t}"' for t in tables)
    if PG_URL:
        await conn.execute_script(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
    else:
        statements = [f'DELETE FROM "{t}";' for t in tables]
        await conn.execute_script(
            "PRAGMA foreign_keys = OFF;"
            + "".join(statements)
            + "DELETE FROM sqlite_sequence; PRAGMA foreign_keys = ON;"
        )


async def _started(app: Starlette) -> AsyncIterator[Starlette]:
    async with app.router.lifespan_context(app):
        await empty_tables()
        redis: Redis = app.state.runtime.redis
        await redis.flushdb()
        yield app


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    async for started in _started(create_app(settings)):
        yield started


SERIAL_SQLITE = (
    "SQLite serialises every transaction behind one lock, so requests never interleave "
    "and a read-check-write would pass here too: this test proves something only where "
    "transactions run at the same time (PostgreSQL)"
)


@pytest.fixture
async def needs_concurrency(app: Starlette) -> AsyncIterator[None]:
    """For tests that fire requests at once to prove nothing overfills, oversells or is
    refunded twice: run them only where they can fail, then audit the books."""
    if not PG_URL:
        pytest.skip(SERIAL_SQLITE)
    yield
    await assert_books_balance()


@pytest.fixture
def make_app(settings: Settings) -> Any:
    """Build an app with other settings; use as ``async with make_app(debug=False) as app``."""

    @asynccontextmanager
    async def factory(**changes: Any) -> AsyncIterator[Starlette]:
        async for started in _started(create_app(replace(settings, **changes))):
            yield started

    return factory


class GraphQLClient:
    """Posts GraphQL the way a frontend does and returns the decoded response."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = await self.post(query, variables, headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)


class QueryCounter(logging.Handler):
    """Counts SQL statements Tortoise sends, from its own debug log."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            self.statements.append(message)


@pytest.fixture
def sql_statements() -> Iterator[list[str]]:
    logger = logging.getLogger("tortoise.db_client")
    counter = QueryCounter()
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    try:
        yield counter.statements
    finally:
        logger.removeHandler(counter)
        logger.setLevel(previous)


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent

"""The pintuan command bootstraps accounts and prints the schema."""

from __future__ import annotations

import asyncio

import pytest
from tortoise import Tortoise

from pintuan.accounts.models import MerchantStaff, User
from pintuan.cli import main
from pintuan.core.db import tortoise_config
from pintuan.schema import export_sdl
from tests.conftest import TEST_SECRET_KEY, empty_tables


async def _emptied(database_url: str) -> None:
    await Tortoise.init(config=tortoise_config(database_url))
    try:
        await empty_tables()
    finally:
        await Tortoise.close_connections()


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    asyncio.run(_emptied(database_url))
    monkeypatch.setenv("PINTUAN_DATABASE_URL", database_url)
    monkeypatch.setenv("PINTUAN_SECRET_KEY", TEST_SECRET_KEY)


def run(*argv: str) -> int:
    return main(list(argv))


async def roles_of(database_url: str) -> tuple[bool, bool]:
    await Tortoise.init(config=tortoise_config(database_url))
    try:
        boss = await User.get(email="boss@example.com")
        clerk = await User.get(email="clerk@example.com")
        staff = await MerchantStaff.exists(user=clerk, merchant__handle="yunnan-tea")
        return boss.is_admin, staff
    finally:
        await Tortoise.close_connections()


def test_user_create_with_roles(
    cli_env: None, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("seed", "--demo") == 0
    assert (
        run("user", "create", "Boss@Example.com", "--password", "long enough", "--role", "admin")
        == 0
    )
    assert (
        run(
            "user",
            "create",
            "clerk@example.com",
            "--password",
            "long enough",
            "--role",
            "merchant",
            "--merchant",
            "yunnan-tea",
        )
        == 0
    )
    with pytest.raises(SystemExit, match="already registered"):
        run("user", "create", "boss@example.com", "--password", "long enough")
    with pytest.raises(SystemExit, match="no merchant"):
        run(
            "user",
            "create",
            "x@example.com",
            "--password",
            "long enough",
            "--role",
            "merchant",
            "--merchant",
            "nope",
        )
    assert (
        run("user", "create", "y@example.com", "--password", "long enough", "--role", "merchant")
        == 2
    )

    assert asyncio.run(roles_of(database_url)) == (True, True)
    assert "Created admin boss@example.com" in capsys.readouterr().out


def test_export_schema_prints_the_sdl(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export-schema"]) == 0
    assert capsys.readouterr().out == export_sdl()


def test_several_workers_need_postgres_and_redis(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PINTUAN_DATABASE_URL", raising=False)
    monkeypatch.delenv("PINTUAN_REDIS_URL", raising=False)
    assert main(["serve", "--workers", "2"]) == 2
    assert "several workers need" in capsys.readouterr().err


def test_referrals_backfill_gives_nodes_once_and_can_run_again(
    cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("seed", "--demo") == 0
    capsys.readouterr()

    assert run("referrals-backfill") == 0
    first = capsys.readouterr().out
    assert run("referrals-backfill") == 0
    second = capsys.readouterr().out

    assert first.startswith("Created ") and not first.startswith("Created 0 ")
    assert second.startswith("Created 0 referral tree node(s); recounted ")
    assert first.split("; ")[1] == second.split("; ")[1]  # the same counters

"""Settings come from PINTUAN_* variables, with embedded defaults."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from pintuan.app import create_app
from pintuan.settings import DEFAULT_DATABASE_URL, Settings, SettingsError


@pytest.fixture(autouse=True)
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A debug app without a key writes one beside its database: not in the checkout."""
    monkeypatch.chdir(tmp_path)


def test_nothing_set_means_embedded_debug_with_graphiql() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.redis_url is None
    assert settings.debug is True
    assert settings.graphiql_enabled is True
    assert settings.is_postgres is False


def test_production_values_are_read_and_typed() -> None:
    settings = Settings.from_env(
        {
            "PINTUAN_DATABASE_URL": "postgres://db:5432/pintuan",
            "PINTUAN_REDIS_URL": "redis://cache:6379/0",
            "PINTUAN_DEBUG": "false",
            "PINTUAN_MAX_QUERY_DEPTH": "8",
            "PINTUAN_ALLOWED_ORIGINS": "https://a.example, https://b.example",
        }
    )
    assert settings.is_postgres
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.debug is False
    assert settings.graphiql_enabled is False
    assert settings.max_query_depth == 8
    assert settings.allowed_origins_list == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize(
    ("name", "value"),
    [("PINTUAN_DEBUG", "maybe"), ("PINTUAN_MAX_PAGE_SIZE", "lots"), ("PINTUAN_MAX_TOKENS", "0")],
)
def test_unusable_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_an_unusable_allowed_origin_stops_the_app_from_starting() -> None:
    with pytest.raises(SettingsError, match="PINTUAN_ALLOWED_ORIGINS"):
        create_app(Settings(allowed_origins="https://ok.example, not-an-origin"))


def test_every_setting_has_a_row_in_the_readmes_configuration_table(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1] for line in readme.splitlines() if line.startswith("| `PINTUAN_")}
    documented = " ".join(rows)

    missing = [f.name for f in fields(Settings) if f"`PINTUAN_{f.name.upper()}`" not in documented]

    assert missing == []

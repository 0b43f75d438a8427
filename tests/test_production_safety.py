"""Outside debug mode the server refuses to start with laptop-only settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from pintuan.app import create_app
from pintuan.settings import Settings, SettingsError

STRONG = "a-production-secret-key-with-plenty-of-entropy-0123456789"


def test_a_missing_secret_key_is_refused_outside_debug() -> None:
    with pytest.raises(SettingsError, match="PINTUAN_SECRET_KEY must be set"):
        create_app(Settings(debug=False))


def test_short_secret_key_is_refused_outside_debug() -> None:
    with pytest.raises(SettingsError, match="at least 32 bytes"):
        create_app(Settings(debug=False, secret_key="short"))


def test_the_webhook_gateway_needs_its_own_secret_outside_debug() -> None:
    with pytest.raises(SettingsError, match="PINTUAN_WEBHOOK_SECRET"):
        create_app(Settings(debug=False, secret_key=STRONG, payment_gateway="webhook"))
    create_app(
        Settings(debug=False, secret_key=STRONG, payment_gateway="webhook", webhook_secret=STRONG)
    )


def test_graphiql_outside_debug_needs_explicit_consent() -> None:
    with pytest.raises(SettingsError, match="GraphiQL"):
        create_app(Settings(debug=False, secret_key=STRONG, graphiql=True))
    create_app(
        Settings(debug=False, secret_key=STRONG, graphiql=True, allow_graphiql_in_production=True)
    )


def test_debug_mode_starts_without_a_configured_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    create_app(Settings(debug=True))

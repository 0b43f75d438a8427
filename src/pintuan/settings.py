"""One typed settings object, read from ``PINTUAN_*`` environment variables.

With nothing set the server runs embedded: a SQLite file in the working
directory, an in-process live layer, debug mode and GraphiQL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from pintuan.core.money import is_supported_currency

DEFAULT_DATABASE_URL = "sqlite://pintuan.db"
CHOICES = {
    "referral_bind_mode": {"REGISTER_ONLY", "FIRST_SHARE_IF_UNBOUND"},
    "attribution_rule": {"FIRST_TOUCH", "LAST_TOUCH"},
}
MIN_SECRET_KEY_BYTES = 32


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


class SettingsError(ValueError):
    """A PINTUAN_* variable holds a value that cannot be used."""


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"expected a boolean, got {raw!r}")


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    debug: bool = True
    graphiql: bool | None = None
    log_level: str = "INFO"
    max_query_depth: int = 12
    max_aliases: int = 15
    max_tokens: int = 2000
    max_query_cost: int = 10_000
    max_page_size: int = 100
    default_page_size: int = 20
    max_body_bytes: int = 1024 * 1024
    allowed_origins: str = ""
    allow_graphiql_in_production: bool = False
    # Empty: a debug server generates its own (``auth.keyfile``); no secret is in the source.
    secret_key: str = ""
    jwt_issuer: str = "pintuan"
    jwt_audience: str = "pintuan-api"
    access_token_seconds: int = 15 * 60
    refresh_token_seconds: int = 30 * 24 * 3600
    session_check_seconds: int = 5
    rate_limit_key_per_minute: int = 600
    rate_limit_ip_per_minute: int = 300
    rate_limit_auth_per_minute: int = 10
    signin_free_failures: int = 5
    signin_ip_free_failures: int = 50
    signin_max_lockout_seconds: int = 15 * 60
    payment_gateway: str = "instant"
    payment_window_seconds: int = 10 * 60
    # Empty: POST /webhooks/payments answers 503 and changes nothing.
    webhook_secret: str = ""
    run_scheduler: bool = True
    sweep_interval_seconds: int = 5
    response_cache: bool = True
    response_cache_max_bytes: int = 64 * 1024 * 1024
    run_outbox_consumer: bool = True
    outbox_poll_milliseconds: int = 200
    # Outbox deliveries at once per consuming process, on PostgreSQL (SQLite: one).
    outbox_consumers: int = 4
    # Delivered outbox events (and their receipts) are deleted this long after delivery.
    outbox_retention_seconds: int = 7 * 24 * 3600
    # How long a completed order's commissions stay PENDING (the return window).
    commission_freeze_seconds: int = 7 * 24 * 3600
    # Balances and withdrawals are in this currency unless a request names another.
    commission_currency: str = "CNY"
    # The smallest withdrawal, in minor units of its currency.
    withdrawal_minimum: int = 1000
    referral_bind_mode: str = "REGISTER_ONLY"
    attribution_rule: str = "FIRST_TOUCH"
    attribution_window_days: int = 30
    share_url_base: str = "http://localhost:8000/s/"
    # Serve GET /embed/demo outside debug mode too (it is always served in debug mode).
    embed_demo: bool = False
    # Per user, across every community and process: Lemmy's default is 6 posts per 10 minutes.
    post_rate_limit: int = 6
    post_rate_window_seconds: int = 600
    comment_rate_limit: int = 30
    comment_rate_window_seconds: int = 600

    def __post_init__(self) -> None:
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise SettingsError(
                    f"PINTUAN_{name.upper()} must be one of {', '.join(sorted(allowed))}"
                )
        if not is_supported_currency(self.commission_currency):
            raise SettingsError(
                f"PINTUAN_COMMISSION_CURRENCY: unknown currency {self.commission_currency!r}"
            )

    @property
    def allowed_origins_list(self) -> list[str]:
        """Browser origins allowed to open WebSockets (comma-separated)."""
        return [o.strip() for o in self.allowed_origins.split(",") if o.strip()]

    @property
    def graphiql_enabled(self) -> bool:
        """GraphiQL follows debug mode unless set explicitly."""
        return self.debug if self.graphiql is None else self.graphiql

    def check_production_safety(self) -> None:
        """Outside debug mode, refuse settings that are only fit for a laptop."""
        if self.debug:
            return
        if not self.secret_key:
            raise SettingsError("PINTUAN_SECRET_KEY must be set outside debug mode")
        if len(self.secret_key.encode()) < MIN_SECRET_KEY_BYTES:
            raise SettingsError(f"PINTUAN_SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes")
        if self.payment_gateway == "webhook" and not self.webhook_secret:
            # Its orders could never be paid: the webhook refuses every event without a secret.
            raise SettingsError("PINTUAN_WEBHOOK_SECRET must be set for the webhook gateway")
        if self.graphiql_enabled and not self.allow_graphiql_in_production:
            raise SettingsError(
                "GraphiQL is on outside debug mode; set PINTUAN_ALLOW_GRAPHIQL_IN_PRODUCTION=true "
                "if that is intended"
            )

    @property
    def is_postgres(self) -> bool:
        return is_postgres_url(self.database_url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = env.get(f"PINTUAN_{field.name.upper()}")
            if raw is None or raw == "":
                continue
            try:
                values[field.name] = _convert(field.name, str(field.type), raw)
            except ValueError as exc:
                raise SettingsError(f"PINTUAN_{field.name.upper()}: {exc}") from exc
        return cls(**values)


def _convert(name: str, type_name: str, raw: str) -> Any:
    if "bool" in type_name:
        return _parse_bool(raw)
    if type_name == "int":
        number = int(raw)
        if number <= 0:
            raise SettingsError(f"expected a positive integer, got {raw!r}")
        return number
    return raw

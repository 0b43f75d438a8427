"""Tortoise ORM configuration: one app holding every domain's models."""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.config_generator import expand_db_url

from pintuan.settings import Settings, is_postgres_url

MODEL_MODULES = [
    "pintuan.core.outbox",
    "pintuan.catalog.models",
    "pintuan.accounts.models",
    "pintuan.groupbuys.models",
    "pintuan.groupbuys.order_models",
    "pintuan.referrals.ledger_models",
    "pintuan.referrals.models",
    "pintuan.referrals.plan_models",
    "pintuan.communities.models",
    "pintuan.embed.models",
    "pintuan.communities.social_models",
]


async def _keep_session(connection: object) -> None:
    """Nothing to reset when a PostgreSQL connection goes back to the pool.

    asyncpg's default sends four statements on every release (unlock advisory
    locks, close cursors, unlisten, reset settings), and Tortoise releases after
    every statement run outside a transaction. Pintuan uses none of those, and
    asyncpg still rolls back any transaction left open before this is called.
    """


def tortoise_config(database_url: str) -> dict[str, Any]:
    connection: str | dict[str, Any] = database_url
    if is_postgres_url(database_url):
        connection = expand_db_url(database_url)
        connection["credentials"]["reset"] = _keep_session
    return {
        "connections": {"default": connection},
        "apps": {
            "pintuan": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "pintuan.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


TORTOISE_ORM = tortoise_config(Settings.from_env().database_url)

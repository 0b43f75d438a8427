"""Tortoise ORM configuration: one app holding every domain's models."""

from __future__ import annotations

from typing import Any

from pintuan.settings import Settings

MODEL_MODULES = [
    "pintuan.models.catalog",
    "pintuan.models.accounts",
    "pintuan.models.groupbuys",
    "pintuan.models.orders",
]


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": database_url},
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

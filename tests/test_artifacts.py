"""Checked-in artifacts stay in step with the code that generates them."""

from __future__ import annotations

import runpy
from pathlib import Path

from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector

from pintuan.core.db import tortoise_config
from pintuan.schema import export_sdl


def test_schema_graphql_is_current(repo_root: Path) -> None:
    checked_in = (repo_root / "schema.graphql").read_text(encoding="utf-8")
    assert checked_in == export_sdl(), (
        "schema.graphql is stale: run `pintuan export-schema --output schema.graphql` "
        "and commit the result."
    )


async def test_models_need_no_new_migration() -> None:
    config = tortoise_config("sqlite://:memory:")
    apps = config["apps"]
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        assert ctx.apps is not None
        pending = await MigrationAutodetector(ctx.apps, apps).changes()
    assert not pending, (
        "models changed without a migration: run `tortoise makemigrations` and commit "
        "the new file under src/pintuan/migrations/."
    )


def test_the_schema_gate_stops_an_undecided_break_and_lets_a_decided_one_pass(
    repo_root: Path,
) -> None:
    gate = runpy.run_path(str(repo_root / "scripts" / "schema_gate.py"))
    before = "type Query { products: Int, merchants: Int }"
    after = "type Query { products: Int }"
    chain = [("old", before), ("new", after)]

    assert gate["undecided_changes"](chain, set()) == [
        "new: FIELD_REMOVED: Field Query.merchants was removed."
    ]
    assert gate["undecided_changes"](chain, {"Field Query.merchants was removed."}) == []
    assert gate["undecided_changes"]([("old", after), ("new", before)], set()) == []

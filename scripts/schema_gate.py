"""Fail when the public schema changed incompatibly without a recorded decision.

Every version of schema.graphql committed since the decisions file was added,
and the schema the code exports now, is compared with the one before it by
graphql-core's ``find_breaking_changes``. Each breaking change must be listed,
with its reason, in docs/schema-decisions.toml; anything else stops CI. Walking
every version, not only the last commit's, catches a break that landed in one
commit of a series and stayed.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import tomllib
from pathlib import Path

from graphql import build_schema
from graphql.utilities import find_breaking_changes, find_dangerous_changes

from pintuan.schema import export_sdl

ROOT = Path(__file__).resolve().parent.parent
DECISIONS = "docs/schema-decisions.toml"
SDL = "schema.graphql"


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


def decided() -> set[str]:
    with open(ROOT / DECISIONS, "rb") as f:
        entries = tomllib.load(f).get("change", [])
    for entry in entries:
        if not entry.get("reason", "").strip():
            sys.exit(f"{DECISIONS}: the change {entry.get('description')!r} gives no reason")
    return {entry["description"] for entry in entries}


def versions() -> list[tuple[str, str]]:
    """(label, SDL) from the version the gate started at to what the code exports now."""
    start = git("log", "--diff-filter=A", "--format=%H", "--", DECISIONS).split()[-1]
    later = git(
        "log", "--first-parent", "--reverse", "--format=%H", f"{start}..HEAD", "--", SDL
    ).split()
    found = [(commit[:10], git("show", f"{commit}:{SDL}")) for commit in [start, *later]]
    return [*found, ("the exported schema", export_sdl())]


def undecided_changes(chain: list[tuple[str, str]], allowed: set[str]) -> list[str]:
    """Breaking changes between consecutive versions that no decision allows."""
    found: list[str] = []
    for (_, old), (label, new) in itertools.pairwise(chain):
        before, after = build_schema(old), build_schema(new)
        for change in find_breaking_changes(before, after):
            if change.description not in allowed:
                found.append(f"{label}: {change.type.name}: {change.description}")
        for change in find_dangerous_changes(before, after):
            print(f"note, {label}: {change.type.name}: {change.description}")
    return found


def main() -> int:
    chain = versions()
    undecided = undecided_changes(chain, decided())
    if undecided:
        print("Breaking schema changes without a decision in " + DECISIONS + ":")
        print("\n".join(f"- {line}" for line in undecided))
        return 1
    print(f"schema gate: no undecided breaking change across {len(chain) - 1} step(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

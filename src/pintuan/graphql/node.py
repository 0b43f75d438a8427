"""The Node interface and ``node``/``nodes`` lookups by global ID."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import strawberry

from pintuan.core.errors import ApiErrorCode
from pintuan.graphql.context import Info
from pintuan.graphql.errors import ApiError
from pintuan.graphql.ids import NodeType, from_global_id

NodeFetcher = Callable[[Info, int], Awaitable["Node | None"]]
_FETCHERS: dict[str, NodeFetcher] = {}


@strawberry.interface(description="An object with a global ID.")
class Node:
    id: strawberry.ID


def register_node(type_name: NodeType, fetch: NodeFetcher) -> None:
    _FETCHERS[type_name] = fetch


def _target(global_id: str, field: str) -> tuple[NodeFetcher, int]:
    type_name, pk = from_global_id(global_id, field)
    fetch = _FETCHERS.get(type_name)
    if fetch is None:
        raise ApiError(
            ApiErrorCode.INVALID_ID, f"{global_id[:40]!r} is not the ID of a known object.", field
        )
    return fetch, pk


MAX_NODES = 100


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Fetch any object by its global ID; null if it does not exist.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        fetch, pk = _target(id, "id")
        return await fetch(info, pk)

    @strawberry.field(description="Fetch up to 100 objects by global ID, in the order given.")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise ApiError(
                ApiErrorCode.TOO_MANY_IDS, f"At most {MAX_NODES} IDs per request.", "ids"
            )
        targets = [_target(gid, f"ids.{i}") for i, gid in enumerate(ids)]
        return list(await asyncio.gather(*(fetch(info, pk) for fetch, pk in targets)))

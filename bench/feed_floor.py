"""The library's floor for feeds: a bare Strawberry schema answering bench.feeds' documents.

It serves ``{ me { id } }``, ``homeFeed(first: 20)`` and ``community(handle).feed(first:
20)`` with the fields bench.feeds asks for, through the same HTTP stack as the real
server (uvicorn, Starlette, Strawberry's ASGI view with its parser and validation
caches, orjson). Each page is read by one statement: the real server's own merge for
the home feed, joined to authors and shared groups, so it does less SQL than the
real server (four statements), and none of ours: no token check, no privacy rules,
no loaders, no cache hints, no extensions. Its p99 against the real server's
``me { id }`` is the least any Strawberry server answering these pages can show here.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from starlette.applications import Starlette
from strawberry.types import Info

from bench import catalog, floor
from pintuan.communities.home_feed import END_OF_TIME, MAX_KEY, PULL

VIEWER = 1  # bench.feeds' viewer: the floor checks no token
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
COLUMNS = """p.id, p.text, p.created_at, p.reaction_count, p.comment_count, u.display_name,
  p.attachment_kind, g.status AS group_status, g.size - g.slots_taken AS slots_left"""
JOINS = """JOIN app_user u ON u.id = p.author_id
LEFT JOIN buy_group g ON p.attachment_kind = 'GROUP' AND g.id = p.attachment_id"""
HOME = (
    PULL + f"SELECT {COLUMNS} FROM community_post p JOIN page ON page.id = p.id {JOINS} "
    "ORDER BY p.created_at DESC, p.id DESC"
)
COMMUNITY = (
    f"SELECT {COLUMNS} FROM community_post p {JOINS} "
    "WHERE p.community_id = (SELECT id FROM community WHERE handle = $1) "
    "AND p.deleted_at IS NULL ORDER BY p.pinned DESC, p.created_at DESC, p.id DESC LIMIT $2"
)


def _global_id(kind: str, pk: int) -> strawberry.ID:
    return strawberry.ID(base64.b64encode(f"{kind}:{pk}".encode()).decode())


@strawberry.enum
class GroupStatus(Enum):
    OPEN = "OPEN"
    FILLED = "FILLED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


@strawberry.type
class Group:
    slots_left: int
    status: GroupStatus


@strawberry.type
class GroupShare:
    group: Group | None


@strawberry.type
class ProductCard:
    title: str


Attachment = Annotated[GroupShare | ProductCard, strawberry.union("Attachment")]


@strawberry.type
class Author:
    display_name: str


@strawberry.type
class Post:
    id: strawberry.ID
    text: str
    created_at: datetime
    reaction_count: int
    comment_count: int
    author: Author
    attachment: Attachment | None


@strawberry.type
class PostEdge:
    cursor: str
    node: Post


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class PostConnection:
    edges: list[PostEdge]
    page_info: PageInfo


@strawberry.type
class Viewer:
    id: strawberry.ID


def _post(row: Any) -> Post:
    attachment: GroupShare | None = None
    if row["attachment_kind"] == "GROUP":
        group = None
        if row["group_status"] is not None:
            group = Group(slots_left=row["slots_left"], status=GroupStatus(row["group_status"]))
        attachment = GroupShare(group=group)
    return Post(
        id=_global_id("Post", row["id"]),
        text=row["text"],
        created_at=row["created_at"],
        reaction_count=row["reaction_count"],
        comment_count=row["comment_count"],
        author=Author(display_name=row["display_name"]),
        attachment=attachment,
    )


def _connection(rows: list[Any], first: int) -> PostConnection:
    edges = [
        PostEdge(
            cursor=base64.b64encode(
                f"{row['created_at'].isoformat()}|{row['id']}".encode()
            ).decode(),
            node=_post(row),
        )
        for row in rows[:first]
    ]
    end = edges[-1].cursor if edges else None
    return PostConnection(
        edges=edges, page_info=PageInfo(has_next_page=len(rows) > first, end_cursor=end)
    )


def _store(info: Info) -> catalog.Store:
    store: catalog.Store = info.context["request"].app.state.store
    return store


@strawberry.type
class Community:
    handle: strawberry.Private[str]

    @strawberry.field
    async def feed(self, info: Info, first: int = 20) -> PostConnection:
        rows = await _store(info).rows(COMMUNITY, self.handle, first + 1)
        return _connection(rows, first)


@strawberry.type
class Query:
    @strawberry.field
    def me(self) -> Viewer:
        return Viewer(id=_global_id("User", VIEWER))

    @strawberry.field
    async def home_feed(self, info: Info, first: int = 20) -> PostConnection:
        now = datetime.now(UTC)
        rows = await _store(info).rows(HOME, VIEWER, now, END_OF_TIME, MAX_KEY, first + 1, EPOCH)
        return _connection(rows, first)

    @strawberry.field
    def community(self, handle: str) -> Community:
        return Community(handle=handle)


def floor_app() -> Starlette:
    """uvicorn factory; configured by the same PINTUAN_* variables as the real server."""
    return floor.served(Query)

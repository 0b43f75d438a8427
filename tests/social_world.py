"""A community with one member of each standing, for the conversation's tests.

Rows are written directly, as the seed would; what is under test is then done
through the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count

from pintuan.accounts.models import User
from pintuan.communities.models import (
    Community,
    CommunityKind,
    Member,
    MemberRole,
    MemberState,
    Post,
    Visibility,
)
from pintuan.core.clock import now_utc
from pintuan.graphql.ids import NodeType, to_global_id
from pintuan.settings import Settings
from tests import factories, feed_ops

_serial = count(1)
ROLES = ("anonymous", "outsider", "member", "moderator", "owner", "admin")


@dataclass
class Circle:
    """A community and a caller of each standing: headers by role."""

    community: Community
    post: Post
    users: dict[str, User]
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def community_id(self) -> str:
        return to_global_id(NodeType.COMMUNITY, self.community.id)

    @property
    def post_id(self) -> str:
        return to_global_id(NodeType.POST, self.post.id)

    def user_id(self, role: str) -> str:
        return to_global_id(NodeType.USER, self.users[role].id)


async def community(
    owner: User, *, private: bool = False, kind: CommunityKind = CommunityKind.INTEREST
) -> Community:
    n = next(_serial)
    now = now_utc()
    row = await Community.create(
        handle=f"circle-{n}",
        name=f"Circle {n}",
        owner=owner,
        kind=kind,
        visibility=Visibility.PRIVATE if private else Visibility.PUBLIC,
        member_count=1,
        created_at=now,
        updated_at=now,
    )
    await join(row, owner, MemberRole.OWNER)
    return row


async def join(
    where: Community,
    user: User,
    role: MemberRole = MemberRole.MEMBER,
    *,
    state: MemberState = MemberState.ACTIVE,
    term_ends_at: datetime | None = None,
) -> Member:
    member = await feed_ops.join(user, where, role=role, state=state, term_ends_at=term_ends_at)
    if state == MemberState.ACTIVE and role != MemberRole.OWNER:
        await Community.filter(id=where.id).update(member_count=where.member_count + 1)
        where.member_count += 1
    return member


async def post(where: Community, author: User, text: str = "Hello", minutes_ago: int = 0) -> Post:
    created = now_utc() - timedelta(minutes=minutes_ago)
    row = await Post.create(community=where, author=author, text=text, created_at=created)
    await Community.filter(id=where.id).update(post_count=where.post_count + 1)
    where.post_count += 1
    return row


async def circle(settings: Settings, *, private: bool = False) -> Circle:
    owner = await factories.user()
    users = {
        "outsider": await factories.user(),
        "member": await factories.user(),
        "moderator": await factories.user(),
        "owner": owner,
        "admin": await factories.user(admin=True),
    }
    where = await community(owner, private=private)
    await join(where, users["member"])
    await join(where, users["moderator"], MemberRole.MODERATOR)
    first = await post(where, users["member"])
    found = Circle(where, first, users)
    found.headers = {"anonymous": {}} | {
        role: factories.bearer(user, settings) for role, user in users.items()
    }
    return found

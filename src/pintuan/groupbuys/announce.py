"""Live publishing: a group's state as a change left it, sent to the live layer.

Called after the change commits. A live-layer failure never fails the change it
reports: the change is committed, and subscribers rebuild from the database.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from pintuan.core import cache_tags
from pintuan.core.ids import NodeType
from pintuan.groupbuys.models import Group
from pintuan.groupbuys.progress import GroupEvent, GroupState
from pintuan.groupbuys.runtime import Runtime

log = logging.getLogger("pintuan.announce")


def group_state(group: Group) -> GroupState:
    return GroupState(
        group_id=group.id,
        group_buy_id=group.group_buy_id,
        member_count=group.slots_taken,
        paid_count=group.paid_count,
        size=group.size,
        status=group.status.value,
        expires_at=group.expires_at,
        version=group.version,
    )


async def publish(runtime: Runtime, event: GroupEvent, state: GroupState) -> None:
    """Tell the live layer about a committed change, as the change left the group."""
    cache_tags.wrote(
        cache_tags.entity(NodeType.GROUP, state.group_id),
        cache_tags.entity(NodeType.GROUP_BUY, state.group_buy_id),
        cache_tags.listing(NodeType.GROUP),
    )
    try:
        await runtime.progress.changed(event, state)
    except (RedisError, OSError):
        log.warning("could not publish %s for group %s", event, state.group_id, exc_info=True)


async def announce(runtime: Runtime, event: GroupEvent, group_id: int) -> Group:
    """Publish a group's state as read after a committed change; returns the group read."""
    group = await Group.get(id=group_id)
    await publish(runtime, event, group_state(group))
    return group

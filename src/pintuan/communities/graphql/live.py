"""The process's community live layer, as resolvers reach it.

Made on first use over the group buys' event bus (one pub/sub connection per
process for every live feature), kept on the app for the process's lifetime.
"""

from __future__ import annotations

from pintuan.communities.live_feed import CommunityLive, FeedEventKind, admit
from pintuan.communities.models import Post
from pintuan.graphql.context import Info
from pintuan.groupbuys.graphql.runtime import runtime_of


def community_live(info: Info) -> CommunityLive:
    state = info.context.request.app.state
    progress = runtime_of(info).progress
    live: CommunityLive | None = getattr(state, "community_live", None)
    if live is None or live.bus is not progress.bus:
        live = state.community_live = CommunityLive(progress.bus, progress.namespace, admit)
    return live


async def announce_post(info: Info, post: Post) -> None:
    """Tell the community's live subscribers of a new post; call after its commit."""
    await community_live(info).publish(
        FeedEventKind.POST_CREATED, post.community_id, post.id, post.created_at, 0
    )


async def announce_reactions(info: Info, post: Post) -> None:
    """Tell them a post's reaction count changed (``post`` as read after the commit)."""
    await community_live(info).publish(
        FeedEventKind.REACTIONS_CHANGED,
        post.community_id,
        post.id,
        post.created_at,
        post.reaction_count,
    )

"""Reactions in the API, and the viewer's own state on each post, batched per page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import strawberry
from strawberry.dataloader import DataLoader

from pintuan.communities import reactions
from pintuan.communities.graphql.live import announce_reactions
from pintuan.communities.graphql.loaders import community_loaders
from pintuan.communities.graphql.refusals import actor, signed_in, social_mutation
from pintuan.communities.models import Post, ReactionKind
from pintuan.communities.standing import Standing
from pintuan.core.clock import now_utc
from pintuan.graphql.context import Info
from pintuan.graphql.ids import NodeType, decode_id
from pintuan.graphql.mutations import MutationPayload

strawberry.enum(ReactionKind, name="ReactionKind", description="One reaction per user per post.")


async def _kinds(keys: Sequence[tuple[int, int]]) -> list[ReactionKind | None]:
    found: dict[tuple[int, int], ReactionKind] = {}
    for user_id in {u for u, _ in keys}:
        kinds = await reactions.kinds_of(user_id, [p for u, p in keys if u == user_id])
        found.update({(user_id, post_id): kind for post_id, kind in kinds.items()})
    return [found.get(key) for key in keys]


@dataclass
class ViewerLoaders:
    """Keyed (viewer, post): one query per page, unless the feed filled it first."""

    reaction: DataLoader[tuple[int, int], ReactionKind | None] = field(
        default_factory=lambda: DataLoader(_kinds)
    )


def viewer_loaders(info: Info) -> ViewerLoaders:
    return info.context.loaders.of(ViewerLoaders)


async def viewer_reaction(info: Info, post: Post) -> ReactionKind | None:
    """The viewer's reaction to a post they see; null when anonymous or none."""
    user = info.context.viewer.user
    if user is None:
        return None
    return await viewer_loaders(info).reaction.load((user.id, post.id))


async def viewer_can_comment(info: Info, post: Post) -> bool:
    """Whether commentCreate and reactionSet would let the viewer through on this post."""
    who = actor(info)
    if who.user_id is None or post.deleted_at is not None:
        return False
    loaders = community_loaders(info)
    community = await loaders.community.load(post.community_id)
    if community is None:
        return False
    member = await loaders.membership.load((who.user_id, post.community_id))
    return Standing(community, member, who, now_utc()).may_take_part


@strawberry.type
class ReactionPayload(MutationPayload):
    reaction_count: int | None = strawberry.field(default=None, description="The post's, now.")
    viewer_reaction: ReactionKind | None = strawberry.field(
        default=None, description="Yours, now; null once removed."
    )
    post_id: strawberry.ID | None = None


@strawberry.type
class ReactionMutation:
    @social_mutation("React to a post of a community you are a member of; sets your one reaction.")
    async def reaction_set(
        self, info: Info, post_id: strawberry.ID, kind: ReactionKind
    ) -> ReactionPayload:
        who, _ = signed_in(info)
        post = await reactions.react(
            who, decode_id(post_id, NodeType.POST, "postId"), kind, now_utc()
        )
        await announce_reactions(info, post)
        return ReactionPayload(
            reaction_count=post.reaction_count, viewer_reaction=kind, post_id=post_id
        )

    @social_mutation("Take back your reaction to a post; none is no error.")
    async def reaction_remove(self, info: Info, post_id: strawberry.ID) -> ReactionPayload:
        who, _ = signed_in(info)
        post = await reactions.unreact(who, decode_id(post_id, NodeType.POST, "postId"), now_utc())
        await announce_reactions(info, post)
        return ReactionPayload(reaction_count=post.reaction_count, post_id=post_id)

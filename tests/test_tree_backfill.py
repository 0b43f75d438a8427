"""``pintuan referrals-backfill``: users from before the tree get their nodes, and every
team counter is recounted from users and orders, once whatever the runs and without
counting twice the sales whose events are still to be consumed."""

from __future__ import annotations

from starlette.applications import Starlette

from pintuan.accounts.models import User
from pintuan.core.outbox import OutboxEvent
from pintuan.graphql.ids import from_global_id
from pintuan.referrals import tree
from pintuan.referrals.models import ReferralNode
from pintuan.referrals.reactions import TEAM_SALES
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient
from tests.groupbuy_ops import buy
from tests.test_referral_tree import consume, summary, team, tree_of, upline


async def old_line() -> list[User]:
    """a <- b <- c <- d, made as the accounts were before the tree: no events, no nodes."""
    users = [await factories.user()]
    for _ in range(3):
        users.append(await factories.user(inviter=users[-1]))
    return users


async def bought(gql: GraphQLClient, buyer: User, settings: Settings, variant_id: int) -> int:
    payload = await buy(gql, factories.bearer(buyer, settings), variant_id)
    assert payload["userErrors"] == [], payload
    total: int = payload["order"]["total"]["amount"]
    return total


async def test_backfill_gives_old_users_nodes_and_counts_old_and_pending_sales_once(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    a, b, c, d = await old_line()
    offer = await factories.offer()
    before_outbox = await bought(gql, c, settings, offer.variant_id)
    await OutboxEvent.all().delete()  # that order was paid before the outbox existed
    pending = await bought(gql, c, settings, offer.variant_id)  # its event not yet consumed

    first = await tree.backfill(TEAM_SALES)
    await consume()
    again = await tree.backfill(TEAM_SALES)
    await consume()

    assert first.nodes_created >= 4  # the line, and whoever the shop needed
    assert again.nodes_created == 0
    assert again.counters == first.counters
    assert await ReferralNode.filter(user_id__in=[a.id, b.id, c.id, d.id]).count() == 4
    sales = before_outbox + pending
    assert summary(await tree_of(gql, a, settings)) == [(1, 0), (1, sales), (1, 0)]
    assert summary(await tree_of(gql, b, settings)) == [(1, sales), (1, 0), (0, 0)]
    me = await tree_of(gql, d, settings)
    assert [from_global_id(u)[1] for u in upline(me)] == [c.id, b.id, a.id]
    assert team(await tree_of(gql, a, settings, depth=1)) == [
        (1, (await tree_of(gql, b, settings))["id"])
    ]


async def test_backfill_recounts_counters_that_drifted_from_the_orders(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    a = await factories.user()
    b = await factories.user(inviter=a)
    offer = await factories.offer()
    total = await bought(gql, b, settings, offer.variant_id)
    await OutboxEvent.all().delete()  # paid before the outbox: never counted
    await tree.backfill(TEAM_SALES)
    await tree.count_sale(b.id, -3 * total)  # counters hurt by hand, or by an old bug

    await tree.backfill(TEAM_SALES)

    assert summary(await tree_of(gql, a, settings, depth=1)) == [(1, total)]

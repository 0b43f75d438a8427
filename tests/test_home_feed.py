"""The home feed: my communities and the people I follow, newest first or HOT, by keyset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from starlette.applications import Starlette

from pintuan.accounts.models import User
from pintuan.catalog.models import Variant
from pintuan.communities.models import (
    AttachmentKind,
    Community,
    CommunityKind,
    Member,
    MemberState,
    Post,
    Reaction,
    ReactionKind,
)
from pintuan.graphql.pagination import encode_cursor
from pintuan.groupbuys.models import Group, GroupStatus
from pintuan.settings import Settings
from tests import factories
from tests.conftest import GraphQLClient
from tests.feed_ops import T0, community, follow, join, paid_order, post

HOME = """query($first: Int, $after: String, $ranking: FeedRanking) {
  homeFeed(first: $first, after: $after, ranking: $ranking) {
    edges { cursor node { id text } } pageInfo { hasNextPage endCursor } } }"""


async def texts(
    gql: GraphQLClient, headers: dict[str, str], first: int = 50, ranking: str = "NEW"
) -> list[str]:
    body = await gql(HOME, {"first": first, "ranking": ranking}, headers)
    assert "errors" not in body, body
    return [edge["node"]["text"] for edge in body["data"]["homeFeed"]["edges"]]


async def walk(
    gql: GraphQLClient, headers: dict[str, str], first: int, ranking: str = "NEW"
) -> list[str]:
    """Every page after the previous one's end cursor, until there is no next page."""
    seen: list[str] = []
    after = None
    while True:
        body = await gql(HOME, {"first": first, "after": after, "ranking": ranking}, headers)
        assert "errors" not in body, body
        connection = body["data"]["homeFeed"]
        seen += [edge["node"]["text"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return seen
        after = connection["pageInfo"]["endCursor"]


async def test_home_feed_merges_my_communities_and_people_i_follow_newest_first(
    gql: GraphQLClient, settings: Settings
) -> None:
    me, friend, stranger = [await factories.user() for _ in range(3)]
    mine_private = await community("mine-private", private=True)
    mine_public = await community("mine-public")
    elsewhere = await community("elsewhere")
    hidden = await community("hidden", private=True)
    premium = await community("premium", kind=CommunityKind.PREMIUM)
    await join(me, mine_private)
    await join(me, mine_public)
    await follow(me, friend)
    await post(mine_private, stranger, "private, mine", 1)
    await post(elsewhere, friend, "friend in a public community", 2)
    await post(hidden, friend, "friend in a private community I am not in", 3)
    await post(premium, friend, "friend in a premium community", 4)
    await post(mine_public, friend, "friend in mine", 5)
    await post(elsewhere, stranger, "stranger elsewhere", 6)
    await post(mine_public, stranger, "deleted", 7, deleted_at=datetime.now(UTC))
    await post(mine_public, stranger, "public, mine", 8)

    headers = factories.bearer(me, settings)
    assert await texts(gql, headers) == [
        "public, mine",
        "friend in mine",
        "friend in a public community",
        "private, mine",
    ]


async def test_pages_walk_the_feed_once_by_cursor_in_both_orders(
    gql: GraphQLClient, settings: Settings
) -> None:
    me, friend = await factories.user(), await factories.user()
    place, other = await community("place"), await community("other")
    await join(me, place)
    await follow(me, friend)
    for n in range(7):
        await post(place, friend, f"in place {n}", n)
        await post(other, friend, f"followed {n}", n)  # the same minute: ids break the tie
    headers = factories.bearer(me, settings)

    newest = await texts(gql, headers)
    assert len(newest) == 14 and newest[:2] == ["followed 6", "in place 6"]
    for ranking in ("NEW", "HOT"):
        for first in (1, 3, 5):
            walked = await walk(gql, headers, first, ranking)
            assert sorted(walked) == sorted(newest), (ranking, first)
            assert len(walked) == len(set(walked))
    assert await walk(gql, headers, 4) == newest


async def test_a_member_removed_or_whose_term_ended_no_longer_sees_its_posts(
    gql: GraphQLClient, settings: Settings
) -> None:
    me, author = await factories.user(), await factories.user()
    kept = await community("kept", private=True)
    removed = await community("removed", private=True)
    lapsed = await community("lapsed", private=True)
    await join(me, kept)
    membership = await join(me, removed)
    await join(me, lapsed, term_ends_at=datetime.now(UTC) + timedelta(days=1))
    for n, place in enumerate((kept, removed, lapsed)):
        await post(place, author, place.handle, n)
    headers = factories.bearer(me, settings)
    assert await texts(gql, headers) == ["lapsed", "removed", "kept"]

    await Member.filter(id=membership.id).update(state=MemberState.REMOVED)
    await Member.filter(community_id=lapsed.id).update(
        term_ends_at=datetime.now(UTC) - timedelta(seconds=1)
    )

    assert await texts(gql, headers) == ["kept"]
    assert await texts(gql, headers, ranking="HOT") == ["kept"]


async def test_the_feed_survives_a_flushed_live_layer(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    me = await factories.user()
    place = await community("place")
    await join(me, place)
    for n in range(3):
        await post(place, me, f"post {n}", n)
    headers = factories.bearer(me, settings)
    before = await texts(gql, headers)

    redis: Redis = app.state.runtime.redis
    await redis.flushdb()

    assert await texts(gql, headers) == before == ["post 2", "post 1", "post 0"]


async def test_refusals_anonymous_bad_cursors_and_page_sizes(
    gql: GraphQLClient, settings: Settings
) -> None:
    me = await factories.user()
    headers = factories.bearer(me, settings)

    anonymous = await gql(HOME, {"first": 5})
    foreign = encode_cursor("PRODUCTS", [1])
    forged = encode_cursor("HOME_FEED", ["yesterday", "x"])
    hot_forged = encode_cursor("HOME_FEED_HOT", ["2026-01-01T00:00:00+00:00", -1.0, 3])
    new_cursor_on_hot = encode_cursor("HOME_FEED", ["2026-01-01T00:00:00+00:00", 3])

    def code(body: dict[str, Any]) -> str:
        return str(body["errors"][0]["extensions"]["code"])

    assert code(anonymous) == "UNAUTHENTICATED"
    for cursor, ranking in (
        (foreign, "NEW"),
        (forged, "NEW"),
        (hot_forged, "HOT"),
        (new_cursor_on_hot, "HOT"),
        ("not base64 at all!", "NEW"),
    ):
        body = await gql(HOME, {"first": 5, "after": cursor, "ranking": ranking}, headers)
        assert code(body) == "INVALID_CURSOR", (cursor, ranking)
    assert code(await gql(HOME, {"first": 51}, headers)) == "PAGE_SIZE_EXCEEDED"
    assert code(await gql(HOME, {"first": -1}, headers)) == "INVALID_PAGE_SIZE"
    assert (await gql(HOME, {"first": 50}, headers))["data"]["homeFeed"]["edges"] == []


async def group_share(
    place: Community, author: User, text: str, minutes: float, group: Group
) -> Post:
    return await post(
        place, author, text, minutes, attachment_kind=AttachmentKind.GROUP, attachment_id=group.id
    )


async def test_hot_ranks_a_group_about_to_fill_up_and_a_closed_one_down_once_per_group(
    gql: GraphQLClient, settings: Settings
) -> None:
    me, author = await factories.user(), await factories.user()
    place = await community("deals")
    await join(me, place)
    offer = await factories.offer(group_size=10)
    soon = datetime.now(UTC) + timedelta(minutes=15)
    nearly = await Group.create(
        group_buy=offer,
        leader=author,
        size=10,
        slots_taken=9,
        paid_count=9,
        share_code="NEARLY01",
        opened_at=T0,
        expires_at=soon,
    )
    filled = await Group.create(
        group_buy=offer,
        leader=author,
        size=10,
        slots_taken=10,
        paid_count=10,
        status=GroupStatus.FILLED,
        share_code="FILLED01",
        opened_at=T0,
        expires_at=soon,
    )
    await group_share(place, author, "nearly full, shared first", 60, nearly)
    await group_share(place, author, "filled", 170, filled)
    await post(place, author, "plain, fresh", 175)
    await group_share(place, me, "nearly full, shared again", 100, nearly)
    await post(place, author, "plain, older", 120)
    headers = factories.bearer(me, settings)

    hot = await texts(gql, headers, ranking="HOT")

    assert hot == ["nearly full, shared again", "plain, fresh", "plain, older", "filled"]
    assert len(await texts(gql, headers)) == 5  # newest first keeps every share


async def test_a_page_of_twenty_costs_the_same_few_statements_whatever_it_holds(
    gql: GraphQLClient, settings: Settings, sql_statements: list[str]
) -> None:
    query = """query($first: Int!, $ranking: FeedRanking) {
      homeFeed(first: $first, ranking: $ranking) { edges { node {
        id text createdAt reactionCount commentCount
        viewerHasReacted viewerReaction viewerCanComment
        author { displayName }
        attachment { __typename
          ... on GroupShare { ref group { slotsLeft status expiresAt } }
          ... on ProductCard { product { title } }
          ... on OrderShowcase { paidAt product { title } }
        } } } } }"""
    me = await factories.user()
    authors = [await factories.user() for _ in range(5)]
    places = [await community(f"place-{n}") for n in range(4)]
    for place in places:
        await join(me, place)
    shop = await factories.merchant()
    products = [await factories.product(shop) for _ in range(3)]
    offer = await factories.offer(shop, group_size=5)
    groups = [
        await Group.create(
            group_buy=offer,
            leader=authors[0],
            size=5,
            slots_taken=n + 1,
            share_code=f"SHARE{n:03d}",
            opened_at=T0,
            expires_at=datetime.now(UTC) + timedelta(hours=n + 1),
        )
        for n in range(3)
    ]
    variant = await Variant.get(product_id=products[0].id)
    orders = [await paid_order(author, variant) for author in authors]
    elsewhere = await community("elsewhere")  # not joined: seen through a follow
    await follow(me, authors[4])
    for n in range(40):
        place, author = (elsewhere if n % 5 == 4 else places[n % 4]), authors[n % 5]
        attached: dict[str, Any] = {}
        if n % 3 == 0:
            group = groups[(n // 3) % 3]
            attached = {"attachment_kind": AttachmentKind.GROUP, "attachment_id": group.id}
        elif n % 3 == 1:
            attached = {
                "attachment_kind": AttachmentKind.PRODUCT,
                "attachment_id": products[n % 3].id,
            }
        else:
            attached = {"attachment_kind": AttachmentKind.ORDER, "attachment_id": orders[n % 5].id}
        made = await post(place, author, f"post {n}", n, **attached)
        if n % 2 == 0 and place is not elsewhere:
            kind = ReactionKind.LIKE if n % 4 else ReactionKind.LOVE
            await Reaction.create(post=made, user=me, kind=kind, created_at=datetime.now(UTC))
    headers = factories.bearer(me, settings)

    counts = {}
    for first, ranking in ((20, "NEW"), (3, "NEW"), (20, "HOT")):
        sql_statements.clear()
        body = await gql(query, {"first": first, "ranking": ranking}, headers)
        assert "errors" not in body, body
        nodes = [edge["node"] for edge in body["data"]["homeFeed"]["edges"]]
        assert len(nodes) == first
        assert all(node["attachment"] is not None for node in nodes)
        assert {node["viewerCanComment"] for node in nodes} == {True, False}
        assert {node["viewerHasReacted"] for node in nodes} == {True, False}
        assert all(
            (node["viewerReaction"] is not None) == node["viewerHasReacted"] for node in nodes
        )
        counts[(first, ranking)] = len(sql_statements)

    assert counts[(20, "NEW")] <= 6, sql_statements
    assert counts[(3, "NEW")] <= counts[(20, "NEW")]
    assert counts[(20, "HOT")] <= 6, sql_statements

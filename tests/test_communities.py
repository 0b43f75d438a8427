"""Communities through the API: creating, joining under each policy, moderation,
posts with their attachments, pins, edits, deletes and the feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette

from pintuan.app import scheduler
from pintuan.communities.models import Community, Member, MemberState, Post, Reaction
from pintuan.graphql.ids import NodeType, from_global_id, to_global_id
from pintuan.groupbuys.order_models import Order, OrderStatus
from pintuan.referrals.models import OrderAttribution
from pintuan.settings import Settings
from tests import factories
from tests.community_ops import (
    APPROVE,
    BAN,
    CREATE,
    FEED,
    LEAVE,
    PIN,
    POST_DELETE,
    POST_UPDATE,
    REMOVE_INACTIVE,
    SET_TERM,
    UNPIN,
    UPDATE,
    call,
    codes,
    create,
    invite,
    join,
    member_id,
    post,
    signed_in,
)
from tests.conftest import GraphQLClient
from tests.groupbuy_ops import buy, purchase, start
from tests.test_share_links import consume

NOW = datetime.now(UTC)


def pk(global_id: str) -> int:
    return from_global_id(global_id)[1]


async def test_the_owner_is_the_first_member_and_handles_are_unique(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    _, owner = await signed_in(settings)
    made = await create(gql, owner, "deals", memberCap=100)
    assert made["memberCount"] == 1
    assert made["viewerMembership"]["role"] == "OWNER"
    again = await call(gql, CREATE, {"i": {"handle": "deals", "name": "X", "kind": "DEALS"}}, owner)
    assert codes(again) == ["HANDLE_TAKEN"]


async def test_bad_settings_are_coded_and_write_nothing(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    _, owner = await signed_in(settings)
    base: dict[str, Any] = {"handle": "c", "name": "C", "kind": "PREMIUM"}
    refusals: list[tuple[dict[str, Any], str, str]] = [
        ({"membership": "PAID_TERM"}, "termDays", "INVALID"),
        ({"membership": "WITH_PURCHASE"}, "admittingProductIds", "INVALID"),
        ({"memberCap": 0}, "memberCap", "INVALID"),
        ({"slowModeSeconds": 99_999}, "slowModeSeconds", "INVALID"),
        ({"name": "a\u202eb"}, "name", "INVALID"),
        ({"handle": "Not A Handle"}, "handle", "INVALID"),
        ({"entryReferralRank": "EMPEROR"}, "entryReferralRank", "INVALID"),
        (
            {"admittingProductIds": [to_global_id(NodeType.PRODUCT, 999)]},
            "admittingProductIds",
            "NOT_FOUND",
        ),
    ]
    for change, field, code in refusals:
        payload = await call(gql, CREATE, {"i": base | change}, owner)
        assert payload["userErrors"] == [{"field": field, "code": code}], change
    assert await Community.all().count() == 0


async def test_open_admits_approval_queues_and_the_cap_holds(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    _, owner = await signed_in(settings)
    opened = await create(gql, owner, "open", memberCap=2)
    queued = await create(gql, owner, "queued", joinPolicy="APPROVAL")
    first, first_h = await signed_in(settings)
    _, second_h = await signed_in(settings)

    assert (await join(gql, first_h, opened["id"]))["member"]["state"] == "ACTIVE"
    assert codes(await join(gql, first_h, opened["id"])) == ["ALREADY_MEMBER"]
    assert codes(await join(gql, second_h, opened["id"])) == ["COMMUNITY_FULL"]

    pending = await join(gql, first_h, queued["id"])
    assert pending["member"]["state"] == "PENDING"
    assert codes(await join(gql, first_h, queued["id"])) == ["ALREADY_PENDING"]
    queue = await gql(
        '{ community(handle: "queued") { memberCount pendingMembers { edges { node { id } } } } }',
        None,
        owner,
    )
    assert queue["data"]["community"]["pendingMembers"]["edges"] == [
        {"node": {"id": pending["member"]["id"]}}
    ]
    approved = await call(gql, APPROVE, {"m": pending["member"]["id"]}, owner)
    assert approved["member"]["state"] == "ACTIVE"
    assert (await Community.get(handle="queued")).member_count == 2
    assert await member_id(first, queued["id"]) == pending["member"]["id"]


async def test_invite_only_admits_holders_of_a_valid_invite(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    _, owner = await signed_in(settings)
    community = await create(gql, owner, "inner", joinPolicy="INVITE")
    _, guest = await signed_in(settings)
    _, late = await signed_in(settings)
    assert codes(await join(gql, guest, community["id"])) == ["INVITE_ONLY"]
    code = await invite(gql, owner, community["id"], maxUses=1)
    assert codes(await join(gql, guest, community["id"], "WRONG-CODE")) == ["INVALID_INVITE_CODE"]
    assert (await join(gql, guest, community["id"], code))["member"]["state"] == "ACTIVE"
    assert codes(await join(gql, late, community["id"], code)) == ["INVALID_INVITE_CODE"]


async def test_leaving_frees_a_seat_but_the_owner_cannot_leave(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    _, owner = await signed_in(settings)
    community = await create(gql, owner, "c")
    _, member = await signed_in(settings)
    await join(gql, member, community["id"])
    left = await call(gql, LEAVE, {"c": community["id"]}, member)
    assert left["member"]["state"] == "LEFT"
    assert codes(await call(gql, LEAVE, {"c": community["id"]}, member)) == ["NOT_FOUND"]
    assert codes(await call(gql, LEAVE, {"c": community["id"]}, owner)) == ["OWNER_CANNOT_LEAVE"]
    assert (await Community.get(id=pk(community["id"]))).member_count == 1
    assert (await join(gql, member, community["id"]))["member"]["state"] == "ACTIVE"


async def test_a_ban_holds_until_its_date(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    _, owner = await signed_in(settings)
    community = await create(gql, owner, "c")
    troll, troll_h = await signed_in(settings)
    await join(gql, troll_h, community["id"])
    until = (NOW + timedelta(days=7)).isoformat()
    ban = {"communityId": community["id"], "userId": to_global_id(NodeType.USER, troll.id)}
    banned = await call(gql, BAN, {"i": ban | {"until": until}}, owner)
    assert banned["member"]["state"] == "BANNED"
    assert (await Community.get(id=pk(community["id"]))).member_count == 1
    assert codes(await join(gql, troll_h, community["id"])) == ["BANNED"]
    assert codes(await post(gql, troll_h, community["id"])) == ["BANNED"]
    past = (NOW - timedelta(days=1)).isoformat()
    assert codes(await call(gql, BAN, {"i": ban | {"until": past}}, owner)) == ["INVALID"]

    await Member.filter(user_id=troll.id).update(banned_until=NOW - timedelta(seconds=1))
    assert (await join(gql, troll_h, community["id"]))["member"]["state"] == "ACTIVE"


async def test_the_owner_removes_members_inactive_for_n_days(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    _, owner = await signed_in(settings)
    community = await create(gql, owner, "c")
    idle, idle_h = await signed_in(settings)
    _, busy_h = await signed_in(settings)
    for headers in (idle_h, busy_h):
        await join(gql, headers, community["id"])
    await Member.filter(user_id=idle.id).update(last_active_at=NOW - timedelta(days=40))
    await Member.filter(role="OWNER").update(last_active_at=NOW - timedelta(days=400))

    removed = await call(gql, REMOVE_INACTIVE, {"c": community["id"], "d": 30}, owner)
    assert (removed["removedCount"], removed["community"]["memberCount"]) == (1, 2)
    assert (await Member.get(user_id=idle.id)).state == MemberState.REMOVED
    bad = await call(gql, REMOVE_INACTIVE, {"c": community["id"], "d": 0}, owner)
    assert codes(bad) == ["INVALID"]


async def test_a_paid_term_ends_on_its_date_and_access_with_it(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    _, owner = await signed_in(settings)
    community = await create(
        gql, owner, "pro", kind="PREMIUM", membership="PAID_TERM", termDays=365, memberCap=2
    )
    payer, payer_h = await signed_in(settings)
    code = await invite(gql, owner, community["id"])
    joined = await join(gql, payer_h, community["id"], code)
    ends = datetime.fromisoformat(joined["member"]["termEndsAt"])
    assert timedelta(days=364) < ends - NOW < timedelta(days=366)
    node = "query($id: ID!) { node(id: $id) { id } }"
    assert (await gql(node, {"id": community["id"]}, payer_h))["data"]["node"] is not None

    ended = (NOW - timedelta(seconds=1)).isoformat()
    await call(gql, SET_TERM, {"m": joined["member"]["id"], "e": ended}, owner)
    assert (await gql(node, {"id": community["id"]}, payer_h))["data"]["node"] is None
    assert codes(await post(gql, payer_h, community["id"])) == ["NOT_FOUND"]
    # Its seat is free for the next one admitted.
    _, next_h = await signed_in(settings)
    assert (await join(gql, next_h, community["id"], code))["member"]["state"] == "ACTIVE"
    assert (await Member.get(user_id=payer.id)).state == MemberState.EXPIRED
    assert (await Community.get(id=pk(community["id"]))).member_count == 2


async def test_the_scheduled_sweep_expires_ended_terms_and_frees_their_seats(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    _, owner = await signed_in(settings)
    community = await create(
        gql, owner, "pro", kind="PREMIUM", membership="PAID_TERM", termDays=30, memberCap=3
    )
    code = await invite(gql, owner, community["id"])
    joined = []
    for _ in range(2):
        user, headers = await signed_in(settings)
        joined.append((user, (await join(gql, headers, community["id"], code))["member"]))
    ended = (NOW - timedelta(seconds=1)).isoformat()
    await call(gql, SET_TERM, {"m": joined[0][1]["id"], "e": ended}, owner)
    count = 'query { community(handle: "pro") { memberCount } }'
    assert (await gql(count, {}, owner))["data"]["community"]["memberCount"] == 3

    assert await scheduler(app.state.runtime, settings).sweep() == 1
    assert (await gql(count, {}, owner))["data"]["community"]["memberCount"] == 2
    assert (await Member.get(user_id=joined[0][0].id)).state == MemberState.EXPIRED
    assert (await Member.get(user_id=joined[1][0].id)).state == MemberState.ACTIVE
    assert await scheduler(app.state.runtime, settings).sweep() == 0  # nothing left to do


async def test_with_purchase_admits_buyers_of_its_products_and_thresholds_hold(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    _, owner = await signed_in(settings)
    offer = await factories.offer()
    product = to_global_id(NodeType.PRODUCT, offer.product_id)
    buyers = await create(
        gql, owner, "buyers", membership="WITH_PURCHASE", admittingProductIds=[product]
    )
    regulars = await create(gql, owner, "regulars", entryMinPaidOrders=1)
    _, shopper = await signed_in(settings)
    assert codes(await join(gql, shopper, buyers["id"])) == ["NOT_ELIGIBLE"]
    assert codes(await join(gql, shopper, regulars["id"])) == ["NOT_ELIGIBLE"]
    bought = await buy(gql, shopper, offer.variant_id)
    assert bought["order"]["status"] == "PAID"
    assert (await join(gql, shopper, buyers["id"]))["member"]["state"] == "ACTIVE"
    assert (await join(gql, shopper, regulars["id"]))["member"]["state"] == "ACTIVE"


async def test_an_owner_changes_settings(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    _, owner = await signed_in(settings)
    community = await create(gql, owner, "c", memberCap=10)
    changed = await call(
        gql,
        UPDATE,
        {"i": {"communityId": community["id"], "name": "Renamed", "clearMemberCap": True}},
        owner,
    )
    assert (changed["community"]["name"], changed["community"]["memberCap"]) == ("Renamed", None)


async def test_posts_are_validated(app: Starlette, gql: GraphQLClient, settings: Settings) -> None:
    _, owner = await signed_in(settings)
    community = await create(gql, owner, "c")
    cid = community["id"]
    refusals: list[tuple[dict[str, Any], str, str]] = [
        ({"text": "x" * 5001}, "text", "INVALID"),
        ({"text": " "}, "text", "INVALID"),
        ({"text": "a\x07b"}, "text", "INVALID"),
        ({"mediaUrls": ["https://cdn.example/a.jpg"] * 10}, "mediaUrls", "TOO_MANY_MEDIA"),
        ({"mediaUrls": ["javascript:alert(1)"]}, "mediaUrls.0", "INVALID"),
        (
            {
                "productId": to_global_id(NodeType.PRODUCT, 1),
                "orderId": to_global_id(NodeType.ORDER, 1),
            },
            "productId",
            "INVALID",
        ),
        ({"productId": to_global_id(NodeType.PRODUCT, 999)}, "productId", "NOT_FOUND"),
    ]
    for change, field, code in refusals:
        payload = await post(gql, owner, cid, **({"text": "hi"} | change))
        assert payload["userErrors"] == [{"field": field, "code": code}], change
    assert await Post.all().count() == 0
    made = await post(gql, owner, cid, "Look\nat this", mediaUrls=["https://cdn.example/a.jpg"])
    assert made["post"]["text"] == "Look\nat this"
    assert (await Community.get(id=pk(cid))).post_count == 1


async def test_a_group_shared_in_a_post_credits_its_poster_for_the_joins_it_brings(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    poster, poster_h = await signed_in(settings)
    community = await create(gql, poster_h, "c")
    offer = await factories.offer(group_size=3)
    _, leader = await signed_in(settings)
    group = (await start(gql, leader, offer.id))["group"]
    shared = await post(gql, poster_h, community["id"], "Join us", groupId=group["id"])
    attachment = shared["post"]["attachment"]
    assert attachment["__typename"] == "GroupShare"
    assert attachment["group"] == {"id": group["id"], "status": "OPEN"}

    assert attachment["ref"] is not None
    _, friend = await signed_in(settings)
    via_post = await purchase(
        gql,
        friend,
        "groupJoin",
        {"groupId": group["id"], "ref": attachment["ref"]},
        idempotency_key=None,
        token="tok_visa",
        quantity=1,
    )
    assert via_post["userErrors"] == []
    await consume(settings)
    credit = await OrderAttribution.get(order_id=pk(via_post["order"]["id"]))
    assert credit.sharer_id == poster.id


async def test_only_the_buyer_shows_an_order_once_it_is_paid(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    _, owner = await signed_in(settings)
    community = await create(gql, owner, "c")
    _, buyer = await signed_in(settings)
    _, other = await signed_in(settings)
    for headers in (buyer, other):
        await join(gql, headers, community["id"])
    offer = await factories.offer()
    order = (await buy(gql, buyer, offer.variant_id))["order"]
    refused = await post(gql, other, community["id"], orderId=order["id"])
    missing = await post(gql, other, community["id"], orderId=to_global_id(NodeType.ORDER, 10**6))
    assert refused["userErrors"] == missing["userErrors"]  # another's order: as if none existed
    assert refused["userErrors"] == [{"field": "orderId", "code": "NOT_FOUND"}]
    await Order.filter(id=pk(order["id"])).update(status=OrderStatus.PENDING_PAYMENT)
    assert codes(await post(gql, buyer, community["id"], orderId=order["id"])) == ["ORDER_NOT_PAID"]
    await Order.filter(id=pk(order["id"])).update(status=OrderStatus.PAID)
    shown = await post(gql, buyer, community["id"], "Love it", orderId=order["id"])
    assert shown["post"]["attachment"]["__typename"] == "OrderShowcase"
    assert shown["post"]["attachment"]["product"] == {
        "id": to_global_id(NodeType.PRODUCT, offer.product_id)
    }


async def test_the_feed_pins_first_then_newest_by_keyset(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    _, owner = await signed_in(settings)
    community = await create(gql, owner, "c")
    ids = [(await post(gql, owner, community["id"], f"post {i}"))["post"]["id"] for i in range(8)]
    for pinned in ids[:5]:
        assert (await call(gql, PIN, {"p": pinned}, owner))["post"]["pinned"] is True
    assert codes(await call(gql, PIN, {"p": ids[5]}, owner)) == ["PIN_LIMIT_REACHED"]
    await call(gql, UNPIN, {"p": ids[0]}, owner)

    seen: list[str] = []
    after = None
    while True:
        body = await gql(FEED, {"h": "c", "first": 3, "after": after}, owner)
        page = body["data"]["community"]["feed"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    pinned_newest_first = list(reversed(ids[1:5]))
    rest_newest_first = [ids[7], ids[6], ids[5], ids[0]]
    assert seen == pinned_newest_first + rest_newest_first

    too_many = await gql(FEED, {"h": "c", "first": 51}, owner)
    assert too_many["errors"][0]["extensions"]["code"] == "PAGE_SIZE_EXCEEDED"
    members_cursor = await gql(
        '{ community(handle: "c") { members(first: 1) { pageInfo { endCursor } } } }', None, owner
    )
    foreign = members_cursor["data"]["community"]["members"]["pageInfo"]["endCursor"]
    wrong = await gql(FEED, {"h": "c", "after": foreign}, owner)
    assert wrong["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


async def test_edits_keep_their_history_and_deletes_are_soft(
    app: Starlette, gql: GraphQLClient, settings: Settings
) -> None:
    _, owner = await signed_in(settings)
    community = await create(gql, owner, "c")
    made = (await post(gql, owner, community["id"], "first draft"))["post"]
    edited = await call(gql, POST_UPDATE, {"i": {"postId": made["id"], "text": "final"}}, owner)
    assert edited["post"]["text"] == "final"
    assert edited["post"]["editedAt"] is not None
    assert edited["post"]["revisions"] == [{"text": "first draft", "mediaUrls": []}]

    await call(gql, POST_DELETE, {"p": made["id"]}, owner)
    node = await gql("query($id: ID!) { node(id: $id) { id } }", {"id": made["id"]}, owner)
    assert node["data"]["node"] is None
    feed = await gql(FEED, {"h": "c"}, owner)
    assert feed["data"]["community"]["feed"]["edges"] == []
    assert (await Post.get(id=pk(made["id"]))).deleted_at is not None
    assert (await Community.get(id=pk(community["id"]))).post_count == 0
    again = await call(gql, POST_DELETE, {"p": made["id"]}, owner)
    assert codes(again) == ["NOT_FOUND"]


FEED_PAGE = """query($first: Int!) { community(handle: "c") { feed(first: $first) { edges { node {
  text reactionCount commentCount author { handle }
  viewerHasReacted viewerReaction viewerCanComment
  attachment { __typename ... on ProductCard { product { title } }
    ... on GroupShare { ref group { status slotsLeft } }
    ... on OrderShowcase { paidAt product { title } } } } } } } }"""


async def test_a_feed_page_with_authors_and_attachments_costs_the_same_at_any_size(
    app: Starlette, gql: GraphQLClient, settings: Settings, sql_statements: list[str]
) -> None:
    owner_user, owner = await signed_in(settings)
    community = await create(gql, owner, "c")
    offer = await factories.offer(group_size=5)
    group = (await start(gql, owner, offer.id))["group"]
    order = (await buy(gql, owner, offer.variant_id))["order"]
    attachments = [
        {"productId": to_global_id(NodeType.PRODUCT, offer.product_id)},
        {"groupId": group["id"]},
        {"orderId": order["id"]},
    ]
    for i in range(24):
        _, headers = await signed_in(settings)
        await join(gql, headers, community["id"])
        poster = owner if i % 3 == 2 else headers  # only the buyer shows the order
        made = await post(gql, poster, community["id"], f"p{i}", **attachments[i % 3])
        assert made["userErrors"] == [], made
        if i % 2 == 0:
            await Reaction.create(post_id=pk(made["post"]["id"]), user=owner_user, created_at=NOW)

    counts = {}
    for first in (3, 21):
        sql_statements.clear()
        body = await gql(FEED_PAGE, {"first": first}, owner)
        edges = body["data"]["community"]["feed"]["edges"]
        assert len(edges) == first
        assert all(e["node"]["attachment"] is not None for e in edges)
        assert all(e["node"]["viewerCanComment"] for e in edges)
        assert {e["node"]["viewerHasReacted"] for e in edges} == {True, False}
        counts[first] = len(sql_statements)
    assert counts[3] == counts[21], sql_statements
    assert counts[21] <= 6, sql_statements

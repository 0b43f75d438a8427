"""Community feeds over HTTP and live, on PostgreSQL + Redis, against ``me { id }``.

The questions it answers: "does a home feed merged from 30 communities and 200 followed
users, and a community's own feed, cost about what the cheapest signed-in request
costs, on a store of a million posts?" and "how soon after a post commits do 1,000
watchers of its community hear of it?".

It seeds with bulk SQL (``generate_series``, seconds for a million posts): communities
of posts by many authors, one viewer who belongs to ``--joined`` of them and follows
``--follows`` authors (whose posts are spread over every community, so the home feed's
followed branch has work to do), a few group-buy shares among the posts, and
``--subscribers`` members of the first community. Then it loads one server with
closed-loop clients for each target in turn, ``{ me { id } }`` first as the reference
of the same run, and finally opens the subscribers' WebSockets to
``communityFeed(communityId)`` and creates posts one at a time over HTTP, timing each
delivery from the post's commit (``changedAt``). Figures are printed, never asserted.

    .venv/bin/python -m bench.feeds                         # the issue's sizes
    .venv/bin/python -m bench.feeds --posts-per-community 1000 --subscribers 200
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from bench import harness
from bench.fanout import Subscriber, TimedConnection, quiet_collector
from pintuan.graphql.ids import NodeType, to_global_id
from tests.servers import Server

GOAL_RATIO = 3.0
GOAL_DELIVERY_MS = 100.0

ME = json.dumps({"query": "{ me { id } }"})
PAGE_FIELDS = (
    "edges { cursor node { id text createdAt reactionCount commentCount "
    "author { displayName } attachment { __typename ... on GroupShare { group { slotsLeft "
    "status } } } } } pageInfo { hasNextPage endCursor }"
)
HOME = json.dumps({"query": "{ homeFeed(first: 20) { " + PAGE_FIELDS + " } }"})
HOT = json.dumps({"query": "{ homeFeed(first: 20, ranking: HOT) { " + PAGE_FIELDS + " } }"})
COMMUNITY_FEED = (
    "query($handle: String!) { community(handle: $handle) { feed(first: 20) { "
    + PAGE_FIELDS
    + " } } }"
)
SUBSCRIPTION = (
    "subscription($id: ID!) { communityFeed(communityId: $id) { kind changedAt post { id text } } }"
)
POST_CREATE = (
    "mutation($input: PostCreateInput!) { postCreate(input: $input) "
    "{ post { id } userErrors { code message } } }"
)

VIEWER = 1


@dataclass(frozen=True)
class Shape:
    communities: int
    posts: int  # per community
    joined: int
    follows: int
    authors: int
    subscribers: int

    @property
    def first_subscriber(self) -> int:
        return 2 + self.authors

    @property
    def users(self) -> int:
        return 1 + self.authors + self.subscribers


SEED = """
INSERT INTO app_user (id, email, password_hash, handle, display_name, invite_code, is_admin,
  created_at)
SELECT g, 'u' || g || '@bench.example', '{hash}', 'u-' || g, 'User ' || g,
  'B' || lpad(g::text, 9, '0'), false, now() FROM generate_series(1, {users}) g;

INSERT INTO community (id, handle, name, description, owner_id, kind, visibility, join_policy,
  membership, admitting_product_ids, entry_min_paid_orders, slow_mode_seconds, member_count,
  post_count, created_at, updated_at)
SELECT c, 'community-' || c, 'Community ' || c, '', 2 + (c % {authors}), 'DEALS',
  CASE WHEN c % 2 = 1 THEN 'PRIVATE' ELSE 'PUBLIC' END, 'OPEN', 'FREE', '[]', 0, 0, 0, {posts},
  now(), now() FROM generate_series(1, {communities}) c;

INSERT INTO community_post (community_id, author_id, text, media_urls, pinned, reaction_count,
  comment_count, hot_score, created_at)
SELECT 1 + (g % {communities}), 2 + ((g * 7919) % {authors}),
  'Post number ' || g || ' with a few words in it', '[]', false, g % 17, g % 5, 0,
  now() - make_interval(secs => g * 0.5)
FROM generate_series(1, {communities}::bigint * {posts}) g;

INSERT INTO community_member (community_id, user_id, role, state, last_active_at, joined_at,
  updated_at)
SELECT c, 1, 'MEMBER', 'ACTIVE', now(), now(), now() FROM generate_series(1, {joined}) c;

INSERT INTO user_follow (follower_id, followee_id, created_at)
SELECT DISTINCT 1, 2 + ((f * 97) % {authors}), now() FROM generate_series(1, {follows}) f;

INSERT INTO community_member (community_id, user_id, role, state, last_active_at, joined_at,
  updated_at)
SELECT 1, u, 'MEMBER', 'ACTIVE', now(), now(), now()
FROM generate_series({first_subscriber}, {users}) u
"""


async def seed(database_url: str, shape: Shape) -> None:
    """Set-based statements in one transaction (every value an integer of ours), then
    the sequences, the member counts and ANALYZE."""
    values = {
        "hash": harness.PASSWORD_HASH,
        "users": shape.users,
        "communities": shape.communities,
        "authors": shape.authors,
        "posts": shape.posts,
        "joined": shape.joined,
        "follows": shape.follows,
        "first_subscriber": shape.first_subscriber,
    }
    connection = await asyncpg.connect(database_url)
    try:
        async with connection.transaction():
            await connection.execute(SEED.format(**values))
        for table in ("app_user", "community", "community_post", "community_member", "user_follow"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        await connection.execute(
            "UPDATE community SET member_count = (SELECT count(*) FROM community_member m "
            "WHERE m.community_id = community.id AND m.state = 'ACTIVE')"
        )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def measure(
    name: str,
    server: Server,
    body: str,
    headers: list[dict[str, str]],
    args: argparse.Namespace,
) -> harness.Row:
    """Closed-loop clients on one request; a response with errors counts as a failure."""
    row = harness.Row(name, harness.Load(), 0.0)
    url = server.url + "/graphql"
    callers = itertools.cycle(headers)
    async with harness.load_session(args.concurrency) as session:

        async def request(_: int) -> bool:
            async with session.post(url, data=body, headers=next(callers)) as response:
                answer = await response.read()
            return response.status == 200 and b'"errors"' not in answer

        await harness.closed_loop(args.concurrency, args.warmup, request)
        before = harness.tree_cpu(server.process.pid)
        row.load = await harness.closed_loop(args.concurrency, args.duration, request)
        row.server_cpu = harness.tree_cpu(server.process.pid) - before
    return row


async def check_pages(server: Server, viewer: dict[str, str], community: str) -> str:
    """The pages hold what the seed promises (20 posts each), or the figures mean nothing."""
    url = server.url + "/graphql"
    async with httpx.AsyncClient(timeout=60.0) as client:
        home = await harness.graphql(client, url, json.loads(HOME)["query"], {}, viewer)
        hot = await harness.graphql(client, url, json.loads(HOT)["query"], {}, viewer)
        feed = await harness.graphql(client, url, COMMUNITY_FEED, {"handle": community}, viewer)
    sizes = (
        len(home["homeFeed"]["edges"]),
        len(hot["homeFeed"]["edges"]),
        len(feed["community"]["feed"]["edges"]),
    )
    if sizes != (20, 20, 20):
        raise harness.BenchError(f"pages of 20 expected, got {sizes}")
    return "pages checked: homeFeed, HOT and community.feed return 20 posts each"


async def subscribe(url: str, community: str, credentials: dict[str, str]) -> Subscriber:
    """connection_init -> connection_ack -> subscribe -> SUBSCRIBED (live from there)."""
    ws = await connect(
        url,
        create_connection=TimedConnection,
        subprotocols=[Subprotocol("graphql-transport-ws")],
        ping_interval=None,
        open_timeout=60,
        max_queue=None,
    )
    try:
        await ws.send(json.dumps({"type": "connection_init", "payload": credentials}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 60))
        if ack.get("type") != "connection_ack":
            raise harness.BenchError(f"expected connection_ack, got {ack}")
        payload = {"query": SUBSCRIPTION, "variables": {"id": community}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        first = json.loads(await asyncio.wait_for(ws.recv(), 60))
        event = ((first.get("payload") or {}).get("data") or {}).get("communityFeed") or {}
        if first.get("type") != "next" or event.get("kind") != "SUBSCRIBED":
            raise harness.BenchError(f"expected SUBSCRIBED, got {first}")
    except BaseException:
        await ws.close()
        raise
    assert isinstance(ws, TimedConnection)
    return Subscriber(ws)


async def live(
    args: argparse.Namespace, server: Server, shape: Shape, secret_key: str
) -> tuple[list[float], int, int, str]:
    """Delays from each post's commit to its receipt by every subscriber."""
    url = server.url + "/graphql"
    community = to_global_id(NodeType.COMMUNITY, 1)
    ids = range(shape.first_subscriber, shape.users + 1)
    tokens = harness.bearer_headers(secret_key, ids)
    gate = asyncio.Semaphore(args.connect_parallel)

    async def one(headers: dict[str, str]) -> Subscriber:
        async with gate:
            ws_url = url.replace("http://", "ws://", 1)
            return await subscribe(ws_url, community, {"authorization": headers["authorization"]})

    subscribers = list(await asyncio.gather(*(one(t) for t in tokens)))
    quiet_collector()
    author = tokens[0]
    try:
        await asyncio.sleep(args.settle)
        before = harness.Cpu.sample(server)
        async with httpx.AsyncClient(timeout=30.0) as client:
            for n in range(args.live_posts):
                started = time.monotonic()
                variables = {"input": {"communityId": community, "text": f"live post {n}"}}
                made = await harness.graphql(client, url, POST_CREATE, variables, author)
                if made["postCreate"]["userErrors"]:
                    raise harness.BenchError(f"postCreate refused: {made}")
                await asyncio.sleep(max(0.0, started + args.interval - time.monotonic()))
        for _ in range(max(1, round(args.settle / 0.05))):
            if all(s.arrived() >= args.live_posts for s in subscribers):
                break
            await asyncio.sleep(0.05)
        after = harness.Cpu.sample(server)
        for subscriber in subscribers:
            await subscriber.collect()
    finally:
        await asyncio.gather(*(s.ws.close() for s in subscribers), return_exceptions=True)
    delays: list[float] = []
    other = 0
    for subscriber in subscribers:
        for _, wall, raw in subscriber.received:
            message = json.loads(raw)
            event = ((message.get("payload") or {}).get("data") or {}).get("communityFeed")
            if message.get("type") != "next" or not event or event["kind"] != "POST_CREATED":
                other += 1
                continue
            delays.append(wall - datetime.fromisoformat(event["changedAt"]).timestamp())
    return delays, len(subscribers) * args.live_posts, other, before.report(after)


def bench(args: argparse.Namespace, workdir: Path) -> None:
    shape = Shape(
        args.communities,
        args.posts_per_community,
        args.joined,
        args.follows,
        args.authors,
        args.subscribers,
    )
    harness.run(harness.fresh_database(args.database_url, args.redis_url))
    began = time.perf_counter()
    harness.run(seed(args.database_url, shape))
    print(
        f"seeded in {time.perf_counter() - began:.0f}s: {shape.communities} communities x "
        f"{shape.posts} posts, a viewer in {shape.joined} following {shape.follows} authors, "
        f"{shape.subscribers} members of community 1"
    )
    env = harness.server_env(args.database_url, args.redis_url, scheduler=False)
    env["PINTUAN_RUN_OUTBOX_CONSUMER"] = "false"
    key = env["PINTUAN_SECRET_KEY"]
    viewer = harness.bearer_headers(key, [VIEWER])
    community = "community-1"
    feed_body = json.dumps({"query": COMMUNITY_FEED, "variables": {"handle": community}})
    server = harness.pintuan(env, args.port, 1, workdir, profile=args.profile_server)
    try:
        print(harness.run(check_pages(server, viewer[0], community)))
        if "http" in args.parts:
            http_rows(server, feed_body, viewer, args, env, workdir)
        if "live" in args.parts and args.subscribers and args.live_posts:
            live_row(server, shape, key, args)
    finally:
        server.stop()
        for line in harness.log_problems(server)[:8]:
            print(f"server log: {line[:200]}")
        if not args.keep_database:
            harness.run(harness.drop(args.database_url, args.redis_url))


def http_rows(
    server: Server,
    feed_body: str,
    viewer: list[dict[str, str]],
    args: argparse.Namespace,
    env: dict[str, str],
    workdir: Path,
) -> None:
    """Each request under load in turn, ``me { id }`` first as the run's reference;
    then the floor, with ``--floor``."""
    me = harness.run(measure("me { id }", server, ME, viewer, args))
    home = harness.run(measure("homeFeed(first: 20)", server, HOME, viewer, args))
    hot = harness.run(measure("homeFeed(first: 20, ranking: HOT)", server, HOT, viewer, args))
    feed = harness.run(measure("community.feed(first: 20)", server, feed_body, viewer, args))
    rows = [(me, me), (home, me), (hot, me), (feed, me)]
    print(
        f"\nfeeds over HTTP, 1 worker, concurrency {args.concurrency}, {args.duration:g}s "
        f"per row after {args.warmup:g}s warm-up; ratio: req/s against me {{ id }}"
    )
    print(harness.table(rows))
    print(harness.p99_against((home, hot, feed), me, GOAL_RATIO))
    if args.floor:
        print(floor(args, env, workdir, me, feed_body, viewer))


def live_row(server: Server, shape: Shape, key: str, args: argparse.Namespace) -> None:
    """The delivery of new posts to the subscribers of one community."""
    delays, expected, other, cpu = harness.run(live(args, server, shape, key))
    figures = "  ".join(
        f"{label} {harness.ms(delays, f):.1f}"
        for label, f in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
    )
    p99 = harness.ms(delays, 0.99)
    verdict = "met" if p99 < GOAL_DELIVERY_MS else "NOT met"
    print(
        f"\nlive: {args.live_posts} posts {args.interval * 1000:.0f} ms apart to "
        f"{shape.subscribers} subscribers of one community: {len(delays)} of {expected} "
        f"deliveries ({other} other messages); ms after commit: {figures}; "
        f"goal p99 < {GOAL_DELIVERY_MS:.0f} ms {verdict}"
    )
    print(f"  CPU during the posts: {cpu}")


def floor(
    args: argparse.Namespace,
    env: dict[str, str],
    workdir: Path,
    me: harness.Row,
    feed_body: str,
    viewer: list[dict[str, str]],
) -> str:
    """The same documents (HOT aside) on bench.feed_floor, against the real ``me { id }``."""
    server = harness.uvicorn_app("bench.feed_floor:floor_app", env, args.port + 5, 1, workdir)
    try:
        rows = [
            harness.run(measure(f"floor: {name}", server, body, viewer, args))
            for name, body in (
                ("me { id }", ME),
                ("homeFeed(first: 20)", HOME),
                ("community.feed(first: 20)", feed_body),
            )
        ]
    finally:
        server.stop()
    return "\n".join(
        [
            "\nthe floor, bare Strawberry over one statement per page (bench.feed_floor); "
            "ratio and p99 against the real server's me { id }",
            harness.table([(row, me) for row in rows]),
            harness.p99_against(rows[1:], me, GOAL_RATIO),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.deployment_options(
        parser, database="pintuan_feed_bench", redis_db=4, port=8795, workers=1
    )
    parser.add_argument("--communities", type=int, default=100)
    parser.add_argument("--posts-per-community", type=int, default=10_000)
    parser.add_argument("--joined", type=int, default=30)
    parser.add_argument("--follows", type=int, default=200)
    parser.add_argument("--authors", type=int, default=20_000)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--live-posts", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between posts")
    parser.add_argument("--connect-parallel", type=int, default=50)
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per row")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also measure a bare Strawberry schema over one statement per page (feed_floor)",
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=("http", "live"),
        default=["http", "live"],
        help="the feeds over HTTP, the live delivery, or both",
    )
    args = parser.parse_args(argv)
    try:
        harness.check_deployment(args)
        harness.raise_fd_limit(args.subscribers * 2 + 256)
        with tempfile.TemporaryDirectory(prefix="pintuan-bench-") as tmp:
            bench(args, Path(tmp))
    except (harness.BenchError, RuntimeError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

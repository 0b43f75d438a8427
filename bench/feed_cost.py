"""Feed cost: the CPU one feed page costs the server, in one process, with no sockets.

The question it answers is "did this change make a feed page cheaper for the server?".
``bench.feeds`` answers with latency over HTTP, which on a shared machine moves by more
than most single changes; here the app is called as an ASGI application by the
in-process driver of ``bench.page_cost`` on PostgreSQL seeded as ``bench.feeds`` seeds
it (smaller by default), so what is measured is this process's work: HTTP handling,
GraphQL, the ORM and the database client (PostgreSQL's own work is not counted).
``--profile`` writes a cProfile of one target's calls; under valgrind's callgrind it
counts instructions instead, as ``bench.page_cost`` does:

    .venv/bin/python -m bench.feed_cost --database-url postgres://.../pintuan_feed_cost
    .venv/bin/python -m bench.feed_cost --only hot --profile /tmp/hot.prof

It prints figures and asserts none.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
from collections.abc import Sequence
from pathlib import Path

from bench import harness
from bench.feeds import COMMUNITY_FEED, HOME, HOT, ME, VIEWER, Shape, seed
from bench.page_cost import per_call, post, under_callgrind
from pintuan.app import create_app
from pintuan.settings import Settings

TARGETS = {
    "me": ME,
    "home": HOME,
    "hot": HOT,
    "community": json.dumps({"query": COMMUNITY_FEED, "variables": {"handle": "community-1"}}),
}


async def measure(args: argparse.Namespace) -> list[tuple[str, float, str]]:
    secret = "feed-cost-" + "k" * 40
    os.environ["PINTUAN_DATABASE_URL"] = args.database_url
    os.environ["PINTUAN_SECRET_KEY"] = secret
    settings = Settings(
        database_url=args.database_url,
        redis_url=args.redis_url,
        secret_key=secret,
        debug=False,
        graphiql=False,
        run_scheduler=False,
        run_outbox_consumer=False,
        rate_limit_ip_per_minute=10**9,
        rate_limit_key_per_minute=10**9,
    )
    app = create_app(settings)
    [headers] = harness.bearer_headers(secret, [VIEWER])
    extra = [(b"authorization", headers["authorization"].encode())]
    rows: list[tuple[str, float, str]] = []
    async with app.router.lifespan_context(app):
        for name in args.only:
            call = post(app, TARGETS[name].encode(), extra)
            rows.append((name, *await per_call(call, args, name)))
            if args.profile is not None and not under_callgrind():
                profile = cProfile.Profile()
                profile.enable()
                for _ in range(args.calls * args.batches):
                    await call()
                profile.disable()
                profile.dump_stats(f"{args.profile}.{name}")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database to recreate")
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--reuse", action="store_true", help="keep the seeded database as it is")
    parser.add_argument("--communities", type=int, default=100)
    parser.add_argument("--posts-per-community", type=int, default=1000)
    parser.add_argument("--joined", type=int, default=30)
    parser.add_argument("--follows", type=int, default=200)
    parser.add_argument("--authors", type=int, default=20_000)
    parser.add_argument("--only", nargs="+", choices=sorted(TARGETS), default=list(TARGETS))
    parser.add_argument("--calls", type=int, default=50, help="per batch")
    parser.add_argument("--batches", type=int, default=5, help="the best one counts")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--profile", type=Path, help="write FILE.<target> with cProfile")
    args = parser.parse_args(argv)
    if not harness.is_postgres(args.database_url):
        raise SystemExit("feed_cost measures the PostgreSQL statements: give a postgres:// URL")
    if not args.reuse:
        harness.run(harness.fresh_database(args.database_url, args.redis_url))
        shape = Shape(
            args.communities, args.posts_per_community, args.joined, args.follows, args.authors, 0
        )
        harness.run(seed(args.database_url, shape))
    for name, value, unit in asyncio.run(measure(args)):
        print(f"{name:10} {value:8.2f} {unit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Live fan-out: how soon do 1,000 watchers of one group hear about each join?

The question it answers is "when a shopper joins, how long until every open group page
shows it?". One group is watched by many graphql-transport-ws subscribers (the
``websockets`` library, without a GraphQL client on top, so the load generator stays
cheap); joins are then made over HTTP one at a time, and each subscriber's receipt of
the JOINED and PAID events is timed from the moment the server committed the join (each
event's ``changedAt``, on the clock the load generator shares with the server) and, as an
upper bound, from the join request's send on the same monotonic clock. Figures are printed,
never asserted.

    .venv/bin/python -m bench.fanout                 # 1 worker, 1,000 subscribers
    .venv/bin/python -m bench.fanout --workers 1 2
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import secrets
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import DATA_OPCODES, Frame
from websockets.protocol import Event, State
from websockets.typing import Subprotocol

from bench.harness import (
    BenchError,
    Cpu,
    Seeded,
    bearer_headers,
    check_deployment,
    deployment_options,
    drop,
    fresh_database,
    graphql,
    log_problems,
    percentile,
    pintuan,
    raise_fd_limit,
    run,
    seed_offer,
    server_env,
)
from pintuan.gc_policy import THRESHOLDS
from pintuan.groupbuys.offers import MAX_GROUP_SIZE
from tests.servers import Server

GOAL_P99_MS = 100.0

SUBSCRIPTION = (
    "subscription Watch($groupId: ID!) { groupProgress(groupId: $groupId) "
    "{ event memberCount serverTime changedAt } }"
)
START_MUTATION = (
    "mutation Start($input: GroupStartInput!) { groupStart(input: $input) "
    "{ group { id memberCount } order { status } userErrors { code } } }"
)
JOIN_MUTATION = (
    "mutation Join($input: GroupJoinInput!) { groupJoin(input: $input) "
    "{ group { memberCount } order { status } userErrors { code } } }"
)


class TimedConnection(ClientConnection):
    """Notes when each message reached this process, as its bytes are parsed.

    A burst of a thousand messages is read socket by socket; the task reading
    each socket runs only after those of the sockets before it. Taking the time
    when the bytes are parsed keeps that queue in this process out of the
    server's figures.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: deque[tuple[float, float]] = deque()

    def process_event(self, event: Event) -> None:
        if isinstance(event, Frame) and event.opcode in DATA_OPCODES and event.fin:
            self.arrivals.append((time.monotonic(), time.time()))
        super().process_event(event)


@dataclass
class Subscriber:
    """One WebSocket. Messages wait in its buffer during the run and are read afterwards.

    No task reads them meanwhile: the process then only parses and timestamps
    each frame as it arrives, so a burst of a thousand reaches its last socket
    sooner, and the times measure the server rather than this process.
    """

    ws: TimedConnection
    received: list[tuple[float, float, str | bytes]] = field(default_factory=list)
    closed_early: bool = False

    def __post_init__(self) -> None:
        self.ws.arrivals.clear()  # those of the handshake and the SNAPSHOT

    def arrived(self) -> int:
        return len(self.ws.arrivals)

    async def collect(self) -> None:
        """Pair each buffered message with its arrival time."""
        self.closed_early = self.ws.state is not State.OPEN
        try:
            while self.ws.arrivals:
                message = await asyncio.wait_for(self.ws.recv(), 5)
                mono, wall = self.ws.arrivals.popleft()
                self.received.append((mono, wall, message))
        except ConnectionClosed:
            self.closed_early = True


async def subscribe(
    url: str, group_id: str, compression: str | None, credentials: dict[str, str]
) -> Subscriber:
    """connection_init -> connection_ack -> subscribe -> the SNAPSHOT, checked."""
    ws = await connect(
        url,
        create_connection=TimedConnection,
        subprotocols=[Subprotocol("graphql-transport-ws")],
        compression=compression,
        ping_interval=None,
        open_timeout=60,
        max_queue=None,
    )
    try:
        init = {"type": "connection_init", "payload": credentials}
        await ws.send(json.dumps(init))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 60))
        if ack.get("type") != "connection_ack":
            raise BenchError(f"expected connection_ack, got {ack}")
        payload = {"query": SUBSCRIPTION, "variables": {"groupId": group_id}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        first = json.loads(await asyncio.wait_for(ws.recv(), 60))
        event = (first.get("payload") or {}).get("data", {}) or {}
        if first.get("type") != "next" or event["groupProgress"]["event"] != "SNAPSHOT":
            raise BenchError(f"expected the SNAPSHOT, got {first}")
    except BaseException:
        await ws.close()
        raise
    assert isinstance(ws, TimedConnection)
    return Subscriber(ws)


async def subscribe_all(
    url: str,
    group_id: str,
    credentials: list[dict[str, str]],
    parallel: int,
    compression: str | None,
) -> list[Subscriber]:
    """One subscriber per entry of ``credentials`` (the connection_init payload)."""
    gate = asyncio.Semaphore(parallel)
    count = len(credentials)

    async def one(payload: dict[str, str]) -> Subscriber:
        async with gate:
            return await subscribe(url, group_id, compression, payload)

    results = await asyncio.gather(*(one(c) for c in credentials), return_exceptions=True)
    subscribers = [r for r in results if isinstance(r, Subscriber)]
    errors = [r for r in results if not isinstance(r, Subscriber)]
    if errors:
        await asyncio.gather(*(s.ws.close() for s in subscribers), return_exceptions=True)
        raise BenchError(f"{len(errors)} of {count} subscriptions failed; first: {errors[0]!r}")
    return subscribers


@dataclass
class Join:
    member_count: int  # the group's memberCount once this join holds its slot
    sent: float
    answered: float


async def make_joins(
    client: httpx.AsyncClient,
    url: str,
    group_id: str,
    shoppers: list[dict[str, str]],
    interval: float,
) -> list[Join]:
    """One join at a time, ``interval`` apart (start to start), each timed."""
    joins: list[Join] = []
    start = time.monotonic()
    for i, headers in enumerate(shoppers):
        await asyncio.sleep(max(0.0, start + i * interval - time.monotonic()))
        variables = {
            "input": {
                "groupId": group_id,
                "idempotencyKey": secrets.token_hex(8),
                "paymentToken": "tok_visa",
            }
        }
        sent = time.monotonic()
        data = await graphql(client, url, JOIN_MUTATION, variables, headers)
        answered = time.monotonic()
        payload = data["groupJoin"]
        if payload["userErrors"] or payload["order"]["status"] != "PAID":
            raise BenchError(f"join {i} refused: {payload}")
        joins.append(Join(payload["group"]["memberCount"], sent, answered))
    return joins


@dataclass
class Delivery:
    """Per event kind: delays (seconds) from the join's commit, its send and its response."""

    from_commit: list[float] = field(default_factory=list)
    from_send: list[float] = field(default_factory=list)
    from_response: list[float] = field(default_factory=list)
    received: int = 0


@dataclass
class Analysis:
    deliveries: dict[str, Delivery]
    other_events: Counter[str]
    server_to_client: list[float]
    closed_early: int


def analyse(subscribers: list[Subscriber], joins: list[Join]) -> Analysis:
    by_count = {j.member_count: j for j in joins}
    deliveries = {"JOINED": Delivery(), "PAID": Delivery()}
    other: Counter[str] = Counter()
    lag: list[float] = []
    for sub in subscribers:
        seen: set[tuple[str, int]] = set()
        for mono, wall, raw in sub.received:
            message = json.loads(raw)
            if message.get("type") != "next":
                other[f"message {message.get('type')}"] += 1
                continue
            progress = message["payload"]["data"]["groupProgress"]
            event, count = progress["event"], progress["memberCount"]
            join = by_count.get(count)
            if event not in deliveries or join is None or (event, count) in seen:
                other[f"{event} memberCount={count}"] += 1
                continue
            seen.add((event, count))
            delivery = deliveries[event]
            delivery.received += 1
            delivery.from_commit.append(wall - _timestamp(progress["changedAt"]))
            delivery.from_send.append(mono - join.sent)
            delivery.from_response.append(mono - join.answered)
            if event == "JOINED":
                lag.append(wall - _timestamp(progress["serverTime"]))
    closed = sum(s.closed_early for s in subscribers)
    return Analysis(deliveries, other, lag, closed)


def _timestamp(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def row(name: str, values: Sequence[float]) -> str:
    figures = [percentile(values, f) * 1000 for f in (0.5, 0.9, 0.99, 1.0)]
    return f"  {name:<34}" + "".join(f"{v:>9.1f}" for v in figures)


@dataclass
class RunResult:
    workers: int
    analysis: Analysis
    joins: list[Join]
    subscribers: int
    connect_seconds: float
    cpu: str
    log_problems: list[str]

    @property
    def joined_p99_ms(self) -> float:
        return percentile(self.analysis.deliveries["JOINED"].from_commit, 0.99) * 1000


def report(args: argparse.Namespace, r: RunResult) -> None:
    expected = len(r.joins) * r.subscribers
    a = r.analysis
    print(
        f"\nlive fan-out, postgresql + redis, {r.workers} worker(s), {r.subscribers} "
        f"subscribers on one group, {len(r.joins)} joins {args.interval * 1000:.0f} ms apart, "
        f"compression {args.compression}, "
        f"watchers {'each signed in as their own user' if args.signed_in else 'anonymous'}"
    )
    print(f"  subscribed (SNAPSHOT received)   {r.subscribers} in {r.connect_seconds:.1f}s")
    http = [j.answered - j.sent for j in r.joins]
    print(
        f"  join HTTP round trip ms          p50 {percentile(http, 0.5) * 1000:.1f}  "
        f"max {percentile(http, 1.0) * 1000:.1f}"
    )
    for kind, d in a.deliveries.items():
        print(f"  {kind + ' events received':<33}{d.received} of {expected} expected")
    others = ", ".join(f"{k}: {v}" for k, v in sorted(a.other_events.items())) or "none"
    print(f"  other messages                   {others}")
    if a.closed_early:
        print(f"  !!! {a.closed_early} subscriptions were closed by the server")
    headings = "".join(f"{h:>9}" for h in ("p50", "p90", "p99", "max"))
    print(f"  {'delivery latency ms':<34}{headings}")
    for kind, d in a.deliveries.items():
        print(row(f"{kind} after its commit", d.from_commit))
        print(row(f"{kind} after the join was sent", d.from_send))
        print(row(f"{kind} after the join's response", d.from_response))
    print(row("serverTime -> receipt (JOINED)", a.server_to_client))
    print(f"  CPU during the joins (core-s/s)  {r.cpu}")
    verdict = "met" if r.joined_p99_ms < GOAL_P99_MS else "NOT met"
    upper = percentile(a.deliveries["JOINED"].from_send, 0.99) * 1000
    print(
        f"  goal p99 JOINED delivery < {GOAL_P99_MS:.0f} ms after the commit: {verdict} "
        f"({r.joined_p99_ms:.1f} ms; {upper:.1f} ms counting from the join's send)"
    )
    if expected and a.deliveries["JOINED"].received < expected:
        print("  !!! some JOINED events never arrived (see the counts above)")
    if r.log_problems:
        print(f"  !!! server log has {len(r.log_problems)} error line(s); first ones:")
        for line in r.log_problems[:8]:
            print(f"    {line[:200]}")


async def measure(
    args: argparse.Namespace, server: Server, seeded: Seeded, secret_key: str
) -> tuple[list[Subscriber], list[Join], float, str]:
    url = server.url + "/graphql"
    ws_url = url.replace("http://", "ws://", 1)
    shoppers = bearer_headers(secret_key, seeded.shopper_ids[: args.joins + 1])
    watchers: list[dict[str, str]] = [{}] * args.subscribers
    if args.signed_in:  # each watcher its own user, none of them a joiner
        tokens = bearer_headers(secret_key, seeded.shopper_ids[args.joins + 1 :])
        watchers = [{"authorization": t["authorization"]} for t in tokens]
    async with httpx.AsyncClient(timeout=30.0) as client:
        variables = {
            "input": {
                "groupBuyId": seeded.offer_gid,
                "idempotencyKey": secrets.token_hex(8),
                "paymentToken": "tok_visa",
            }
        }
        started = await graphql(client, url, START_MUTATION, variables, shoppers[0])
        if started["groupStart"]["userErrors"]:
            raise BenchError(f"groupStart refused: {started}")
        group_id: str = started["groupStart"]["group"]["id"]
        began = time.perf_counter()
        subscribers = await subscribe_all(
            ws_url, group_id, watchers, args.connect_parallel, compression(args)
        )
        connect_seconds = time.perf_counter() - began
        quiet_collector()
        try:
            await asyncio.sleep(args.settle)  # let connection set-up work die down
            before = Cpu.sample(server)
            joins = await make_joins(client, url, group_id, shoppers[1:], args.interval)
            expected = 2 * len(joins)  # JOINED and PAID per join
            for _ in range(max(1, round(args.settle / 0.05))):  # wait for stragglers
                if all(s.arrived() >= expected for s in subscribers):
                    break
                await asyncio.sleep(0.05)
            after = Cpu.sample(server)
            for subscriber in subscribers:
                await subscriber.collect()
        finally:
            await asyncio.gather(*(s.ws.close() for s in subscribers), return_exceptions=True)
    return subscribers, joins, connect_seconds, before.report(after)


def quiet_collector() -> None:
    """Keep this process's full garbage collections out of the timings.

    A thousand client connections make a large heap; a full collection walks it
    and stalls every reader for tens of milliseconds, which would be charged to
    the server. The server tunes its own collector the same way (pintuan.gc_policy).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


def compression(args: argparse.Namespace) -> str | None:
    return "deflate" if args.compression == "deflate" else None


async def prepare(args: argparse.Namespace) -> Seeded:
    await fresh_database(args.database_url, args.redis_url)
    return await seed_offer(
        args.database_url,
        shoppers=args.joins + 1 + (args.subscribers if args.signed_in else 0),
        group_size=min(MAX_GROUP_SIZE, args.joins + 10),
        stock=1_000_000,
    )


def run_once(args: argparse.Namespace, workers: int, workdir: Path) -> RunResult:
    seeded = asyncio.run(prepare(args))
    env = server_env(args.database_url, args.redis_url)
    server = pintuan(env, args.port, workers, workdir, profile=args.profile_server)
    try:
        subscribers, joins, connect_seconds, cpu = run(
            measure(args, server, seeded, env["PINTUAN_SECRET_KEY"])
        )
    finally:
        server.stop()
    problems = log_problems(server)
    analysis = analyse(subscribers, joins)
    return RunResult(workers, analysis, joins, len(subscribers), connect_seconds, cpu, problems)


def bench(args: argparse.Namespace) -> int:
    limit = raise_fd_limit(2 * args.subscribers + 256)
    if limit < 2 * args.subscribers + 64:
        print(f"warning: open-files limit is {limit}; connections may fail", file=sys.stderr)
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix="pintuan-bench-") as tmp:
        try:
            for workers in args.workers:
                result = run_once(args, workers, Path(tmp))
                report(args, result)
                results.append(result)
        except (BenchError, RuntimeError) as exc:
            print(f"bench failed: {exc}", file=sys.stderr)
            return 1
        finally:
            if not args.keep_database:
                asyncio.run(drop(args.database_url, args.redis_url))
    if len(results) > 1:
        print("\nsummary: workers, JOINED p50/p99/max ms after the commit | after the send")
        for r in results:
            joined = r.analysis.deliveries["JOINED"]
            figures = [
                percentile(times, f) * 1000
                for times in (joined.from_commit, joined.from_send)
                for f in (0.5, 0.99, 1.0)
            ]
            print(
                f"  {r.workers}  "
                + "".join(f"{v:7.1f}" for v in figures[:3])
                + "  |"
                + "".join(f"{v:7.1f}" for v in figures[3:])
            )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    deployment_options(parser, database="pintuan_bench_fanout", redis_db=12, port=8785, workers=1)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--joins", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between joins")
    parser.add_argument(
        "--settle", type=float, default=2.0, help="quiet seconds before and after the joins"
    )
    parser.add_argument(
        "--connect-parallel", type=int, default=50, help="WebSocket handshakes in flight"
    )
    parser.add_argument(
        "--signed-in",
        action="store_true",
        help="each subscriber signs in as a different user (default: anonymous watchers)",
    )
    parser.add_argument(
        "--compression",
        choices=["deflate", "none"],
        default="none",
        help="permessage-deflate (browsers offer it) or none (cheaper on both ends)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_deployment(args)
        if args.joins + 1 > MAX_GROUP_SIZE:
            raise BenchError(f"--joins must leave the group open (at most {MAX_GROUP_SIZE - 1})")
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 2
    return bench(args)


if __name__ == "__main__":
    raise SystemExit(main())

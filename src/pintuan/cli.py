"""The ``pintuan`` command: serve, work, migrate, seed, manage users, export the schema."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import uvicorn
from tortoise import Tortoise
from tortoise.migrations.api import migrate

from pintuan.accounts import merchants, users
from pintuan.accounts.models import Merchant
from pintuan.app import scheduler
from pintuan.core import outbox
from pintuan.core.db import tortoise_config
from pintuan.core.errors import DomainError
from pintuan.core.logs import logging_config
from pintuan.demo import seed_demo
from pintuan.groupbuys.runtime import Runtime
from pintuan.reactions import checkout, invite_gate, outbox_consumer
from pintuan.referrals import tree
from pintuan.referrals.earnings_feed import EarningsFeed
from pintuan.referrals.reactions import TEAM_SALES
from pintuan.referrals.releases import run_releases
from pintuan.schema import export_sdl
from pintuan.settings import Settings, SettingsError


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    if args.workers > 1 and not (settings.is_postgres and settings.redis_url):
        print(
            "pintuan: several workers need PINTUAN_DATABASE_URL=postgres://... and "
            "PINTUAN_REDIS_URL: the embedded database and live layer belong to one process",
            file=sys.stderr,
        )
        return 2
    if args.no_scheduler:
        os.environ["PINTUAN_RUN_SCHEDULER"] = "false"  # read again by every worker process
    uvicorn.run(
        "pintuan.app:create_served_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=logging_config(settings.log_level),
        access_log=False,
        proxy_headers=True,
        ws_max_size=settings.max_body_bytes,
        # Live messages are a few hundred bytes, sent to thousands of sockets at once:
        # compressing each copy for each socket was a fifth of the CPU of delivering a
        # post (bench/feeds.py), to save a few bytes, and each socket kept a compressor.
        ws_per_message_deflate=False,
    )
    return 0


@contextlib.asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[None]:
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        yield
    finally:
        await Tortoise.close_connections()


async def _migrate(settings: Settings) -> None:
    try:
        await migrate(config=tortoise_config(settings.database_url))
    finally:
        await Tortoise.close_connections()


async def _worker(settings: Settings) -> None:
    async with _database(settings), Runtime.open(settings, checkout(settings)) as runtime:
        scheduled = asyncio.gather(
            scheduler(runtime, settings).run(),
            run_releases(
                settings.commission_freeze_seconds,
                settings.sweep_interval_seconds,
                EarningsFeed(runtime.bus),
            ),
            outbox.run_pruning(settings.outbox_retention_seconds, settings.sweep_interval_seconds),
        )
        if not settings.run_outbox_consumer:
            await scheduled
            return
        async with outbox_consumer(settings, runtime.bus, runtime.purge).running():
            await scheduled


async def _seed(settings: Settings) -> str:
    async with _database(settings), Runtime.open(settings, checkout(settings)) as runtime:
        return await seed_demo(runtime)


async def _create_user(args: argparse.Namespace, settings: Settings) -> str:
    async with _database(settings):
        merchant = None
        if args.role == "merchant":
            merchant = await Merchant.get_or_none(handle=args.merchant or "")
            if merchant is None:
                raise SystemExit(f"pintuan: no merchant with handle {args.merchant!r}")
        try:
            user = await users.register(
                args.email,
                args.password,
                args.name or args.email.split("@")[0],
                gate=invite_gate(),
                is_admin=args.role == "admin",
            )
            if merchant is not None:
                await merchants.add_staff(merchant, user)
        except DomainError as exc:
            raise SystemExit(f"pintuan: {exc.field or 'user'}: {exc.message}") from None
        return f"Created {args.role} {user.email} (handle {user.handle})."


async def _backfill(settings: Settings) -> str:
    async with _database(settings):
        done = await tree.backfill(TEAM_SALES)
    return (
        f"Created {done.nodes_created} referral tree node(s); "
        f"recounted {done.counters} team counter(s)."
    )


def _export_schema(args: argparse.Namespace) -> int:
    sdl = export_sdl()
    if args.output:
        Path(args.output).write_text(sdl, encoding="utf-8")
    else:
        sys.stdout.write(sdl)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pintuan", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP and WebSocket server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--no-scheduler",
        action="store_true",
        help="leave group expiry and commission releases to separate `pintuan worker` processes",
    )

    commands.add_parser(
        "worker",
        help="run the expiry scheduler, commission releases and the outbox consumer "
        "(needs PINTUAN_REDIS_URL)",
    )
    commands.add_parser("migrate", help="bring the database to the current schema")
    commands.add_parser(
        "referrals-backfill",
        help="give users from before the referral tree their nodes and recount every "
        "team counter from users and orders (safe to run again)",
    )

    seed = commands.add_parser("seed", help="load data into the database")
    seed.add_argument("--demo", action="store_true", required=True, help="the demo store")

    user = commands.add_parser("user", help="manage accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    create = user_commands.add_parser("create", help="create an account with a role")
    create.add_argument("email")
    create.add_argument("--password", required=True)
    create.add_argument("--role", choices=["admin", "merchant", "customer"], default="customer")
    create.add_argument("--merchant", help="the merchant's handle, for --role merchant")
    create.add_argument("--name", help="display name (default: the email's local part)")

    export = commands.add_parser("export-schema", help="print the GraphQL SDL")
    export.add_argument("--output", help="write to this file instead of stdout")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "export-schema":
        return _export_schema(args)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"pintuan: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(args, settings)
    logging.basicConfig(level=logging.WARNING)
    if args.command == "migrate":
        asyncio.run(_migrate(settings))
        print("Database is up to date.")
    elif args.command == "referrals-backfill":
        print(asyncio.run(_backfill(settings)))
    elif args.command == "seed":
        print(asyncio.run(_seed(settings)))
    elif args.command == "worker":
        if not settings.redis_url:
            print(
                "pintuan: a separate worker needs PINTUAN_REDIS_URL; "
                "the embedded server runs the scheduler itself",
                file=sys.stderr,
            )
            return 2
        logging.getLogger().setLevel(settings.log_level.upper())
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_worker(settings))
    elif args.command == "user":
        if args.role == "merchant" and not args.merchant:
            print("pintuan: --role merchant needs --merchant HANDLE", file=sys.stderr)
            return 2
        print(asyncio.run(_create_user(args, settings)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

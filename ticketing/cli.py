"""The `ticketing` console script: serve, migrate, seed."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ticketing.db import create_engine, create_sessionmaker
from ticketing.demo import is_empty, seed_demo, seed_stadium
from ticketing.migrate import upgrade
from ticketing.serve import reuse_port_supported, serve_workers
from ticketing.settings import Settings


async def _migrate(settings: Settings, *, demo: bool = False) -> None:
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        if demo:
            async with create_sessionmaker(engine)() as session:
                if await is_empty(session):
                    await seed_demo(session, now=datetime.now(UTC))
                    print("seeded the demo venue and two events", file=sys.stderr)
    finally:
        await engine.dispose()


async def _seed(
    settings: Settings,
    *,
    seats: int,
    general_admission: int,
    name: str,
    section_size: int | None,
) -> None:
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine)() as session:
            seeded = await seed_stadium(
                session,
                seats=seats,
                general_admission=general_admission,
                name=name,
                now=datetime.now(UTC),
                section_size=section_size,
            )
        print(json.dumps({"venue_id": seeded.venue_id, "event_id": seeded.event_id}))
    finally:
        await engine.dispose()


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    asyncio.run(_migrate(settings, demo=not args.no_demo))
    if args.workers > 1 and reuse_port_supported():
        serve_workers(
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            access_log=args.access_log,
        )
        return
    uvicorn.run(
        "rest.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=args.access_log,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ticketing", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate, seed demo data if empty, serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes")
    serve.add_argument("--no-demo", action="store_true", help="do not seed demo data")
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--no-access-log", dest="access_log", action="store_false")

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="run the schema migrations")

    export = commands.add_parser("export-schema", help="write the GraphQL SDL (schema.graphql)")
    export.add_argument("path", nargs="?", default="schema.graphql")

    seed = commands.add_parser("seed", help="create a venue of about N seats and an event there")
    seed.add_argument("--seats", type=int, required=True, help="designated seats")
    seed.add_argument("--general-admission", type=int, default=0, help="standing places")
    seed.add_argument("--name", default="Stadium", help="venue name")
    seed.add_argument(
        "--section-size", type=int, default=None, help="seats per section (default: up to 1,000)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    settings = Settings()
    if args.command == "serve":
        if args.workers > 1 and settings.is_sqlite:
            # Each worker is its own process; SQLite's WAL lock arbitrates between them.
            os.environ.setdefault("TICKETING_DATABASE_URL", settings.database_url)
        _serve(settings, args)
    elif args.command == "db":
        asyncio.run(_migrate(settings))
        print("database is at the latest schema", file=sys.stderr)
    elif args.command == "export-schema":
        # The CLI is the composition root: it may reach the GraphQL adapter, by name.
        export = importlib.import_module("schema.export")
        Path(args.path).write_text(export.sdl(), encoding="utf-8")
        print(f"wrote {args.path}", file=sys.stderr)
    elif args.command == "seed":
        if args.seats < 0 or args.general_admission < 0 or args.seats + args.general_admission == 0:
            raise SystemExit("seed: --seats and --general-admission must be >= 0, not both 0")
        if args.section_size is not None and args.section_size < 1:
            raise SystemExit("seed: --section-size must be at least 1")
        asyncio.run(
            _seed(
                settings,
                seats=args.seats,
                general_admission=args.general_admission,
                name=args.name,
                section_size=args.section_size,
            )
        )


if __name__ == "__main__":
    main()

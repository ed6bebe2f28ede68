"""The `ticketing` console script: serve, migrate, seed, manage accounts."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import json
import os
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ticketing.accounts import accounts
from ticketing.db import Database
from ticketing.demo import is_empty, seed_demo, seed_stadium
from ticketing.domain import Role
from ticketing.errors import TicketingError
from ticketing.migrate import upgrade
from ticketing.payments import signatures
from ticketing.settings import Settings
from ticketing.tickets import keys, payload


async def _migrate(settings: Settings, *, demo: bool = False) -> None:
    db = Database.of(settings)
    try:
        await upgrade(db.engine)
        if demo and await is_empty(db):
            await seed_demo(db, now=datetime.now(UTC))
            print("seeded the demo venue and two events", file=sys.stderr)
    finally:
        await db.dispose()


async def _seed(
    settings: Settings,
    *,
    seats: int,
    general_admission: int,
    name: str,
    section_size: int | None,
) -> None:
    db = Database.of(settings)
    try:
        await upgrade(db.engine)
        seeded = await seed_stadium(
            db,
            seats=seats,
            general_admission=general_admission,
            name=name,
            now=datetime.now(UTC),
            section_size=section_size,
        )
        print(json.dumps({"venue_id": seeded.venue_id, "event_id": seeded.event_id}))
    finally:
        await db.dispose()


PASSWORD_VARIABLE = "TICKETING_USER_PASSWORD"  # noqa: S105 (a variable name)


def _password() -> str:
    """From the environment (scripts), else asked twice on the terminal."""
    # The CLI is the composition root: reading this one-off secret here keeps it out of Settings.
    password = os.environ.get(PASSWORD_VARIABLE)
    if password:
        return password
    if not sys.stdin.isatty():
        raise SystemExit(f"users create: set {PASSWORD_VARIABLE} or run on a terminal")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != password:
        raise SystemExit("users create: the passwords differ")
    return password


async def _users(settings: Settings, args: argparse.Namespace) -> None:
    db = Database.of(settings)
    try:
        await upgrade(db.engine)
        if args.users_command == "create":
            user = await accounts.register(
                db,
                email=args.email,
                password=_password(),
                now=datetime.now(UTC),
                policy=settings.auth,
                role=Role.MANAGER if args.manager else Role(args.role),
                client=None,  # an operator at the console, not a network client
            )
        else:
            user = await accounts.promote(db, email=args.email, role=Role(args.role))
        print(json.dumps({"id": user.id, "email": user.email, "role": user.role.value}))
    except TicketingError as exc:
        raise SystemExit(f"users {args.users_command}: {exc.message}") from None
    finally:
        await db.dispose()


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    # Once, before any worker exists: workers that each migrated and seeded would race.
    asyncio.run(_migrate(settings, demo=not args.no_demo))
    # With workers > 1 uvicorn supervises them: it starts a worker again when one dies.
    uvicorn.run(
        "rest.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=args.access_log,
    )


def _sign(settings: Settings, args: argparse.Namespace) -> None:
    """Print the header the payment provider would send, and a curl line that sends it."""
    secret = settings.payments.secret_value
    if secret is None:
        raise SystemExit("payments sign: set TICKETING_PAYMENTS__SECRET (the provider's secret)")
    try:
        payment_id = uuid.UUID(args.payment_id)
    except ValueError:
        raise SystemExit(f"payments sign: {args.payment_id!r} is not a payment id") from None
    header = signatures.sign(
        secret,
        payment_id=payment_id,
        outcome=args.outcome,
        timestamp=int(datetime.now(UTC).timestamp()),
    )
    url = f"{args.url.rstrip('/')}/payments/{payment_id}/{args.outcome}"
    print(f"{signatures.HEADER}: {header}")
    print(f"curl -s -X POST {url} -H '{signatures.HEADER}: {header}'")


def _verify(settings: Settings, args: argparse.Namespace) -> None:
    """Check a payload with the public key alone, as a scanner does without a network."""
    try:
        if args.public_key is not None:
            public_key = keys.load_public_key(args.public_key.read_bytes())
        else:
            public_key = keys.ticket_keys(settings, create=False).public_key
    except (OSError, keys.SigningKeyError) as exc:
        raise SystemExit(f"tickets verify: {exc}") from None
    try:
        facts = payload.verify(args.payload, public_key)
    except TicketingError as exc:
        raise SystemExit(f"tickets verify: {exc.message}") from None
    print(json.dumps({"valid": True, **facts.as_dict()}, ensure_ascii=False))


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

    users = commands.add_parser("users", help="accounts: create one, give one a role")
    users_commands = users.add_subparsers(dest="users_command", required=True)
    create = users_commands.add_parser(
        "create", help=f"create an account (password from ${PASSWORD_VARIABLE} or asked)"
    )
    create.add_argument("email")
    roles = [role.value for role in Role]
    create.add_argument("--role", choices=roles, default=Role.CUSTOMER.value)
    create.add_argument("--manager", action="store_true", help="the same as --role manager")
    promote = users_commands.add_parser(
        "promote", help="give an account a role (the manager role unless --role)"
    )
    promote.add_argument("email")
    promote.add_argument("--role", choices=roles, default=Role.MANAGER.value)

    tickets = commands.add_parser("tickets", help="tickets: check a QR payload offline")
    tickets_commands = tickets.add_subparsers(dest="tickets_command", required=True)
    verify = tickets_commands.add_parser(
        "verify", help="verify a ticket's QR payload; print its facts (exit 1 when not valid)"
    )
    verify.add_argument("payload")
    verify.add_argument(
        "--public-key",
        type=Path,
        help="the PEM from GET /tickets/public-key (default: this installation's key)",
    )

    payments = commands.add_parser("payments", help="payments: sign a provider callback by hand")
    payments_commands = payments.add_subparsers(dest="payments_command", required=True)
    sign = payments_commands.add_parser(
        "sign", help="print the Ticketing-Signature header (and a curl line) for a callback"
    )
    sign.add_argument("payment_id")
    sign.add_argument("outcome", choices=signatures.OUTCOMES)
    sign.add_argument("--url", default="http://127.0.0.1:8000", help="the API's base URL")

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
    elif args.command == "users":
        asyncio.run(_users(settings, args))
    elif args.command == "payments":
        _sign(settings, args)
    elif args.command == "tickets":
        _verify(settings, args)
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

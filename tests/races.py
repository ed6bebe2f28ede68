"""Race harness shared by the race tests: fire many clients at once, tally what they were told,
and the deliberately naive claims (read, then write) that prove the harness catches a double sale.
The naive code lives here, in the tests, never in the product."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.sql import fetch
from ticketing.db import Database
from ticketing.models import event_seat_t, payment_t, ticket_t


def outcome(response: httpx.Response) -> str:
    if response.status_code == 200:
        return "ok"
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        return str(response.json()["code"])
    return f"http {response.status_code}"


async def race(
    clients: int,
    attempt: Callable[[int], Awaitable[str]],
    *,
    snapshot: Callable[[], Awaitable[str]] | None = None,
    slow_after_s: float = 2.0,
) -> Counter[str]:
    """Start `clients` attempts together (a barrier, then gather) and count their outcomes.

    `snapshot`: when the round is still running after `slow_after_s`, print what it returns (the
    database's sessions and locks), to see what a slow round waits for.
    """
    start = asyncio.Event()

    async def one(index: int) -> str:
        await start.wait()
        return await attempt(index)

    tasks = [asyncio.create_task(one(i)) for i in range(clients)]
    await asyncio.sleep(0)
    start.set()
    # An exception in one client is an outcome too: the others finish, and the tally shows it.
    gathered = asyncio.gather(*tasks, return_exceptions=True)
    if snapshot is not None:
        done, _ = await asyncio.wait({gathered}, timeout=slow_after_s)
        if not done:
            print(f"round still running after {slow_after_s} s:\n{await snapshot()}")
    results = await gathered
    tally = Counter(r if isinstance(r, str) else f"raised {r!r}"[:300] for r in results)
    print(f"race of {clients}: {dict(tally)}")  # shown with `pytest -s`, for the record
    return tally


async def postgres_activity(db: Database) -> str:
    """Sessions of this database with what they wait for, and ungranted locks (PostgreSQL)."""
    rows = await fetch(
        db,
        sa.text(
            "SELECT a.pid, a.state, a.wait_event_type, a.wait_event, "
            "round(extract(epoch FROM now() - a.xact_start)::numeric, 2) AS xact_s, "
            "pg_blocking_pids(a.pid) AS blocked_by, left(a.query, 100) AS query "
            "FROM pg_stat_activity a WHERE a.datname = current_database() "
            "AND a.pid <> pg_backend_pid() ORDER BY a.xact_start NULLS LAST"
        ),
    )
    return "\n".join(str(tuple(row)) for row in rows)


async def naive_claim_seat(
    engine: AsyncEngine, *, event_id: int, seat_id: int, cart_id: uuid.UUID, now: datetime
) -> str:
    """Check-then-write: read the status in one transaction, write in another. Wrong on purpose."""
    async with engine.connect() as connection:
        status = await connection.scalar(
            sa.select(event_seat_t.c.status).where(
                event_seat_t.c.event_id == event_id, event_seat_t.c.seat_id == seat_id
            )
        )
        await connection.commit()
    if status != 1:
        return "SEAT_NOT_AVAILABLE"
    # The time a real service spends between its check and its write: long enough for the whole
    # round's checks to land before the first write (on a fast database, 10 ms was not always).
    await asyncio.sleep(0.1)
    async with engine.connect() as connection:
        await connection.execution_options(ticketing_write=True)
        async with connection.begin():
            await connection.execute(
                sa.update(event_seat_t)
                .where(event_seat_t.c.event_id == event_id, event_seat_t.c.seat_id == seat_id)
                .values(status=2, cart_id=cart_id, expires_at=now + timedelta(minutes=15))
            )
    return "ok"


async def naive_finish_payment(engine: AsyncEngine, *, payment_id: uuid.UUID, outcome: str) -> str:
    """Check-then-write on a payment's status. Wrong on purpose."""
    async with engine.connect() as connection:
        status = await connection.scalar(
            sa.select(payment_t.c.status).where(payment_t.c.id == payment_id)
        )
        await connection.commit()
    if status != "pending":
        return "PAYMENT_FINALIZED"
    await asyncio.sleep(0.1)
    async with engine.connect() as connection:
        await connection.execution_options(ticketing_write=True)
        async with connection.begin():
            await connection.execute(
                sa.update(payment_t).where(payment_t.c.id == payment_id).values(status=outcome)
            )
    return outcome


async def naive_check_in(engine: AsyncEngine, *, code: str, now: datetime) -> str:
    """Check-then-write on a ticket's check-in. Wrong on purpose."""
    async with engine.connect() as connection:
        checked_in_at = await connection.scalar(
            sa.select(ticket_t.c.checked_in_at).where(ticket_t.c.code == code)
        )
        await connection.commit()
    if checked_in_at is not None:
        return "ALREADY_CHECKED_IN"
    await asyncio.sleep(0.1)
    async with engine.connect() as connection:
        await connection.execution_options(ticketing_write=True)
        async with connection.begin():
            await connection.execute(
                sa.update(ticket_t).where(ticket_t.c.code == code).values(checked_in_at=now)
            )
    return "ok"

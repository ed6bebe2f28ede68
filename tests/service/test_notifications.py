"""Notifications sent on commit (ticketing.db.notify): delivered once the unit of work commits,
never when it rolls back, and after a lost listening connection (PostgreSQL) listened to again."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.db import Database, command
from ticketing.db.notify import notify
from ticketing.errors import ErrorCode, TicketingError

CHANNEL = "ticketing_test"
WAIT_S = 5.0


@command
async def _noting(conn: AsyncConnection, *, payloads: list[str], refuse: bool) -> None:
    for payload in payloads:
        notify(conn, CHANNEL, payload)
    if refuse:
        raise TicketingError(ErrorCode.VALIDATION_ERROR, "refused")


class Heard:
    def __init__(self, db: Database) -> None:
        self.payloads: list[str | None] = []
        self.arrived = asyncio.Event()
        self.stop = db.notifications.listen(CHANNEL, self._heard)

    def _heard(self, payload: str | None) -> None:
        self.payloads.append(payload)
        self.arrived.set()

    async def until(self, payload: str | None) -> None:
        async with asyncio.timeout(WAIT_S):
            while payload not in self.payloads:
                self.arrived.clear()
                await self.arrived.wait()


async def test_notes_arrive_once_committed_and_never_when_rolled_back(own_db: Database) -> None:
    heard = Heard(own_db)
    await own_db.notifications.ready()
    with pytest.raises(TicketingError):
        await _noting(own_db, payloads=["rolled back"], refuse=True)
    await _noting(own_db, payloads=["1", "1", "2"], refuse=False)
    await heard.until("2")
    assert sorted(p for p in heard.payloads if p is not None) == ["1", "2"]
    heard.stop()


async def _listening_backends(db: Database) -> list[int]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
            )
        )
        return [row.pid for row in rows]


async def test_a_lost_listening_connection_is_made_again(own_db: Database, db_kind: str) -> None:
    if db_kind != "postgres":
        pytest.skip("SQLite's notes are delivered in-process: there is no connection to lose")
    heard = Heard(own_db)
    await own_db.notifications.ready()
    (first,) = await _listening_backends(own_db)
    heard.payloads.clear()
    async with own_db.engine.connect() as conn:
        await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    await heard.until(None)  # listening again: whatever was sent meanwhile may have been missed
    assert len([pid for pid in await _listening_backends(own_db) if pid != first]) == 1
    await _noting(own_db, payloads=["after"], refuse=False)
    await heard.until("after")
    heard.stop()

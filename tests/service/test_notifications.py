"""Seat changes heard on commit: once a unit of work commits, never when it rolls back; on
PostgreSQL by other processes too (NOTIFY after the commit), and again after a lost listening
connection."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import FakeClock
from tests.factories import make_event
from ticketing.db import Database, command
from ticketing.errors import ErrorCode, TicketingError
from ticketing.inventory.stamps import CHANNEL, seats_changed
from ticketing.models import event_seat_t
from ticketing.settings import Settings

WAIT_S = 5.0


@command
async def _touching(conn: AsyncConnection, *, event_ids: list[int], refuse: bool) -> None:
    """Change the events' seats as a command does (twice for a repeated id)."""
    for event_id in event_ids:
        await conn.execute(
            sa.update(event_seat_t)
            .where(event_seat_t.c.event_id == event_id)
            .values(changed_in=event_seat_t.c.changed_in)
        )
        seats_changed(conn, [event_id])
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


async def test_changes_are_heard_once_committed_and_never_when_rolled_back(
    own_db: Database, clock: FakeClock
) -> None:
    first = (await make_event(own_db, now=clock.now, name="First")).event_id
    second = (await make_event(own_db, now=clock.now, name="Second")).event_id
    third = (await make_event(own_db, now=clock.now, name="Third")).event_id
    heard = Heard(own_db)
    await own_db.notifications.ready()
    with pytest.raises(TicketingError):
        await _touching(own_db, event_ids=[third], refuse=True)
    await _touching(own_db, event_ids=[first, first, second], refuse=False)
    await heard.until(str(second))
    assert sorted(p for p in heard.payloads if p is not None) == sorted([str(first), str(second)])
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


async def test_a_lost_listening_connection_is_made_again(
    own_db: Database, db_kind: str, clock: FakeClock
) -> None:
    if db_kind != "postgres":
        pytest.skip("SQLite's notes are delivered in-process: there is no connection to lose")
    event_id = (await make_event(own_db, now=clock.now)).event_id
    heard = Heard(own_db)
    await own_db.notifications.ready()
    (first,) = await _listening_backends(own_db)
    heard.payloads.clear()
    async with own_db.engine.connect() as conn:
        await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    await heard.until(None)  # listening again: whatever was sent meanwhile may have been missed
    assert len([pid for pid in await _listening_backends(own_db) if pid != first]) == 1
    await _touching(own_db, event_ids=[event_id], refuse=False)
    await heard.until(str(event_id))
    heard.stop()


async def test_another_process_hears_the_changes_once_committed(
    own_db: Database, settings: Settings, db_kind: str, clock: FakeClock
) -> None:
    if db_kind != "postgres":
        pytest.skip("SQLite's notes stay in their process: other processes poll")
    first = (await make_event(own_db, now=clock.now, name="First")).event_id
    second = (await make_event(own_db, now=clock.now, name="Second")).event_id
    elsewhere = Database.of(settings)  # its own engine and listening connection
    try:
        heard = Heard(elsewhere)
        await elsewhere.notifications.ready()
        with pytest.raises(TicketingError):
            await _touching(own_db, event_ids=[second], refuse=True)
        await _touching(own_db, event_ids=[first], refuse=False)
        await heard.until(str(first))
        # announced in commit order: the rolled-back change would have come first
        assert [p for p in heard.payloads if p is not None] == [str(first)]
        heard.stop()
    finally:
        await elsewhere.dispose()

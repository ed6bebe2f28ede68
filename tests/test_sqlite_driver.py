"""SQLite through `ticketing.sqlite_driver`: a cart step runs on the event loop's thread, and
crosses to aiosqlite's thread only for what waits (another connection's write lock) or may take
long (a checkpoint of the WAL); a write that waits for another process leaves the event loop
free meanwhile, and gives up with SERVICE_BUSY after the lock timeout."""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiosqlite
import pytest
from sqlalchemy.engine import make_url

from rest.app import create_app
from tests.conftest import FakeClock
from tests.factories import make_event
from ticketing import sqlite_driver
from ticketing.domain import SeatStatus
from ticketing.errors import ErrorCode, TicketingError
from ticketing.services import carts, catalog
from ticketing.settings import Settings

pytestmark = pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)


@contextmanager
def hops() -> Iterator[list[str]]:
    """What went to an aiosqlite thread while the block ran."""
    seen: list[str] = []
    original = aiosqlite.Connection._execute

    async def counting(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(args[1]) if len(args) > 1 else getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    aiosqlite.Connection._execute = counting  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        aiosqlite.Connection._execute = original  # type: ignore[method-assign]


async def test_a_hold_runs_on_the_loops_thread(settings: Settings, clock: FakeClock) -> None:
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        async with app.state.sessionmaker() as session:
            event = await make_event(session, now=clock.now)
        cart, seat = uuid.uuid4(), event.seat_ids[0]
        with hops() as seen:
            async with app.state.sessionmaker() as session:
                view = await carts.add_seat_to_cart(
                    session,
                    cart_id=cart,
                    event_id=event.event_id,
                    seat_id=seat,
                    price_id=event.price_ids["Adult"],
                    now=clock.now,
                    policy=settings.cart_policy,
                )
        assert [item.seat_id for item in view.items] == [seat]
        # the peek, BEGIN IMMEDIATE (the lock was free), the claim and COMMIT: no thread hop
        assert seen == []
        async with app.state.sessionmaker() as session:
            seats = await catalog.list_section_seats(
                session,
                event_id=event.event_id,
                section_id=event.section_ids["Main"],
                now=clock.now,
            )
        assert next(s for s in seats if s.seat_id == seat).status is SeatStatus.HELD


async def test_a_write_waiting_for_the_lock_leaves_the_loop_free(
    settings: Settings, clock: FakeClock
) -> None:
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        async with app.state.sessionmaker() as session:
            event = await make_event(session, now=clock.now)
        path = make_url(settings.database_url).database or ""
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process is writing
        ticks: list[float] = []

        async def heartbeat() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        async def hold() -> Any:
            async with app.state.sessionmaker() as session:
                return await carts.add_seat_to_cart(
                    session,
                    cart_id=uuid.uuid4(),
                    event_id=event.event_id,
                    seat_id=event.seat_ids[1],
                    price_id=event.price_ids["Adult"],
                    now=clock.now,
                    policy=settings.cart_policy,
                )

        beating = asyncio.create_task(heartbeat())
        holding = asyncio.create_task(hold())
        try:
            await asyncio.sleep(0.3)
            assert not holding.done()  # it waits for the lock...
            other.execute("ROLLBACK")
            view = await holding  # ...and takes the seat once the other writer is done
        finally:
            other.close()
            beating.cancel()
        assert [item.seat_id for item in view.items] == [event.seat_ids[1]]
        gaps = [later - earlier for earlier, later in itertools.pairwise(ticks)]
        assert len(ticks) >= 15, ticks  # the loop kept running while the hold waited
        assert max(gaps) < 0.1, max(gaps)


async def test_every_nth_write_commit_checkpoints_in_aiosqlites_thread(
    settings: Settings, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits do not checkpoint on the loop's thread (wal_autocheckpoint=0); every
    CHECKPOINT_EVERY-th write commit commits and checkpoints in aiosqlite's thread."""
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        async with app.state.sessionmaker() as session:
            event = await make_event(session, now=clock.now)
        monkeypatch.setattr(sqlite_driver, "CHECKPOINT_EVERY", 1)
        with hops() as seen:
            async with app.state.sessionmaker() as session:
                await carts.add_seat_to_cart(
                    session,
                    cart_id=uuid.uuid4(),
                    event_id=event.event_id,
                    seat_id=event.seat_ids[0],
                    price_id=event.price_ids["Adult"],
                    now=clock.now,
                    policy=settings.cart_policy,
                )
        assert seen == ["_commit_and_checkpoint"]


async def test_a_writer_queued_behind_another_process_gives_up_with_service_busy(
    settings: Settings, clock: FakeClock
) -> None:
    """Writers of every process queue on the database's writer-lock file; one that cannot get it
    within the lock timeout is SERVICE_BUSY (503, retry later), and changes nothing."""
    busy = settings.model_copy(update={"lock_timeout_ms": 300})
    app = create_app(busy, clock=clock)
    async with app.router.lifespan_context(app):
        async with app.state.sessionmaker() as session:
            event = await make_event(session, now=clock.now)
        lock_path = f"{make_url(settings.database_url).database}.writer-lock"
        fd = os.open(lock_path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # another worker process is writing, for too long
            started = time.monotonic()
            with pytest.raises(TicketingError) as refused:
                async with app.state.sessionmaker() as session:
                    await carts.add_seat_to_cart(
                        session,
                        cart_id=uuid.uuid4(),
                        event_id=event.event_id,
                        seat_id=event.seat_ids[0],
                        price_id=event.price_ids["Adult"],
                        now=clock.now,
                        policy=busy.cart_policy,
                    )
            waited = time.monotonic() - started
        finally:
            os.close(fd)  # (closing the descriptor lets go of the lock)
        assert refused.value.code is ErrorCode.SERVICE_BUSY
        assert 0.25 < waited < 2, waited
        async with app.state.sessionmaker() as session:
            seats = await catalog.list_section_seats(
                session,
                event_id=event.event_id,
                section_id=event.section_ids["Main"],
                now=clock.now,
            )
        assert (
            next(s for s in seats if s.seat_id == event.seat_ids[0]).status is SeatStatus.AVAILABLE
        )
        # the lock the waiting thread got after the timeout was let go: the next writer proceeds
        async with app.state.sessionmaker() as session:
            view = await carts.add_seat_to_cart(
                session,
                cart_id=uuid.uuid4(),
                event_id=event.event_id,
                seat_id=event.seat_ids[0],
                price_id=event.price_ids["Adult"],
                now=clock.now,
                policy=busy.cart_policy,
            )
        assert [item.seat_id for item in view.items] == [event.seat_ids[0]]

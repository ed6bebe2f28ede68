"""A write that cannot get its lock in time is a 503 with Retry-After, never a 500, and changes
nothing; reads go on meanwhile."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from rest.app import create_app
from tests.api import add_seat, new_cart, problem
from tests.conftest import FakeClock
from tests.factories import make_event
from ticketing.db import query
from ticketing.errors import ErrorCode, TicketingError
from ticketing.settings import Settings


@asynccontextmanager
async def another_writer(
    db_kind: str, database_url: str, event_id: int, seat_id: int
) -> AsyncIterator[None]:
    """Another process holding the lock our write needs: SQLite's write lock (a connection in
    BEGIN IMMEDIATE), or on PostgreSQL the seat's row lock."""
    if db_kind == "sqlite":
        connection = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            yield
            connection.execute("ROLLBACK")
        finally:
            connection.close()
        return
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as pg, pg.begin():
            await pg.execute(
                sa.text("SELECT 1 FROM event_seat WHERE event_id = :e AND seat_id = :s FOR UPDATE"),
                {"e": event_id, "s": seat_id},
            )
            yield
    finally:
        await engine.dispose()


async def test_lock_timeout_is_503_with_retry_after_and_changes_nothing(
    settings: Settings, clock: FakeClock, db_kind: str
) -> None:
    busy = settings.model_copy(update={"lock_timeout_ms": 300})
    app = create_app(busy, clock=clock)
    async with app.router.lifespan_context(app):
        event = await make_event(app.state.db, now=clock.now)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            seat, price, cart = event.seat_ids[0], event.price_ids["Adult"], new_cart()
            async with another_writer(db_kind, busy.database_url, event.event_id, seat):
                response = await add_seat(
                    client, cart, event_id=event.event_id, seat_id=seat, price_id=price
                )
                reads = await client.get(f"/events/{event.event_id}/sections")
            problem(response, 503, "SERVICE_BUSY")
            assert response.headers["retry-after"] == "1"
            assert reads.status_code == 200
            assert (await client.get(f"/orders/carts/{cart}")).json()["items"] == []
            retried = await add_seat(
                client, cart, event_id=event.event_id, seat_id=seat, price_id=price
            )
            assert retried.status_code == 200, retried.text


async def test_exhausted_connection_pool_is_503_not_500(
    settings: Settings, clock: FakeClock
) -> None:
    """Overload (every pooled connection busy for longer than the wait) is a retryable 503."""
    tiny = settings.model_copy(
        update={"db_pool_size": 1, "db_max_overflow": 0, "pool_timeout_ms": 300}
    )
    app = create_app(tiny, clock=clock)
    async with app.router.lifespan_context(app):
        event = await make_event(app.state.db, now=clock.now)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            async with app.state.db.engine.connect() as hog:
                await hog.execute(sa.text("SELECT 1"))  # holds the only connection
                busy = await add_seat(
                    client,
                    new_cart(),
                    event_id=event.event_id,
                    seat_id=event.seat_ids[0],
                    price_id=event.price_ids["Adult"],
                )
                reads = await client.get(f"/events/{event.event_id}/sections")
                graphql = await client.post("/graphql", json={"query": "{ venues { name } }"})
            problem(busy, 503, "SERVICE_BUSY")
            problem(reads, 503, "SERVICE_BUSY")
            (error,) = graphql.json()["errors"]
            assert error["message"] == "The service is busy with other orders; retry in a moment."
            assert busy.headers["retry-after"] == "1"
            assert (await client.get(f"/events/{event.event_id}/sections")).status_code == 200


async def test_units_beyond_a_workers_concurrency_wait_their_turn(
    settings: Settings, clock: FakeClock
) -> None:
    """A worker runs `db_concurrency` service calls at once; the next waits, in order, and one
    that waits longer than the pool timeout is SERVICE_BUSY (it never reached the database)."""
    narrow = settings.model_copy(update={"db_concurrency": 1, "pool_timeout_ms": 300})
    app = create_app(narrow, clock=clock)
    started: list[str] = []
    release = asyncio.Event()

    @query
    async def slow(conn: AsyncConnection, *, name: str) -> str:
        started.append(name)
        await conn.execute(sa.select(sa.literal(1)))
        await release.wait()
        return name

    async def call(name: str) -> str:
        return await slow(app.state.db, name=name)

    async with app.router.lifespan_context(app):
        first = asyncio.create_task(call("first"))
        second = asyncio.create_task(call("second"))
        await asyncio.sleep(0.1)
        assert started == ["first"]  # the second waits for the only slot
        release.set()
        assert [await first, await second] == ["first", "second"]
        assert started == ["first", "second"]

        release.clear()
        hog = asyncio.create_task(call("hog"))
        await asyncio.sleep(0.05)
        with pytest.raises(TicketingError) as waited_too_long:
            await call("late")
        assert waited_too_long.value.code is ErrorCode.SERVICE_BUSY
        assert "late" not in started
        release.set()
        assert await hog == "hog"

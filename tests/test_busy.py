"""A write that cannot get its lock in time is a 503 with Retry-After, never a 500, and changes
nothing; reads go on meanwhile."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from rest.app import create_app
from tests.api import add_seat, new_cart, problem
from tests.conftest import FakeClock
from tests.factories import make_event
from ticketing.settings import Settings


@contextmanager
def sqlite_write_lock(database_url: str) -> Iterator[None]:
    """Another process's writer, as SQLite sees it: a connection inside BEGIN IMMEDIATE."""
    connection = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()


@asynccontextmanager
async def postgres_row_lock(database_url: str, event_id: int, seat_id: int) -> AsyncIterator[None]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection, connection.begin():
            await connection.execute(
                sa.text("SELECT 1 FROM event_seat WHERE event_id = :e AND seat_id = :s FOR UPDATE"),
                {"e": event_id, "s": seat_id},
            )
            yield
    finally:
        await engine.dispose()


@pytest.fixture
def busy_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"lock_timeout_ms": 300})


async def test_lock_timeout_is_503_with_retry_after_and_changes_nothing(
    busy_settings: Settings, clock: FakeClock, db_kind: str
) -> None:
    app = create_app(busy_settings, clock=clock)
    async with app.router.lifespan_context(app):
        async with app.state.sessionmaker() as session:
            event = await make_event(session, now=clock.now)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            seat = event.seat_ids[0]
            cart = new_cart()
            lock = sqlite_write_lock(busy_settings.database_url) if db_kind == "sqlite" else None
            if lock is not None:
                with lock:
                    response = await add_seat(
                        client,
                        cart,
                        event_id=event.event_id,
                        seat_id=seat,
                        price_id=event.price_ids["Adult"],
                    )
                    reads = await client.get(f"/events/{event.event_id}/sections")
            else:
                async with postgres_row_lock(busy_settings.database_url, event.event_id, seat):
                    response = await add_seat(
                        client,
                        cart,
                        event_id=event.event_id,
                        seat_id=seat,
                        price_id=event.price_ids["Adult"],
                    )
                    reads = await client.get(f"/events/{event.event_id}/sections")
            problem(response, 503, "SERVICE_BUSY")
            assert response.headers["retry-after"] == "1"
            assert reads.status_code == 200
            assert (await client.get(f"/orders/carts/{cart}")).json()["items"] == []
            retried = await add_seat(
                client,
                cart,
                event_id=event.event_id,
                seat_id=seat,
                price_id=event.price_ids["Adult"],
            )
            assert retried.status_code == 200, retried.text

"""Pooled connections the server closed while they sat idle are replaced, not used."""

from __future__ import annotations

import os

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

import ticketing.db.engine
from tests.conftest import FakeClock
from tests.factories import EventFixture, make_event


async def _terminate_app_connections(database_url: str) -> int:
    """Kill this process's pooled connections from the server side, as a restart or an idle
    timeout would."""
    engine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            killed = await connection.scalar(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = :name"
                ),
                {"name": f"ticketing-{os.getpid()}"},
            )
    finally:
        await engine.dispose()
    return int(killed or 0)


async def test_idle_connections_killed_by_the_server_are_replaced(
    db_kind: str,
    database_url: str,
    app: FastAPI,
    client: httpx.AsyncClient,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if db_kind != "postgres":
        pytest.skip("SQLite connections are files: nothing closes them")
    event: EventFixture = await make_event(app.state.db, now=clock.now)
    url = f"/events/{event.event_id}/sections"
    assert (await client.get(url)).status_code == 200  # the pool holds a connection now
    assert await _terminate_app_connections(database_url) >= 1

    monkeypatch.setattr(ticketing.db.engine, "_IDLE_BEFORE_PING_S", 0.0)  # every checkout pings
    for _ in range(3):
        response = await client.get(url)
        assert response.status_code == 200, response.text


async def test_control_without_the_ping_a_killed_connection_fails(
    db_kind: str,
    database_url: str,
    app: FastAPI,
    client: httpx.AsyncClient,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same steps with pings switched off: the request fails, so the test above would see a
    connection the server closed."""
    if db_kind != "postgres":
        pytest.skip("SQLite connections are files: nothing closes them")
    event: EventFixture = await make_event(app.state.db, now=clock.now)
    url = f"/events/{event.event_id}/sections"
    assert (await client.get(url)).status_code == 200
    assert await _terminate_app_connections(database_url) >= 1
    monkeypatch.setattr(ticketing.db.engine, "_IDLE_BEFORE_PING_S", 1e9)  # never ping
    statuses = [(await client.get(url)).status_code for _ in range(3)]
    assert 500 in statuses or 503 in statuses, statuses

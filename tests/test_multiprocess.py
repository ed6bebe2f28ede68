"""Across processes: `ticketing serve --workers 2` with 50 HTTP clients racing for one seat (on
PostgreSQL both workers must have served it), and workers killed while the service goes on."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.invariants import violations
from tests.races import naive_claim_seat, outcome, race
from tests.server import seed, serving, serving_process, worker_pids
from ticketing.db import Database, create_engine
from ticketing.settings import Settings

CLIENTS = 50
ROUNDS = 6


async def _price_and_seats(http: httpx.AsyncClient, event_id: int) -> tuple[int, list[int]]:
    sections = (await http.get(f"/events/{event_id}/sections")).json()
    seats = (await http.get(f"/events/{event_id}/sections/{sections[0]['id']}/seats")).json()
    return seats[0]["price_options"][0]["id"], [s["seat_id"] for s in seats]


async def _check_invariants(database_url: str) -> dict[str, list[tuple[object, ...]]]:
    db = Database.of(Settings(database_url=database_url))
    try:
        return await violations(db)
    finally:
        await db.dispose()


async def _worker_processes_seen(database_url: str) -> set[str]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                sa.text(
                    "SELECT DISTINCT application_name FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name LIKE 'ticketing-%'"
                )
            )
            return {row[0] for row in rows}
    finally:
        await engine.dispose()


@pytest.mark.slow
async def test_two_worker_processes_one_seat_exactly_one_wins(
    database_url: str, db_kind: str
) -> None:
    seeded = await asyncio.to_thread(seed, database_url, seats=200)
    with serving(database_url, workers=2) as base_url:
        limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as http:
            price_id, seat_ids = await _price_and_seats(http, seeded["event_id"])
            for round_number in range(ROUNDS):
                seat = seat_ids[round_number]

                async def attempt(_: int, seat: int = seat) -> str:
                    response = await http.post(
                        f"/orders/carts/{uuid.uuid4()}",
                        json={
                            "event_id": seeded["event_id"],
                            "seat_id": seat,
                            "price_id": price_id,
                        },
                    )
                    return outcome(response)

                tally = await race(CLIENTS, attempt)
                assert tally == {"ok": 1, "SEAT_NOT_AVAILABLE": CLIENTS - 1}, (round_number, tally)
            if db_kind == "postgres":
                # Each worker tags its connections with its pid: two tags, two processes raced.
                assert len(await _worker_processes_seen(database_url)) == 2
    assert await _check_invariants(database_url) == {}


@pytest.mark.slow
async def test_control_naive_claim_across_connections_double_sells(
    database_url: str, db_kind: str
) -> None:
    """The same counting, on a check-then-write claim from many connections: it must double-sell."""
    seeded = await asyncio.to_thread(seed, database_url, seats=30)
    engine = create_engine(Settings(database_url=database_url, db_pool_size=CLIENTS))
    try:
        async with engine.connect() as connection:
            seat_id = await connection.scalar(
                sa.text("SELECT MIN(seat_id) FROM event_seat WHERE event_id = :e"),
                {"e": seeded["event_id"]},
            )
        now = datetime.now(UTC)

        async def attempt(_: int) -> str:
            return await naive_claim_seat(
                engine, event_id=seeded["event_id"], seat_id=seat_id, cart_id=uuid.uuid4(), now=now
            )

        tally = await race(CLIENTS, attempt)
    finally:
        await engine.dispose()
    assert tally["ok"] > 1, tally
    assert await _check_invariants(database_url) != {}


async def _hold_each(base_url: str, event_id: int, price_id: int, seat_ids: list[int]) -> list[int]:
    """One hold per seat, each on a new connection, so that every worker's accept is tried."""
    statuses = []
    for seat in seat_ids:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            response = await http.post(
                f"/orders/carts/{uuid.uuid4()}",
                json={"event_id": event_id, "seat_id": seat, "price_id": price_id},
            )
            statuses.append(response.status_code)
    return statuses


async def _wait_for_replacement(server_pid: int, killed: int, *, count: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pids = worker_pids(server_pid)
        if len(pids) == count and killed not in pids:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"no worker replaced {killed} within 60 s: {worker_pids(server_pid)}")


@pytest.mark.slow
async def test_a_killed_worker_is_replaced_and_requests_go_on(
    database_url: str,
) -> None:
    seeded = await asyncio.to_thread(seed, database_url, seats=60)
    with serving_process(database_url, workers=2) as (base_url, server_pid):
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            price_id, seat_ids = await _price_and_seats(http, seeded["event_id"])
        workers = worker_pids(server_pid)
        assert len(workers) == 2, workers
        killed = min(workers)
        os.kill(killed, signal.SIGKILL)
        # the other worker answers meanwhile: the listening socket is shared, not the dead one's
        held = await _hold_each(base_url, seeded["event_id"], price_id, seat_ids[:10])
        assert held == [200] * 10, held
        await _wait_for_replacement(server_pid, killed, count=2)
        # and now the original survivor: what answers next is a worker uvicorn started again
        os.kill(max(workers), signal.SIGKILL)
        held = await _hold_each(base_url, seeded["event_id"], price_id, seat_ids[10:20])
        assert held == [200] * 10, held
        await _wait_for_replacement(server_pid, max(workers), count=2)
    assert await _check_invariants(database_url) == {}

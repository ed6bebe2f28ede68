"""No N+1: a query over every section, row, seat and price of an event costs the same, small
number of SQL statements for a 300-seat and an 800-seat event (near the budget of seats as
objects per operation with all their fields: larger maps are for `seatMap`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from tests.conftest import FakeClock
from ticketing.db import Database
from ticketing.demo import seed_stadium

FULL_MAP = """
query FullMap($id: ID!) {
  event(id: $id) {
    name startsAt currency
    venue { name sections { id name } }
    priceLevels { id name }
    sections {
      id name kind capacity availableCount
      rows {
        id name
        seats { id number type status priceOptions { id name price { amount currency } } }
      }
      seats(status: AVAILABLE) { id }
    }
  }
}
"""
MAX_STATEMENTS = 13  # cold caches: the check, the event, its layouts and statuses, venue, rows


@contextmanager
def counting_statements(app: FastAPI) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = app.state.db.engine.sync_engine

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.strip().upper() != "BEGIN":  # SQLite's explicit BEGIN, not a query
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


async def _full_map(
    client: httpx.AsyncClient, app: FastAPI, event_id: int
) -> tuple[list[str], dict[str, object], float]:
    with counting_statements(app) as statements:
        started = time.perf_counter()
        response = await client.post(
            "/graphql", json={"query": FULL_MAP, "variables": {"id": str(event_id)}}
        )
        elapsed = time.perf_counter() - started
    body = response.json()
    assert "errors" not in body, body
    data: dict[str, object] = body["data"]["event"]
    return list(statements), data, elapsed


async def test_full_seat_map_costs_a_fixed_number_of_statements(
    client: httpx.AsyncClient, app: FastAPI, db: Database, clock: FakeClock, db_kind: str
) -> None:
    small = await seed_stadium(db, seats=300, general_admission=30, name="Club", now=clock.now)
    big = await seed_stadium(db, seats=800, general_admission=50, name="Arena", now=clock.now)
    small_statements, small_map, _ = await _full_map(client, app, small.event_id)
    assert small_map["name"] == "Club: Opening Night"
    big_statements, big_map, seconds = await _full_map(client, app, big.event_id)

    sections = big_map["sections"]
    assert isinstance(sections, list)
    seats = sum(len(row["seats"]) for s in sections for row in s["rows"])
    assert seats == 800
    assert sum(len(s["seats"]) for s in sections) == 850
    assert len(big_statements) == len(small_statements)
    assert len(big_statements) <= MAX_STATEMENTS, big_statements
    # Asked again: served from the cached result, after one statement checked what changed.
    again_statements, again_map, again_seconds = await _full_map(client, app, big.event_id)
    assert again_map == big_map
    assert len(again_statements) == 1, again_statements
    print(f"\n[{db_kind}] again: {len(again_statements)} statement, {again_seconds * 1000:.0f} ms")
    print(
        f"\n[{db_kind}] full map of an 800-seat event: {len(big_statements)} SQL statements, "
        f"{seconds * 1000:.0f} ms"
    )

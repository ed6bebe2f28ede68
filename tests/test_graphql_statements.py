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

from tests.accounts import signed_in
from tests.api import new_cart
from tests.conftest import FakeClock
from tests.factories import EventFixture, make_event
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


MY_CARTS = """
{ me { carts { id status payment { id status total { amount } tickets { id seatId } } } } }
"""


async def _customer_with_booked_carts(
    client: httpx.AsyncClient, event: EventFixture, seats: list[int]
) -> dict[str, str]:
    """A signed-in customer with one booked cart per seat; the first cart's payment completed,
    so that its tickets are read too."""
    headers = await signed_in(client)
    for index, seat_id in enumerate(seats):
        cart_id = new_cart()
        held = await client.post(
            f"/orders/carts/{cart_id}",
            json={
                "event_id": event.event_id,
                "seat_id": seat_id,
                "price_id": event.price_ids["Adult"],
            },
            headers=headers,
        )
        assert held.status_code == 200, held.text
        booked = await client.put(f"/orders/carts/{cart_id}/book", headers=headers)
        assert booked.status_code == 200, booked.text
        if index == 0:
            payment_id = booked.json()["payment_id"]
            paid = await client.post(f"/payments/{payment_id}/complete", headers=headers)
            assert paid.status_code == 200, paid.text
    return headers


async def test_my_carts_payments_cost_the_same_for_one_cart_and_five(
    client: httpx.AsyncClient, app: FastAPI, db: Database, clock: FakeClock
) -> None:
    event = await make_event(db, now=clock.now)
    one = await _customer_with_booked_carts(client, event, event.seat_ids[:1])
    five = await _customer_with_booked_carts(client, event, event.seat_ids[1:6])
    counted = []
    for headers, carts in ((one, 1), (five, 5)):
        with counting_statements(app) as statements:
            response = await client.post("/graphql", json={"query": MY_CARTS}, headers=headers)
        body = response.json()
        assert "errors" not in body, body
        found = body["data"]["me"]["carts"]
        assert len(found) == carts
        assert all(cart["payment"]["status"] in ("PENDING", "COMPLETED") for cart in found)
        assert sum(len(cart["payment"]["tickets"]) for cart in found) == 1
        counted.append(list(statements))
    assert len(counted[0]) == len(counted[1]), counted

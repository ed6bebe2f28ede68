"""What each cart and payment command costs the database, pinned per database: its statements
(counted through SQLAlchemy's own events) and that it is one transaction."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from tests.api import add_seat, new_cart
from tests.factories import EventFixture
from ticketing.db.notify import ANNOUNCING


@dataclass
class Recorded:
    statements: list[str] = field(default_factory=list)
    transactions: int = 0


@contextmanager
def recording(app: FastAPI) -> Iterator[Recorded]:
    """Statements sent (SQLite's BEGIN, which the engine sends as one, is a transaction's start,
    not a statement) and transactions begun, on the app's engine."""
    recorded = Recorded()
    engine = app.state.db.engine.sync_engine

    # After a commit, the process announces the commands' notes to other processes in a
    # transaction of its own (ticketing.db.notify), batched with other commands': not counted.
    def statement(conn: sa.Connection, _cursor: object, sql: str, *_: object) -> None:
        announcing = conn.get_execution_options().get(ANNOUNCING)
        if not announcing and not sql.lstrip().upper().startswith("BEGIN"):
            recorded.statements.append(sql)

    def begun(conn: sa.Connection) -> None:
        if not conn.get_execution_options().get(ANNOUNCING):
            recorded.transactions += 1

    sa.event.listen(engine, "before_cursor_execute", statement)
    sa.event.listen(engine, "begin", begun)
    try:
        yield recorded
    finally:
        sa.event.remove(engine, "before_cursor_execute", statement)
        sa.event.remove(engine, "begin", begun)


# (PostgreSQL, SQLite): PostgreSQL takes the cart's lock, then does the rest in one statement
# that must see what committed before the lock was granted; SQLite, one writer at a time, runs
# one statement per step.
COSTS = {
    "hold a seat": (2, 6),
    "hold a taken seat (refused)": (2, 2),
    "change the seat's price level": (2, 3),
    "book the cart": (2, 7),
    "complete the payment": (2, 9),
    "fail the payment": (2, 7),
    "read the cart": (2, 2),
    "hold general-admission places": (11, 11),
    "release a seat": (6, 6),
}


async def _costs(
    app: FastAPI, client: httpx.AsyncClient, event: EventFixture
) -> dict[str, tuple[int, int]]:
    found: dict[str, tuple[int, int]] = {}
    adult, child = event.price_ids["Adult"], event.price_ids["Child"]
    taken = event.seat_ids[1]
    held = await add_seat(
        client, new_cart(), event_id=event.event_id, seat_id=taken, price_id=adult
    )
    assert held.status_code == 200
    place = event.ga_seat_ids[0]  # the place a general-admission hold takes first

    async def step(name: str, method: str, url: str, body: object = None) -> httpx.Response:
        with recording(app) as recorded:
            response = await client.request(method, url, json=body)
        assert response.status_code in (200, 409), response.text
        found[name] = (len(recorded.statements), recorded.transactions)
        return response

    payments = []
    for cart, seat in ((new_cart(), event.seat_ids[0]), (new_cart(), event.seat_ids[2])):
        url = f"/orders/carts/{cart}"
        offer = {"event_id": event.event_id, "seat_id": seat, "price_id": adult}
        await step("hold a seat", "POST", url, offer)
        await step("hold a taken seat (refused)", "POST", url, {**offer, "seat_id": taken})
        await step("change the seat's price level", "POST", url, {**offer, "price_id": child})
        await step("read the cart", "GET", url)
        places = {**offer, "section_id": event.section_ids["Floor"], "quantity": 1}
        del places["seat_id"]
        await step("hold general-admission places", "POST", f"{url}/general-admission", places)
        await step("release a seat", "DELETE", f"{url}/events/{event.event_id}/seats/{place}")
        booked = await step("book the cart", "PUT", f"{url}/book")
        payments.append(booked.json()["payment_id"])
    await step("complete the payment", "POST", f"/payments/{payments[0]}/complete")
    await step("fail the payment", "POST", f"/payments/{payments[1]}/failed")
    return found


async def test_each_command_is_one_transaction_of_few_statements(
    app: FastAPI, client: httpx.AsyncClient, event: EventFixture, db_kind: str
) -> None:
    found = await _costs(app, client, event)
    expected = {name: (cost[0 if db_kind == "postgres" else 1], 1) for name, cost in COSTS.items()}
    assert found == expected


async def test_each_command_reuses_its_compiled_statements(
    app: FastAPI,
    client: httpx.AsyncClient,
    event: EventFixture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """SQLAlchemy compiles a statement once and reuses it, unless an element of it has no cache
    key: then it is compiled at every execution, and its log line says `[no key`."""
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine.Engine"):
        await _costs(app, client, event)
    logged = [record.getMessage() for record in caplog.records]
    assert any("[cached since" in line for line in logged)
    assert [line for line in logged if "[no key" in line] == []

"""What each cart and payment command costs the database, pinned per database: its statements
(counted through SQLAlchemy's own events) and that it is one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from tests.api import add_seat, book, new_cart
from tests.conftest import FakeClock
from tests.factories import EventFixture, make_event
from ticketing.db import Database


@pytest.fixture
async def event(db: Database, clock: FakeClock) -> EventFixture:
    return await make_event(db, now=clock.now)


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

    def statement(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        if not sql.lstrip().upper().startswith("BEGIN"):
            recorded.statements.append(sql)

    def begun(_conn: object) -> None:
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
    seat, other_seat = event.seat_ids[0], event.seat_ids[1]
    adult, child = event.price_ids["Adult"], event.price_ids["Child"]
    taken_by = new_cart()
    assert (
        await add_seat(
            client, taken_by, event_id=event.event_id, seat_id=other_seat, price_id=adult
        )
    ).status_code == 200  # noqa: E501
    carts = [new_cart(), new_cart()]
    place = event.ga_seat_ids[0]  # the place a general-admission hold takes first
    payments = []
    for cart in carts:
        steps = [
            (
                "hold a seat",
                lambda: add_seat(
                    client, cart, event_id=event.event_id, seat_id=seat, price_id=adult
                ),
            ),  # noqa: E501
            (
                "hold a taken seat (refused)",
                lambda: add_seat(
                    client, cart, event_id=event.event_id, seat_id=other_seat, price_id=adult
                ),
            ),  # noqa: E501
            (
                "change the seat's price level",
                lambda: add_seat(
                    client, cart, event_id=event.event_id, seat_id=seat, price_id=child
                ),
            ),  # noqa: E501
            ("read the cart", lambda: client.get(f"/orders/carts/{cart}")),
            (
                "hold general-admission places",
                lambda: client.post(
                    f"/orders/carts/{cart}/general-admission",
                    json={
                        "event_id": event.event_id,
                        "section_id": event.section_ids["Floor"],
                        "price_id": adult,
                        "quantity": 1,
                    },
                ),
            ),
            (
                "release a seat",
                lambda: client.delete(
                    f"/orders/carts/{cart}/events/{event.event_id}/seats/{place}"
                ),
            ),
            ("book the cart", lambda: book(client, cart)),
        ]
        for name, step in steps:
            with recording(app) as recorded:
                response = await step()
            assert response.status_code in (200, 409), response.text
            found[name] = (len(recorded.statements), recorded.transactions)
            if name == "book the cart":
                payments.append(response.json()["payment_id"])
        seat = event.seat_ids[2]
    for name, payment in (("complete the payment", payments[0]), ("fail the payment", payments[1])):
        outcome = "complete" if name.startswith("complete") else "failed"
        with recording(app) as recorded:
            response = await client.post(f"/payments/{payment}/{outcome}")
        assert response.status_code == 200, response.text
        found[name] = (len(recorded.statements), recorded.transactions)
    return found


async def test_each_command_is_one_transaction_of_few_statements(
    app: FastAPI, client: httpx.AsyncClient, event: EventFixture, db_kind: str
) -> None:
    found = await _costs(app, client, event)
    expected = {name: (cost[0 if db_kind == "postgres" else 1], 1) for name, cost in COSTS.items()}
    assert found == expected

"""The whole-event seat map (GET /events/{event_id}/seats): compact, complete, live."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.api import add_seat, new_cart, problem
from tests.conftest import FakeClock
from tests.factories import EventFixture, make_event


@pytest.fixture
async def event(session: AsyncSession, clock: FakeClock) -> EventFixture:
    return await make_event(session, now=clock.now, rows=2, seats_per_row=3, ga_capacity=2)


async def test_map_lists_every_seat_with_shared_price_sets(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    response = await client.get(f"/events/{event.event_id}/seats")
    assert response.status_code == 200
    body = response.json()
    assert body["event_id"] == event.event_id
    assert body["currency"] == "EUR"
    assert [level["name"] for level in body["price_levels"]] == ["Adult", "Child", "VIP"]
    assert [s["name"] for s in body["sections"]] == ["Main", "Floor", "Closed"]
    assert body["seat_columns"] == [
        "seat_id", "section_id", "row_id", "row", "number", "status", "price_set",
    ]  # fmt: skip
    seats = [dict(zip(body["seat_columns"], row, strict=True)) for row in body["seats"]]
    assert len(seats) == 6 + 2 + 2
    main = [s for s in seats if s["section_id"] == event.section_ids["Main"]]
    assert [(s["row"], s["number"]) for s in main] == [
        ("A", "1"), ("A", "2"), ("A", "3"), ("B", "1"), ("B", "2"), ("B", "3"),
    ]  # fmt: skip
    assert [s["seat_id"] for s in main] == event.seat_ids
    ids = event.price_ids
    main_set = body["price_sets"][main[0]["price_set"]]
    assert main_set == [
        {"price_id": ids["Adult"], "amount": "40.00"},
        {"price_id": ids["Child"], "amount": "20.00"},
        {"price_id": ids["VIP"], "amount": "99.50"},
    ]
    assert {s["price_set"] for s in main} == {main[0]["price_set"]}
    floor = [s for s in seats if s["section_id"] == event.section_ids["Floor"]]
    assert {(s["row"], s["number"], s["row_id"]) for s in floor} == {(None, None, None)}
    assert body["price_sets"][floor[0]["price_set"]] == [
        {"price_id": ids["Adult"], "amount": "30.00"}
    ]
    closed = [s for s in seats if s["section_id"] == event.section_ids["Closed"]]
    assert {body["price_sets"][s["price_set"]] == [] for s in closed} == {True}
    assert {s["status"] for s in seats} == {1}


async def test_map_shows_holds_and_their_lapse(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock
) -> None:
    seat = event.seat_ids[2]
    held = await add_seat(
        client, new_cart(), event_id=event.event_id, seat_id=seat, price_id=event.price_ids["VIP"]
    )
    assert held.status_code == 200

    async def status() -> int:
        body = (await client.get(f"/events/{event.event_id}/seats")).json()
        (row,) = [r for r in body["seats"] if r[0] == seat]
        value: int = row[5]
        return value

    assert await status() == 2
    clock.advance(seconds=901)
    assert await status() == 1


async def test_unknown_event_is_not_found(client: httpx.AsyncClient) -> None:
    problem(await client.get("/events/999/seats"), 404, "NOT_FOUND")

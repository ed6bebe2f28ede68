"""Carts through REST: holding, releasing, booking, and every way a cart change is refused."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from tests.api import add_seat, new_cart, problem, seat_status
from tests.conftest import FakeClock
from tests.factories import EventFixture
from tests.invariants import assert_invariants
from ticketing.db import Database


async def test_unused_cart_is_empty_and_open(client: httpx.AsyncClient) -> None:
    cart_id = new_cart()
    response = await client.get(f"/orders/carts/{cart_id}")
    assert response.status_code == 200
    assert response.json() == {
        "cart_id": cart_id,
        "status": "open",
        "items": [],
        "total_amount": "0.00",
        "currency": None,
        "expires_at": None,
        "payment_id": None,
    }


async def test_hold_seat_returns_cart_with_total_and_marks_seat_held(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    cart_id = new_cart()
    seat = event.seat_ids[0]
    response = await add_seat(
        client, cart_id, event_id=event.event_id, seat_id=seat, price_id=event.price_ids["VIP"]
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "open"
    assert body["total_amount"] == "99.50"
    assert body["currency"] == "EUR"
    assert body["payment_id"] is None
    (item,) = body["items"]
    assert item["event_id"] == event.event_id
    assert item["seat_id"] == seat
    assert item["section_id"] == event.section_ids["Main"]
    assert item["price_id"] == event.price_ids["VIP"]
    assert item["price_name"] == "VIP"
    assert item["amount"] == "99.50"
    assert body["expires_at"] == item["hold_expires_at"]
    assert datetime.fromisoformat(body["expires_at"]) == clock.now + timedelta(seconds=900)

    status = await seat_status(
        client, event_id=event.event_id, section_id=event.section_ids["Main"], seat_id=seat
    )
    assert status == "held"
    again = await client.get(f"/orders/carts/{cart_id}")
    assert again.json() == body
    await assert_invariants(db)


async def test_seat_held_by_another_cart_is_not_available(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    seat = event.seat_ids[3]
    adult = event.price_ids["Adult"]
    first = await add_seat(
        client, new_cart(), event_id=event.event_id, seat_id=seat, price_id=adult
    )
    assert first.status_code == 200
    loser = new_cart()
    response = await add_seat(client, loser, event_id=event.event_id, seat_id=seat, price_id=adult)
    body = problem(response, 409, "SEAT_NOT_AVAILABLE")
    assert body["seat_id"] == seat
    assert body["event_id"] == event.event_id
    # The rejected request left nothing behind: the loser's cart is still unused.
    assert (await client.get(f"/orders/carts/{loser}")).json()["items"] == []
    await assert_invariants(db)

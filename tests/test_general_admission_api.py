"""General-admission places through REST: several at once, all or none, one claim per place."""

from __future__ import annotations

import httpx
import pytest

from tests.api import book, new_cart, problem
from tests.conftest import FakeClock
from tests.factories import EventFixture, make_event
from tests.invariants import assert_invariants
from tests.races import outcome, race
from ticketing.db import Database


@pytest.fixture
async def event(db: Database, clock: FakeClock) -> EventFixture:
    return await make_event(db, now=clock.now, ga_capacity=8)


async def hold_places(
    client: httpx.AsyncClient, cart: str, event: EventFixture, quantity: int, price: str = "Adult"
) -> httpx.Response:
    return await client.post(
        f"/orders/carts/{cart}/general-admission",
        json={
            "event_id": event.event_id,
            "section_id": event.section_ids["Floor"],
            "price_id": event.price_ids[price],
            "quantity": quantity,
        },
    )


async def floor_available(client: httpx.AsyncClient, event: EventFixture) -> int:
    sections = (await client.get(f"/events/{event.event_id}/sections")).json()
    (floor,) = [s for s in sections if s["name"] == "Floor"]
    count: int = floor["available_count"]
    return count


async def test_holds_places_and_books_them(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    cart = new_cart()
    response = await hold_places(client, cart, event, 3)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total_amount"] == "90.00"
    assert len(body["items"]) == 3
    assert {item["section_id"] for item in body["items"]} == {event.section_ids["Floor"]}
    assert {item["row_id"] for item in body["items"]} == {None}
    assert len({item["seat_id"] for item in body["items"]}) == 3
    assert await floor_available(client, event) == 5
    assert (await book(client, cart)).status_code == 200
    await assert_invariants(db)


async def test_more_than_available_holds_nothing(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    first = await hold_places(client, new_cart(), event, 6)
    assert first.status_code == 200
    cart = new_cart()
    problem(await hold_places(client, cart, event, 3), 409, "SEAT_NOT_AVAILABLE")
    assert (await client.get(f"/orders/carts/{cart}")).json()["items"] == []
    assert await floor_available(client, event) == 2


@pytest.mark.parametrize(
    ("quantity", "price", "status", "code"),
    [
        (0, "Adult", 422, "VALIDATION_ERROR"),
        (11, "Adult", 409, "CART_LIMIT"),
        (1, "Child", 422, "PRICE_NOT_OFFERED"),
    ],
)
async def test_refusals_change_nothing(
    client: httpx.AsyncClient,
    event: EventFixture,
    quantity: int,
    price: str,
    status: int,
    code: str,
) -> None:
    cart = new_cart()
    problem(await hold_places(client, cart, event, quantity, price), status, code)
    assert (await client.get(f"/orders/carts/{cart}")).json()["items"] == []
    assert await floor_available(client, event) == 8


async def test_seated_section_is_refused(client: httpx.AsyncClient, event: EventFixture) -> None:
    response = await client.post(
        f"/orders/carts/{new_cart()}/general-admission",
        json={
            "event_id": event.event_id,
            "section_id": event.section_ids["Main"],
            "price_id": event.price_ids["Adult"],
            "quantity": 1,
        },
    )
    body = problem(response, 422, "VALIDATION_ERROR")
    assert body["errors"][0]["field"] == "section_id"


async def test_concurrent_carts_never_share_a_place(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    """20 carts ask for 2 places each of 8: exactly 4 get them, the rest hold nothing."""

    async def attempt(_: int) -> str:
        return outcome(await hold_places(client, new_cart(), event, 2))

    tally = await race(20, attempt)
    assert tally == {"ok": 4, "SEAT_NOT_AVAILABLE": 16}
    assert await floor_available(client, event) == 0
    await assert_invariants(db)

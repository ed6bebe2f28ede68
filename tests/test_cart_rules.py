"""The cart through REST: what a hold, a release and a booking answer, and each refusal as a
problem with its status and code (the rules themselves are tested in tests/service/)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.api import (
    add_seat,
    available_counts,
    book,
    get_cart,
    hold,
    new_cart,
    problem,
    remove_seat,
    seat_status,
    status_of,
    ts,
)
from tests.conftest import FakeClock
from tests.factories import EventFixture, make_event
from tests.invariants import assert_invariants
from ticketing.db import Database, query
from ticketing.models import audit_t, cart_t, event_seat_t, price_t


@query
async def seat_row(conn: AsyncConnection, *, event_id: int, seat_id: int) -> sa.Row[Any, Any, Any]:
    return (
        await conn.execute(
            sa.select(
                event_seat_t.c.status, event_seat_t.c.cart_id, event_seat_t.c.expires_at
            ).where(event_seat_t.c.event_id == event_id, event_seat_t.c.seat_id == seat_id)
        )
    ).one()


@query
async def cart_exists(conn: AsyncConnection, *, cart_id: str) -> bool:
    found = await conn.scalar(sa.select(cart_t.c.id).where(cart_t.c.id == uuid.UUID(cart_id)))
    return found is not None


@query
async def audit_rows(conn: AsyncConnection, *, cart_id: str) -> list[sa.Row[Any]]:
    return list(
        (
            await conn.execute(
                sa.select(audit_t)
                .where(audit_t.c.cart_id == uuid.UUID(cart_id))
                .order_by(audit_t.c.id)
            )
        ).all()
    )


# --- Holding ---------------------------------------------------------------------------------


async def test_hold_two_seats_totals_them_and_marks_both_held(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    cart_id = new_cart()
    first, second = event.seat_ids[:2]
    await hold(client, cart_id, event, first, "Adult")
    body = await hold(client, cart_id, event, second, "Child")
    assert body["status"] == "open"
    assert [i["seat_id"] for i in body["items"]] == [first, second]
    assert [i["price_name"] for i in body["items"]] == ["Adult", "Child"]
    assert [i["amount"] for i in body["items"]] == ["40.00", "20.00"]
    assert body["total_amount"] == "60.00"
    assert body["currency"] == "EUR"
    for item in body["items"]:
        assert ts(item["hold_expires_at"]) == clock.now + timedelta(seconds=900)
    assert await status_of(client, event, first) == "held"
    assert await status_of(client, event, second) == "held"
    counts = await available_counts(client, event.event_id)
    assert counts["Main"] == 20 - 2  # make_event's Main: 2 rows of 10
    await assert_invariants(db)


async def test_general_admission_places_are_held_and_booked_like_seats(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    cart_id = new_cart()
    floor = event.section_ids["Floor"]
    places = event.ga_seat_ids[:2]
    for place in places:
        body = await hold(client, cart_id, event, place, "Adult")
    assert body["total_amount"] == "60.00"
    for item in body["items"]:
        assert item["section_id"] == floor
        assert item["row_id"] is None
        assert item["amount"] == "30.00"
    counts = await available_counts(client, event.event_id)
    assert counts["Floor"] == len(event.ga_seat_ids) - 2

    booking = await book(client, cart_id)
    assert booking.status_code == 200, booking.text
    assert booking.json()["total_amount"] == "60.00"
    for place in places:
        status = await seat_status(client, event_id=event.event_id, section_id=floor, seat_id=place)
        assert status == "booked"
    assert (await available_counts(client, event.event_id))["Floor"] == len(event.ga_seat_ids) - 2
    await assert_invariants(db)


# --- Releasing -------------------------------------------------------------------------------


async def test_release_returns_the_cart_and_frees_the_seat(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    cart_id = new_cart()
    kept, released = event.seat_ids[:2]
    await hold(client, cart_id, event, kept, "Adult")
    await hold(client, cart_id, event, released, "VIP")

    response = await remove_seat(client, cart_id, event_id=event.event_id, seat_id=released)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cart_id"] == cart_id
    assert body["status"] == "open"
    assert [i["seat_id"] for i in body["items"]] == [kept]
    assert body["total_amount"] == "40.00"
    assert await get_cart(client, cart_id) == body
    assert await status_of(client, event, released) == "available"
    row = await seat_row(db, event_id=event.event_id, seat_id=released)
    assert (row.status, row.cart_id, row.expires_at) == (1, None, None)

    # A freed seat goes to the next cart.
    other = await hold(client, new_cart(), event, released)
    assert [i["seat_id"] for i in other["items"]] == [released]
    await assert_invariants(db)


async def test_releasing_a_seat_twice_is_not_found(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    cart_id = new_cart()
    seat = event.seat_ids[0]
    await hold(client, cart_id, event, seat)
    first = await remove_seat(client, cart_id, event_id=event.event_id, seat_id=seat)
    assert first.status_code == 200
    second = await remove_seat(client, cart_id, event_id=event.event_id, seat_id=seat)
    body = problem(second, 404, "NOT_FOUND")
    assert body["seat_id"] == seat
    await assert_invariants(db)


# --- Refused holds ---------------------------------------------------------------------------


async def assert_rejected_left_nothing(
    client: httpx.AsyncClient, db: Database, cart_id: str, before: dict[str, Any] | None
) -> None:
    """A rejected add leaves the cart as it was (an unused cart stays unused)."""
    after = await get_cart(client, cart_id)
    if before is None:
        assert after["items"] == []
        assert after["status"] == "open"
        assert not await cart_exists(db, cart_id=cart_id)
    else:
        assert after == before


async def test_price_of_another_event_is_not_offered(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> None:
    other = await make_event(db, now=clock.now, name="Other Hall")
    cart_id = new_cart()
    seat = event.seat_ids[0]
    response = await add_seat(
        client, cart_id, event_id=event.event_id, seat_id=seat, price_id=other.price_ids["Adult"]
    )
    body = problem(response, 422, "PRICE_NOT_OFFERED")
    assert body["seat_id"] == seat
    assert body["event_id"] == event.event_id
    assert body["price_id"] == other.price_ids["Adult"]
    await assert_rejected_left_nothing(client, db, cart_id, None)
    assert await status_of(client, event, seat) == "available"
    await assert_invariants(db)


async def test_unknown_event_is_not_found(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    cart_id = new_cart()
    response = await add_seat(
        client,
        cart_id,
        event_id=999_999,
        seat_id=event.seat_ids[0],
        price_id=event.price_ids["Adult"],
    )
    problem(response, 404, "NOT_FOUND")
    await assert_rejected_left_nothing(client, db, cart_id, None)
    await assert_invariants(db)


@pytest.mark.parametrize(
    "payload",
    [
        {"event_id": 0, "seat_id": 1, "price_id": 1},
        {"event_id": 1, "seat_id": 1},
        {"event_id": 1, "seat_id": 1, "price_id": 1, "extra": True},
        {"event_id": 1, "seat_id": "one", "price_id": 1},
        {"event_id": 2_147_483_648, "seat_id": 1, "price_id": 1},
    ],
)
async def test_malformed_hold_is_a_validation_error(
    client: httpx.AsyncClient, payload: dict[str, Any]
) -> None:
    cart_id = new_cart()
    response = await client.post(f"/orders/carts/{cart_id}", json=payload)
    body = problem(response, 422, "VALIDATION_ERROR")
    assert body["errors"]
    assert all(e["field"].startswith("body") for e in body["errors"])


async def test_cart_id_must_be_a_uuid(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders/carts/not-a-uuid")
    body = problem(response, 422, "VALIDATION_ERROR")
    assert body["errors"][0]["field"] == "path.cart_id"


async def test_cart_limit_is_a_conflict_naming_the_limit(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    cart_id = new_cart()
    for seat in event.seat_ids[:10]:
        before = await hold(client, cart_id, event, seat)
    response = await add_seat(
        client,
        cart_id,
        event_id=event.event_id,
        seat_id=event.seat_ids[10],
        price_id=event.price_ids["Adult"],
    )
    body = problem(response, 409, "CART_LIMIT")
    assert body["limit"] == 10
    await assert_rejected_left_nothing(client, db, cart_id, before)


async def test_currency_mismatch_is_a_conflict_naming_the_event(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> None:
    dollars = await make_event(db, now=clock.now, currency="USD", name="Dollar Hall")
    cart_id = new_cart()
    before = await hold(client, cart_id, event, event.seat_ids[0])
    response = await add_seat(
        client,
        cart_id,
        event_id=dollars.event_id,
        seat_id=dollars.seat_ids[0],
        price_id=dollars.price_ids["Adult"],
    )
    body = problem(response, 409, "CURRENCY_MISMATCH")
    assert body["event_id"] == dollars.event_id
    await assert_rejected_left_nothing(client, db, cart_id, before)


# --- Booking ---------------------------------------------------------------------------------


async def test_booking_moves_every_seat_to_booked_under_a_pending_payment(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    cart_id = new_cart()
    seats = event.seat_ids[:3]
    for seat, level in zip(seats, ("Adult", "Child", "VIP"), strict=True):
        await hold(client, cart_id, event, seat, level)
    clock.advance(seconds=60)

    response = await book(client, cart_id)
    assert response.status_code == 200, response.text
    booking = response.json()
    assert set(booking) == {
        "payment_id",
        "cart_id",
        "status",
        "total_amount",
        "currency",
        "expires_at",
    }
    assert booking["cart_id"] == cart_id
    assert booking["status"] == "pending"
    assert booking["total_amount"] == "159.50"
    assert booking["currency"] == "EUR"
    assert ts(booking["expires_at"]) == clock.now + timedelta(seconds=900)
    assert uuid.UUID(booking["payment_id"]).version == 4
    for seat in seats:
        assert await status_of(client, event, seat) == "booked"
        row = await seat_row(db, event_id=event.event_id, seat_id=seat)
        assert row.status == 3
        assert row.cart_id == uuid.UUID(cart_id)
        assert row.expires_at == ts(booking["expires_at"])

    cart = await get_cart(client, cart_id)
    assert cart["status"] == "booked"
    assert cart["payment_id"] == booking["payment_id"]
    assert cart["expires_at"] == booking["expires_at"]
    assert cart["total_amount"] == "159.50"
    assert cart["currency"] == "EUR"
    assert [i["seat_id"] for i in cart["items"]] == seats
    await assert_invariants(db)


async def test_a_booked_cart_is_a_conflict_naming_its_status(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    cart_id = new_cart()
    seat = event.seat_ids[0]
    await hold(client, cart_id, event, seat)
    assert (await book(client, cart_id)).status_code == 200
    before = await get_cart(client, cart_id)
    added = await add_seat(
        client,
        cart_id,
        event_id=event.event_id,
        seat_id=event.seat_ids[1],
        price_id=event.price_ids["Adult"],
    )
    assert problem(added, 409, "CART_NOT_OPEN")["cart_status"] == "booked"
    removed = await remove_seat(client, cart_id, event_id=event.event_id, seat_id=seat)
    problem(removed, 409, "CART_NOT_OPEN")
    assert await get_cart(client, cart_id) == before


async def test_booking_an_unused_cart_is_cart_empty(
    client: httpx.AsyncClient, db: Database
) -> None:
    cart_id = new_cart()
    body = problem(await book(client, cart_id), 409, "CART_EMPTY")
    assert body["cart_id"] == cart_id
    assert not await cart_exists(db, cart_id=cart_id)
    assert (await get_cart(client, cart_id))["status"] == "open"


# --- Audit -----------------------------------------------------------------------------------


async def test_holds_releases_and_bookings_are_audited(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    cart_id = new_cart()
    kept, dropped = event.seat_ids[:2]
    held_at = clock.now
    await hold(client, cart_id, event, kept, "VIP")
    await hold(client, cart_id, event, dropped)
    clock.advance(seconds=10)
    released_at = clock.now
    assert (await remove_seat(client, cart_id, event_id=event.event_id, seat_id=dropped)).is_success
    clock.advance(seconds=10)
    booked_at = clock.now
    booking = (await book(client, cart_id)).json()
    payment_id = uuid.UUID(booking["payment_id"])

    rows = await audit_rows(db, cart_id=cart_id)
    seat_rows = [(r.action, r.seat_id, r.from_status, r.to_status, r.at) for r in rows if r.seat_id]
    assert seat_rows == [
        ("seat_held", kept, "available", "held", held_at),
        ("seat_held", dropped, "available", "held", held_at),
        ("seat_released", dropped, "held", "available", released_at),
        ("seat_booked", kept, "held", "booked", booked_at),
    ]
    for row in rows:
        assert row.actor
        assert row.cart_id == uuid.UUID(cart_id)
    held = [r for r in rows if r.action == "seat_held"]
    assert all(r.event_id == event.event_id for r in held)
    assert [str(r.amount) for r in held] == ["99.50", "40.00"]
    (seat_booked,) = [r for r in rows if r.action == "seat_booked"]
    assert seat_booked.payment_id == payment_id
    assert str(seat_booked.amount) == "99.50"
    created = [r for r in rows if r.action == "payment_created"]
    assert len(created) == 1
    assert created[0].payment_id == payment_id
    assert created[0].at == booked_at

    # A refused request is not audited.
    count = len(rows)
    problem(
        await remove_seat(client, cart_id, event_id=event.event_id, seat_id=kept),
        409,
        "CART_NOT_OPEN",
    )
    assert len(await audit_rows(db, cart_id=cart_id)) == count
    await assert_invariants(db)


@pytest.mark.parametrize("already_held", [False, True], ids=["new hold", "re-priced hold"])
async def test_a_hold_charges_the_price_its_claiming_statement_sees(
    client: httpx.AsyncClient, db: Database, event: EventFixture, already_held: bool
) -> None:
    """A manager's price change that commits while the hold waits for its cart is the price
    the hold records, the cart shows and the booking charges: the claim reads it, not a read
    made before the wait."""
    cart, seat = new_cart(), event.seat_ids[0]
    await hold(client, cart, event, seat if already_held else event.seat_ids[1], "Adult")
    async with db.engine.connect() as manager:
        await manager.execution_options(ticketing_write=True)  # SQLite: the write lock
        await manager.begin()
        await manager.execute(  # PostgreSQL: the cart's lock, which every hold takes first
            sa.select(cart_t.c.id).where(cart_t.c.id == uuid.UUID(cart)).with_for_update()
        )
        await manager.execute(
            sa.update(price_t)
            .where(
                price_t.c.event_id == event.event_id,
                price_t.c.seat_id == seat,
                price_t.c.price_level_id == event.price_ids["Child"],
            )
            .values(amount=Decimal("27.50"))
        )
        holding = asyncio.create_task(hold(client, cart, event, seat, "Child"))
        await asyncio.sleep(0.3)  # the hold is under way, waiting
        assert not holding.done()
        await manager.commit()
    held = await holding
    (item,) = [i for i in held["items"] if i["seat_id"] == seat]
    assert item["amount"] == "27.50"
    booked = await book(client, cart)
    total = "27.50" if already_held else "67.50"  # and the other seat's 40.00
    assert booked.json()["total_amount"] == total

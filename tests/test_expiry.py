"""Deadlines on the fake clock: lapsed holds, expired payments, and the sweeper."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.api import (
    add_seat,
    available_counts,
    book,
    booked_cart,
    get_cart,
    get_payment,
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
from ticketing.models import audit_t, cart_t, event_seat_t, item_t, payment_t, ticket_t
from ticketing.payments.sweep import release_lapsed

HOLD = 900
PAYMENT = 900


@query
async def seat_rows(
    conn: AsyncConnection, *, event_id: int, seat_ids: list[int]
) -> list[tuple[Any, ...]]:
    rows = await conn.execute(
        sa.select(
            event_seat_t.c.seat_id,
            event_seat_t.c.status,
            event_seat_t.c.cart_id,
            event_seat_t.c.expires_at,
        )
        .where(event_seat_t.c.event_id == event_id, event_seat_t.c.seat_id.in_(seat_ids))
        .order_by(event_seat_t.c.seat_id)
    )
    return [tuple(r) for r in rows]


@query
async def payment_and_cart(conn: AsyncConnection, *, payment_id: str) -> tuple[Any, ...]:
    row = (
        await conn.execute(
            sa.select(payment_t.c.status, payment_t.c.finalized_at, cart_t.c.status)
            .join(cart_t, cart_t.c.id == payment_t.c.cart_id)
            .where(payment_t.c.id == uuid.UUID(payment_id))
        )
    ).one()
    return tuple(row)


@query
async def cart_row_status(conn: AsyncConnection, *, cart_id: str) -> str | None:
    return await conn.scalar(sa.select(cart_t.c.status).where(cart_t.c.id == uuid.UUID(cart_id)))


@query
async def active_items(conn: AsyncConnection, *, cart_id: str) -> list[int]:
    rows = await conn.scalars(
        sa.select(item_t.c.seat_id)
        .where(item_t.c.cart_id == uuid.UUID(cart_id), item_t.c.active)
        .order_by(item_t.c.seat_id)
    )
    return list(rows)


@query
async def ticket_count(conn: AsyncConnection) -> int:
    return int(await conn.scalar(sa.select(sa.func.count()).select_from(ticket_t)) or 0)


@query
async def audit_actions(conn: AsyncConnection, *, actor: str) -> list[tuple[Any, ...]]:
    rows = await conn.execute(
        sa.select(audit_t.c.action, audit_t.c.seat_id, audit_t.c.cart_id, audit_t.c.payment_id)
        .where(audit_t.c.actor == actor)
        .order_by(audit_t.c.id)
    )
    return [tuple(r) for r in rows]


# --- Lapsed holds ----------------------------------------------------------------------------


async def test_hold_lasts_until_its_deadline(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    cart_id = new_cart()
    seat = event.seat_ids[0]
    body = await hold(client, cart_id, event, seat)
    assert ts(body["expires_at"]) == clock.now + timedelta(seconds=HOLD)
    clock.advance(seconds=HOLD - 1)
    assert await status_of(client, event, seat) == "held"
    assert [i["seat_id"] for i in (await get_cart(client, cart_id))["items"]] == [seat]
    problem(
        await add_seat(
            client,
            new_cart(),
            event_id=event.event_id,
            seat_id=seat,
            price_id=event.price_ids["Adult"],
        ),
        409,
        "SEAT_NOT_AVAILABLE",
    )
    await assert_invariants(db)


async def test_at_the_deadline_every_reader_and_claimer_agrees_the_hold_is_over(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    cart_id = new_cart()
    seat = event.seat_ids[0]
    await hold(client, cart_id, event, seat)
    clock.advance(seconds=HOLD)
    assert await status_of(client, event, seat) == "available"
    assert (await available_counts(client, event.event_id))["Main"] == 20
    assert (await get_cart(client, cart_id))["items"] == []
    problem(
        await remove_seat(client, cart_id, event_id=event.event_id, seat_id=seat), 404, "NOT_FOUND"
    )
    taker = await hold(client, new_cart(), event, seat)
    assert [i["seat_id"] for i in taker["items"]] == [seat]
    await assert_invariants(db)


async def test_lapsed_hold_reads_as_available(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    cart_id = new_cart()
    seat, place = event.seat_ids[0], event.ga_seat_ids[0]
    await hold(client, cart_id, event, seat)
    await hold(client, cart_id, event, place)
    assert await available_counts(client, event.event_id) == {"Main": 19, "Floor": 4, "Closed": 0}

    clock.advance(seconds=HOLD + 1)
    assert await status_of(client, event, seat) == "available"
    floor = await seat_status(
        client, event_id=event.event_id, section_id=event.section_ids["Floor"], seat_id=place
    )
    assert floor == "available"
    assert await available_counts(client, event.event_id) == {"Main": 20, "Floor": 5, "Closed": 0}
    cart = await get_cart(client, cart_id)
    assert cart == {
        "cart_id": cart_id,
        "status": "open",
        "items": [],
        "total_amount": "0.00",
        "currency": None,
        "expires_at": None,
        "payment_id": None,
    }
    await assert_invariants(db)


@pytest.mark.parametrize("taken_by_another", [True, False], ids=["taken", "untaken"])
async def test_first_cart_loses_a_lapsed_seat(
    client: httpx.AsyncClient,
    event: EventFixture,
    clock: FakeClock,
    db: Database,
    taken_by_another: bool,
) -> None:
    first = new_cart()
    seat = event.seat_ids[0]
    await hold(client, first, event, seat)
    clock.advance(seconds=HOLD + 1)
    second = new_cart()
    if taken_by_another:
        taken = await hold(client, second, event, seat, "VIP")
        assert taken["total_amount"] == "99.50"
        assert ts(taken["expires_at"]) == clock.now + timedelta(seconds=HOLD)

    problem(
        await remove_seat(client, first, event_id=event.event_id, seat_id=seat), 404, "NOT_FOUND"
    )
    problem(await book(client, first), 409, "CART_EMPTY")
    assert (await get_cart(client, first))["status"] == "open"
    if taken_by_another:
        assert await status_of(client, event, seat) == "held"
        assert [i["seat_id"] for i in (await get_cart(client, second))["items"]] == [seat]
        (row,) = await seat_rows(db, event_id=event.event_id, seat_ids=[seat])
        assert row[2] == uuid.UUID(second)
        assert await active_items(db, cart_id=first) == []
        booking = await book(client, second)
        assert booking.status_code == 200, booking.text
        assert booking.json()["total_amount"] == "99.50"
    else:
        assert await status_of(client, event, seat) == "available"
    await assert_invariants(db)


async def test_partially_lapsed_cart_books_only_its_live_seats(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    cart_id = new_cart()
    lapsed, live = event.seat_ids[:2]
    await hold(client, cart_id, event, lapsed, "VIP")
    clock.advance(seconds=500)
    await hold(client, cart_id, event, live, "Child")
    clock.advance(seconds=HOLD - 500 + 1)

    response = await book(client, cart_id)
    assert response.status_code == 200, response.text
    booking = response.json()
    assert booking["total_amount"] == "20.00"
    assert await status_of(client, event, live) == "booked"
    assert await status_of(client, event, lapsed) == "available"
    cart = await get_cart(client, cart_id)
    assert cart["status"] == "booked"
    assert [i["seat_id"] for i in cart["items"]] == [live]
    assert cart["total_amount"] == "20.00"
    # The lapsed seat is anyone's.
    await hold(client, new_cart(), event, lapsed)
    paid = await client.post(f"/payments/{booking['payment_id']}/complete")
    assert paid.status_code == 200, paid.text
    assert [t["seat_id"] for t in paid.json()["tickets"]] == [live]
    await assert_invariants(db)


async def test_partially_lapsed_cart_booking_leaves_consistent_rows(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    """The booking deactivates the lapsed item; the written rows must still satisfy the
    inventory invariants (no seat held for a cart without that cart's active item)."""
    cart_id = new_cart()
    lapsed, live = event.seat_ids[:2]
    await hold(client, cart_id, event, lapsed)
    clock.advance(seconds=500)
    await hold(client, cart_id, event, live)
    clock.advance(seconds=HOLD - 500 + 1)
    assert (await book(client, cart_id)).status_code == 200
    await assert_invariants(db)


# --- Expired payments ------------------------------------------------------------------------


async def test_overdue_payment_reads_as_expired_and_frees_its_seats(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    seats = event.seat_ids[:2]
    booking = await booked_cart(client, event, seats)
    assert (await available_counts(client, event.event_id))["Main"] == 18
    clock.advance(seconds=PAYMENT + 1)

    payment = await get_payment(client, booking["payment_id"])
    assert payment["status"] == "expired"
    assert payment["tickets"] == []
    # Not yet written down by the sweep, yet it reads as ended at its deadline.
    assert payment["finalized_at"] == booking["expires_at"]
    cart = await get_cart(client, booking["cart_id"])
    assert cart["status"] == "expired"
    assert cart["payment_id"] == booking["payment_id"]
    assert cart["expires_at"] is None
    for seat in seats:
        assert await status_of(client, event, seat) == "available"
    assert (await available_counts(client, event.event_id))["Main"] == 20
    # The written rows still say pending/booked until the sweeper runs.
    assert await payment_and_cart(db, payment_id=booking["payment_id"]) == (
        "pending",
        None,
        "booked",
    )

    # A new cart gets the seats and can buy them.
    newcomer = new_cart()
    for seat in seats:
        await hold(client, newcomer, event, seat)
    rebooked = await book(client, newcomer)
    assert rebooked.status_code == 200, rebooked.text
    paid = await client.post(f"/payments/{rebooked.json()['payment_id']}/complete")
    assert paid.status_code == 200, paid.text
    assert len(paid.json()["tickets"]) == 2
    await assert_invariants(db)


@pytest.mark.parametrize("outcome", ["complete", "failed"])
@pytest.mark.parametrize("swept", [False, True], ids=["unswept", "swept"])
async def test_finishing_an_expired_payment_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
    event: EventFixture,
    clock: FakeClock,
    db: Database,
    outcome: str,
    swept: bool,
) -> None:
    seats = event.seat_ids[:2]
    booking = await booked_cart(client, event, seats)
    payment_id = booking["payment_id"]
    clock.advance(seconds=PAYMENT)  # exactly at the deadline the payment is over
    # Someone else already holds one of the seats.
    newcomer = new_cart()
    taken = await hold(client, newcomer, event, seats[0])
    if swept:
        assert await release_lapsed(db, now=clock.now) == (0, 1)
    rows_before = await seat_rows(db, event_id=event.event_id, seat_ids=seats)
    state_before = await payment_and_cart(db, payment_id=payment_id)
    payment_before = await get_payment(client, payment_id)
    tickets_before = await ticket_count(db)

    response = await client.post(f"/payments/{payment_id}/{outcome}")
    body = problem(response, 409, "PAYMENT_EXPIRED")
    assert body["payment_id"] == payment_id

    assert await seat_rows(db, event_id=event.event_id, seat_ids=seats) == rows_before
    assert await payment_and_cart(db, payment_id=payment_id) == state_before
    assert await get_payment(client, payment_id) == payment_before
    assert payment_before["status"] == "expired"
    assert (await get_cart(client, booking["cart_id"]))["status"] == "expired"
    assert await ticket_count(db) == tickets_before
    assert await get_cart(client, newcomer) == taken
    assert await status_of(client, event, seats[0]) == "held"
    assert await status_of(client, event, seats[1]) == "available"
    await assert_invariants(db)


async def test_expired_cart_is_closed(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    seat = event.seat_ids[0]
    booking = await booked_cart(client, event, [seat])
    cart_id = booking["cart_id"]
    clock.advance(seconds=PAYMENT + 1)
    problem(
        await add_seat(
            client,
            cart_id,
            event_id=event.event_id,
            seat_id=event.seat_ids[1],
            price_id=event.price_ids["Adult"],
        ),
        409,
        "CART_NOT_OPEN",
    )
    problem(
        await remove_seat(client, cart_id, event_id=event.event_id, seat_id=seat),
        409,
        "CART_NOT_OPEN",
    )
    again = await book(client, cart_id)
    assert again.status_code == 200, again.text
    assert again.json()["payment_id"] == booking["payment_id"]
    assert again.json()["status"] == "expired"
    assert await status_of(client, event, seat) == "available"
    assert await status_of(client, event, event.seat_ids[1]) == "available"
    await assert_invariants(db)


# --- The sweeper -----------------------------------------------------------------------------


async def test_sweeper_writes_down_lapsed_holds_and_overdue_payments(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    s = event.seat_ids
    holder = new_cart()
    await hold(client, holder, event, s[0])
    overdue = await booked_cart(client, event, [s[1], s[2]])
    clock.advance(seconds=600)
    live_holder = new_cart()
    await hold(client, live_holder, event, s[3])
    live_payment = await booked_cart(client, event, [s[4]])
    clock.advance(seconds=301)  # the first hold and the first payment are 901 s old

    assert await release_lapsed(db, now=clock.now) == (1, 1)

    rows = await seat_rows(db, event_id=event.event_id, seat_ids=s[:5])
    assert rows[:3] == [(seat, 1, None, None) for seat in s[:3]]
    assert rows[3][:3] == (s[3], 2, uuid.UUID(live_holder))
    assert rows[4][:3] == (s[4], 3, uuid.UUID(live_payment["cart_id"]))
    status, finalized_at, cart_status = await payment_and_cart(db, payment_id=overdue["payment_id"])
    assert (status, cart_status) == ("expired", "expired")
    assert finalized_at == clock.now
    assert await payment_and_cart(db, payment_id=live_payment["payment_id"]) == (
        "pending",
        None,
        "booked",
    )
    assert await cart_row_status(db, cart_id=holder) == "open"
    assert await active_items(db, cart_id=overdue["cart_id"]) == []
    assert await active_items(db, cart_id=live_holder) == [s[3]]

    # Readers see what they saw before the sweep.
    assert (await get_payment(client, overdue["payment_id"]))["status"] == "expired"
    assert (await get_cart(client, overdue["cart_id"]))["status"] == "expired"
    assert (await get_cart(client, holder))["items"] == []
    for seat in s[:3]:
        assert await status_of(client, event, seat) == "available"

    system = await audit_actions(db, actor="system")
    assert sorted(a[0] for a in system) == [
        "hold_lapsed",
        "payment_expired",
        "seat_released",
        "seat_released",
    ]

    assert await release_lapsed(db, now=clock.now) == (0, 0)
    assert await seat_rows(db, event_id=event.event_id, seat_ids=s[:5]) == rows
    assert len(await audit_actions(db, actor="system")) == len(system)
    await assert_invariants(db)


async def test_sweeper_closes_the_lapsed_cart_item_and_audits_its_cart(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    """A written-down hold must also leave its cart: the item inactive, the audit row naming
    the cart that lost the seat."""
    holder = new_cart()
    seat = event.seat_ids[0]
    await hold(client, holder, event, seat)
    clock.advance(seconds=HOLD + 1)
    assert await release_lapsed(db, now=clock.now) == (1, 0)
    assert await audit_actions(db, actor="system") == [
        ("hold_lapsed", seat, uuid.UUID(holder), None)
    ]
    assert await active_items(db, cart_id=holder) == []


async def test_sweeper_before_any_deadline_changes_nothing(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    await hold(client, new_cart(), event, event.seat_ids[0])
    booking = await booked_cart(client, event, [event.seat_ids[1]])
    rows = await seat_rows(db, event_id=event.event_id, seat_ids=event.seat_ids[:2])
    clock.advance(seconds=HOLD - 1)
    assert await release_lapsed(db, now=clock.now) == (0, 0)
    assert await seat_rows(db, event_id=event.event_id, seat_ids=event.seat_ids[:2]) == rows
    assert await payment_and_cart(db, payment_id=booking["payment_id"]) == (
        "pending",
        None,
        "booked",
    )
    await assert_invariants(db)


async def test_sweeper_leaves_a_seat_another_cart_took_after_expiry(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    seat, other = event.seat_ids[:2]
    first_holder = new_cart()
    await hold(client, first_holder, event, other)
    booking = await booked_cart(client, event, [seat])
    clock.advance(seconds=PAYMENT + 1)
    newcomer = new_cart()
    await hold(client, newcomer, event, seat)
    await hold(client, newcomer, event, other)

    assert await release_lapsed(db, now=clock.now) == (0, 1)
    rows = await seat_rows(db, event_id=event.event_id, seat_ids=[seat, other])
    assert [r[:3] for r in rows] == [
        (seat, 2, uuid.UUID(newcomer)),
        (other, 2, uuid.UUID(newcomer)),
    ]
    assert await payment_and_cart(db, payment_id=booking["payment_id"]) == (
        "expired",
        clock.now,
        "expired",
    )
    assert await active_items(db, cart_id=newcomer) == sorted([seat, other])
    assert await release_lapsed(db, now=clock.now) == (0, 0)

    rebooked = await book(client, newcomer)
    assert rebooked.status_code == 200, rebooked.text
    paid = await client.post(f"/payments/{rebooked.json()['payment_id']}/complete")
    assert paid.status_code == 200, paid.text
    await assert_invariants(db)


async def test_booking_a_partially_lapsed_cart_frees_the_lapsed_seat_itself(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    cart_id = new_cart()
    lapsed, live = event.seat_ids[:2]
    await hold(client, cart_id, event, lapsed)
    clock.advance(seconds=500)
    await hold(client, cart_id, event, live)
    clock.advance(seconds=HOLD - 500 + 1)
    booking = (await book(client, cart_id)).json()
    rows = await seat_rows(db, event_id=event.event_id, seat_ids=[lapsed, live])
    assert rows[0] == (lapsed, 1, None, None)
    assert rows[1][:3] == (live, 3, uuid.UUID(cart_id))
    assert (await get_payment(client, booking["payment_id"]))["status"] == "pending"
    assert await release_lapsed(db, now=clock.now) == (0, 0)  # nothing left to write down
    await assert_invariants(db)


async def test_sweeper_works_across_events(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    other = await make_event(db, now=clock.now, name="Other Hall")
    await hold(client, new_cart(), event, event.seat_ids[0])
    await hold(client, new_cart(), other, other.seat_ids[0])
    a = await booked_cart(client, event, [event.seat_ids[1]])
    b = await booked_cart(client, other, [other.seat_ids[1]])
    clock.advance(seconds=max(HOLD, PAYMENT) + 1)
    assert await release_lapsed(db, now=clock.now) == (2, 2)
    for payment in (a, b):
        assert (await payment_and_cart(db, payment_id=payment["payment_id"]))[2] == "expired"
    assert await release_lapsed(db, now=clock.now) == (0, 0)
    await assert_invariants(db)

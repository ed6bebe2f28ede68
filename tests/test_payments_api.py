"""Payments through REST: reading one, completing it (tickets), failing it, and finality."""

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
    book,
    booked_cart,
    get_cart,
    get_payment,
    hold,
    new_cart,
    problem,
    remove_seat,
    status_of,
    ts,
)
from tests.conftest import FakeClock
from tests.factories import EventFixture
from tests.invariants import assert_invariants
from ticketing.db import Database, query
from ticketing.models import audit_t, cart_t, event_seat_t, payment_t, ticket_t


async def finish(client: httpx.AsyncClient, payment_id: str, outcome: str) -> httpx.Response:
    return await client.post(f"/payments/{payment_id}/{outcome}")


@query
async def db_state(conn: AsyncConnection, *, payment_id: str) -> dict[str, Any]:
    """What the tables say about a payment: its row, its cart's row, its seats and tickets."""
    pid = uuid.UUID(payment_id)
    payment = (await conn.execute(sa.select(payment_t).where(payment_t.c.id == pid))).one()
    cart_status = await conn.scalar(
        sa.select(cart_t.c.status).where(cart_t.c.id == payment.cart_id)
    )
    seats = sorted(
        tuple(row)
        for row in await conn.execute(
            sa.select(
                event_seat_t.c.seat_id,
                event_seat_t.c.status,
                event_seat_t.c.cart_id,
                event_seat_t.c.expires_at,
            ).where(event_seat_t.c.cart_id == payment.cart_id)
        )
    )
    tickets = sorted(
        str(t)
        for t in await conn.scalars(sa.select(ticket_t.c.id).where(ticket_t.c.payment_id == pid))
    )
    audit = await conn.scalar(
        sa.select(sa.func.count()).select_from(audit_t).where(audit_t.c.payment_id == pid)
    )
    return {
        "payment": (payment.status, payment.finalized_at, payment.total_amount),
        "cart": cart_status,
        "seats": seats,
        "tickets": tickets,
        "audit": audit,
    }


# --- Reading ---------------------------------------------------------------------------------


async def test_unknown_payment_is_not_found(client: httpx.AsyncClient) -> None:
    unknown = uuid.uuid4()
    body = problem(await client.get(f"/payments/{unknown}"), 404, "NOT_FOUND")
    assert str(unknown) in body["detail"]
    for outcome in ("complete", "failed"):
        problem(await finish(client, str(unknown), outcome), 404, "NOT_FOUND")


async def test_payment_id_must_be_a_uuid(client: httpx.AsyncClient) -> None:
    body = problem(await client.get("/payments/12345"), 422, "VALIDATION_ERROR")
    assert body["errors"][0]["field"] == "path.payment_id"


async def test_pending_payment_reads_as_booked(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    booking = await booked_cart(client, event, [(event.seat_ids[0], "VIP")])
    payment_id = booking["payment_id"]
    assert uuid.UUID(payment_id).version == 4
    payment = await get_payment(client, payment_id)
    assert payment == {
        **booking,
        "created_at": payment["created_at"],
        "finalized_at": None,
        "tickets": [],
    }
    assert ts(payment["created_at"]) == clock.now
    assert ts(payment["expires_at"]) == clock.now + timedelta(seconds=900)
    assert payment["status"] == "pending"
    assert payment["total_amount"] == "99.50"
    await assert_invariants(db)


async def test_payment_ids_are_random_uuid4(client: httpx.AsyncClient, event: EventFixture) -> None:
    ids = set()
    for seat in event.seat_ids[:3]:
        booking = await booked_cart(client, event, [(seat, "Adult")])
        payment_id = uuid.UUID(booking["payment_id"])
        assert payment_id.version == 4
        assert payment_id.variant == uuid.RFC_4122
        assert str(payment_id) != booking["cart_id"]
        ids.add(payment_id)
    assert len(ids) == 3


# --- Completing ------------------------------------------------------------------------------


async def test_complete_sells_the_seats_and_issues_a_ticket_per_seat(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    seat, other, place = event.seat_ids[0], event.seat_ids[11], event.ga_seat_ids[0]
    booking = await booked_cart(client, event, [(other, "Child"), (seat, "VIP"), (place, "Adult")])
    clock.advance(seconds=120)
    response = await finish(client, booking["payment_id"], "complete")
    assert response.status_code == 200, response.text
    payment = response.json()
    assert payment["status"] == "completed"
    assert payment["payment_id"] == booking["payment_id"]
    assert payment["cart_id"] == booking["cart_id"]
    assert payment["total_amount"] == "149.50"
    assert payment["currency"] == "EUR"
    assert ts(payment["finalized_at"]) == clock.now

    event_info = (await client.get(f"/events/{event.event_id}")).json()
    tickets = payment["tickets"]
    assert len({t["ticket_id"] for t in tickets}) == 3
    for ticket in tickets:
        assert uuid.UUID(ticket["ticket_id"])
        assert ticket["event_id"] == event.event_id
        assert ticket["event_name"] == event_info["name"] == "Test Hall Night"
        assert ticket["starts_at"] == event_info["starts_at"]
        assert ticket["venue_name"] == event_info["venue_name"] == "Test Hall"
        assert ticket["currency"] == "EUR"
    described = sorted(
        (t["seat_id"], t["section"], t["row"], t["number"], t["price_name"], t["amount"])
        for t in tickets
    )
    assert described == sorted(
        [
            (seat, "Main", "A", "1", "VIP", "99.50"),
            (other, "Main", "B", "2", "Child", "20.00"),
            (place, "Floor", None, None, "Adult", "30.00"),
        ]
    )
    # Tickets come in seat-map order: Main before Floor, row A before row B.
    assert [t["seat_id"] for t in tickets] == [seat, other, place]

    assert await status_of(client, event, seat) == "sold"
    assert await status_of(client, event, other) == "sold"
    assert await status_of(client, event, place, "Floor") == "sold"
    cart = await get_cart(client, booking["cart_id"])
    assert cart["status"] == "paid"
    assert cart["payment_id"] == booking["payment_id"]
    assert cart["expires_at"] is None
    assert await get_payment(client, booking["payment_id"]) == payment

    state = await db_state(db, payment_id=booking["payment_id"])
    assert state["payment"][0] == "completed"
    assert state["cart"] == "paid"
    assert [(s[1], s[3]) for s in state["seats"]] == [(4, None)] * 3
    assert state["tickets"] == sorted(t["ticket_id"] for t in tickets)
    await assert_invariants(db)


async def test_completing_again_returns_the_same_payment_and_tickets(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    booking = await booked_cart(client, event, [(event.seat_ids[0], "Adult")])
    first = await finish(client, booking["payment_id"], "complete")
    assert first.status_code == 200
    state = await db_state(db, payment_id=booking["payment_id"])
    clock.advance(seconds=3600)  # long after the deadline: a completed payment never expires
    second = await finish(client, booking["payment_id"], "complete")
    assert second.status_code == 200, second.text
    assert second.json() == first.json()
    assert await db_state(db, payment_id=booking["payment_id"]) == state
    assert await get_payment(client, booking["payment_id"]) == first.json()
    assert await status_of(client, event, event.seat_ids[0]) == "sold"
    await assert_invariants(db)


async def test_completing_then_rebooking_the_cart_returns_the_completed_payment(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    booking = await booked_cart(client, event, [(event.seat_ids[0], "Adult")])
    assert (await finish(client, booking["payment_id"], "complete")).status_code == 200
    again = await book(client, booking["cart_id"])
    assert again.status_code == 200, again.text
    assert again.json()["payment_id"] == booking["payment_id"]
    assert again.json()["status"] == "completed"
    await assert_invariants(db)


# --- Failing ---------------------------------------------------------------------------------


async def test_failed_payment_frees_the_seats_for_a_new_cart(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    seats = event.seat_ids[:2]
    booking = await booked_cart(client, event, [(s, "Adult") for s in seats])
    counts_before = await client.get(f"/events/{event.event_id}/sections")
    clock.advance(seconds=60)
    response = await finish(client, booking["payment_id"], "failed")
    assert response.status_code == 200, response.text
    payment = response.json()
    assert payment["status"] == "failed"
    assert payment["tickets"] == []
    assert ts(payment["finalized_at"]) == clock.now
    assert payment["total_amount"] == "80.00"

    for seat in seats:
        assert await status_of(client, event, seat) == "available"
    counts = {
        s["name"]: s["available_count"]
        for s in (await client.get(f"/events/{event.event_id}/sections")).json()
    }
    before = {s["name"]: s["available_count"] for s in counts_before.json()}
    assert counts["Main"] == before["Main"] + 2
    cart = await get_cart(client, booking["cart_id"])
    assert cart["status"] == "failed"
    assert cart["payment_id"] == booking["payment_id"]
    assert cart["expires_at"] is None

    state = await db_state(db, payment_id=booking["payment_id"])
    assert state["payment"][0] == "failed"
    assert state["cart"] == "failed"
    assert state["seats"] == []  # no seat belongs to the failed cart any more
    assert state["tickets"] == []

    newcomer = new_cart()
    for seat in seats:
        await hold(client, newcomer, event, seat)
    rebooked = await book(client, newcomer)
    assert rebooked.status_code == 200
    assert rebooked.json()["payment_id"] != booking["payment_id"]
    assert (await finish(client, rebooked.json()["payment_id"], "complete")).status_code == 200
    for seat in seats:
        assert await status_of(client, event, seat) == "sold"
    # The old payment is untouched by the new one's success.
    assert (await get_payment(client, booking["payment_id"]))["status"] == "failed"
    await assert_invariants(db)


async def test_failing_again_returns_the_same_payment(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    booking = await booked_cart(client, event, [(event.seat_ids[0], "Adult")])
    first = await finish(client, booking["payment_id"], "failed")
    assert first.status_code == 200
    state = await db_state(db, payment_id=booking["payment_id"])
    # Someone else takes the freed seat; repeating the failure must not disturb them.
    other = new_cart()
    await hold(client, other, event, event.seat_ids[0])
    clock.advance(seconds=30)
    second = await finish(client, booking["payment_id"], "failed")
    assert second.status_code == 200, second.text
    assert second.json() == first.json()
    assert await db_state(db, payment_id=booking["payment_id"]) == state
    assert await status_of(client, event, event.seat_ids[0]) == "held"
    assert len((await get_cart(client, other))["items"]) == 1
    await assert_invariants(db)


@pytest.mark.parametrize(("first", "second"), [("complete", "failed"), ("failed", "complete")])
async def test_the_opposite_outcome_on_a_finished_payment_is_refused(
    client: httpx.AsyncClient,
    event: EventFixture,
    clock: FakeClock,
    db: Database,
    first: str,
    second: str,
) -> None:
    seat = event.seat_ids[0]
    booking = await booked_cart(client, event, [(seat, "Adult")])
    payment_id = booking["payment_id"]
    done = await finish(client, payment_id, first)
    assert done.status_code == 200
    state = await db_state(db, payment_id=payment_id)
    seat_before = await status_of(client, event, seat)
    clock.advance(seconds=10)

    body = problem(await finish(client, payment_id, second), 409, "PAYMENT_FINALIZED")
    assert body["payment_id"] == payment_id
    assert await get_payment(client, payment_id) == done.json()
    assert await db_state(db, payment_id=payment_id) == state
    assert await status_of(client, event, seat) == seat_before
    # The first outcome can still be repeated.
    assert (await finish(client, payment_id, first)).json() == done.json()
    await assert_invariants(db)


async def test_failed_cart_is_not_open_for_changes(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    seat = event.seat_ids[0]
    booking = await booked_cart(client, event, [(seat, "Adult")])
    cart_id = booking["cart_id"]
    assert (await finish(client, payment_id := booking["payment_id"], "failed")).status_code == 200
    before = await get_cart(client, cart_id)

    for target in (seat, event.seat_ids[1]):
        response = await add_seat(
            client,
            cart_id,
            event_id=event.event_id,
            seat_id=target,
            price_id=event.price_ids["Adult"],
        )
        problem(response, 409, "CART_NOT_OPEN")
    problem(
        await remove_seat(client, cart_id, event_id=event.event_id, seat_id=seat),
        409,
        "CART_NOT_OPEN",
    )
    # Booking it again answers with its (failed) payment rather than a new one.
    again = await book(client, cart_id)
    assert again.status_code == 200, again.text
    assert again.json()["payment_id"] == payment_id
    assert again.json()["status"] == "failed"

    assert await get_cart(client, cart_id) == before
    assert await status_of(client, event, seat) == "available"
    assert await status_of(client, event, event.seat_ids[1]) == "available"
    await assert_invariants(db)


async def test_paid_cart_is_not_open_for_changes(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    seat = event.seat_ids[0]
    booking = await booked_cart(client, event, [(seat, "Adult")])
    assert (await finish(client, booking["payment_id"], "complete")).status_code == 200
    cart_id = booking["cart_id"]
    response = await add_seat(
        client,
        cart_id,
        event_id=event.event_id,
        seat_id=event.seat_ids[1],
        price_id=event.price_ids["Adult"],
    )
    problem(response, 409, "CART_NOT_OPEN")
    problem(
        await remove_seat(client, cart_id, event_id=event.event_id, seat_id=seat),
        409,
        "CART_NOT_OPEN",
    )
    assert (await get_cart(client, cart_id))["status"] == "paid"
    assert await status_of(client, event, seat) == "sold"
    await assert_invariants(db)


async def test_payment_outcomes_are_audited(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    sold = await booked_cart(client, event, [(event.seat_ids[0], "Adult")])
    failed = await booked_cart(client, event, [(event.seat_ids[1], "Adult")])
    await finish(client, sold["payment_id"], "complete")
    await finish(client, failed["payment_id"], "failed")

    @query
    async def actions(conn: AsyncConnection, *, payment_id: str) -> list[tuple[Any, ...]]:
        rows = await conn.execute(
            sa.select(audit_t.c.action, audit_t.c.from_status, audit_t.c.to_status)
            .where(audit_t.c.payment_id == uuid.UUID(payment_id))
            .order_by(audit_t.c.id)
        )
        return [tuple(r) for r in rows]

    assert await actions(db, payment_id=sold["payment_id"]) == [
        ("seat_booked", "held", "booked"),
        ("payment_created", None, "pending"),
        ("seat_sold", "booked", "sold"),
        ("payment_completed", "pending", "completed"),
    ]
    assert await actions(db, payment_id=failed["payment_id"]) == [
        ("seat_booked", "held", "booked"),
        ("payment_created", None, "pending"),
        ("seat_released", "booked", "available"),
        ("payment_failed", "pending", "failed"),
    ]

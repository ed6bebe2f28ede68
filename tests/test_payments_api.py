"""Payments through REST: what reading, completing and failing one answer, and refusals as
problems (the rules themselves are tested in tests/service/test_payments.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.api import (
    booked_cart,
    get_cart,
    get_payment,
    problem,
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
        "tickets_pdf_url": None,
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


# --- Failing ---------------------------------------------------------------------------------


async def test_failed_payment_answers_without_tickets_and_shows_its_seats_available(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    seats = event.seat_ids[:2]
    booking = await booked_cart(client, event, seats)
    clock.advance(seconds=60)
    response = await finish(client, booking["payment_id"], "failed")
    assert response.status_code == 200, response.text
    payment = response.json()
    assert payment["status"] == "failed"
    assert payment["tickets"] == []
    assert ts(payment["finalized_at"]) == clock.now
    assert payment["total_amount"] == "80.00"
    assert await get_payment(client, booking["payment_id"]) == payment
    for seat in seats:
        assert await status_of(client, event, seat) == "available"
    cart = await get_cart(client, booking["cart_id"])
    assert (cart["status"], cart["payment_id"], cart["expires_at"]) == (
        "failed",
        booking["payment_id"],
        None,
    )
    await assert_invariants(db)


async def test_a_finished_payment_is_a_conflict_naming_the_payment(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    booking = await booked_cart(client, event, [event.seat_ids[0]])
    payment_id = booking["payment_id"]
    done = await finish(client, payment_id, "complete")
    assert done.status_code == 200
    body = problem(await finish(client, payment_id, "failed"), 409, "PAYMENT_FINALIZED")
    assert body["payment_id"] == payment_id
    assert await get_payment(client, payment_id) == done.json()


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

"""The sweep: writes down what every reader already sees, lapsed holds and overdue payments.

Correctness never waits for it: reads and claims apply the deadlines themselves.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.db import Database, command
from ticketing.domain import CartStatus, PaymentStatus, SeatStatus
from ticketing.inventory import audit
from ticketing.inventory.stamps import stamped
from ticketing.models import event_seat_t, item_t, payment_t
from ticketing.notifications import outbox
from ticketing.orders.carts import lock_cart
from ticketing.payments.payments import release_pending_payment


@command
async def release_lapsed_holds(conn: AsyncConnection, *, now: datetime) -> int:
    """Lapsed holds: their seats become available and their cart items inactive."""
    # Lock the lapsed holds first: an UPDATE's RETURNING shows new values, and we need the
    # cart each hold belonged to. Rows a claimer is taking right now are skipped, not awaited.
    lapsed = (
        await conn.execute(
            sa.select(event_seat_t.c.event_id, event_seat_t.c.seat_id, event_seat_t.c.cart_id)
            .where(event_seat_t.c.status == SeatStatus.HELD, event_seat_t.c.expires_at <= now)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not lapsed:
        return 0
    for event_id in {seat.event_id for seat in lapsed}:
        await conn.execute(
            sa.update(event_seat_t)
            .where(
                event_seat_t.c.event_id == event_id,
                event_seat_t.c.seat_id.in_([s.seat_id for s in lapsed if s.event_id == event_id]),
                event_seat_t.c.status == SeatStatus.HELD,
                event_seat_t.c.expires_at <= now,
            )
            .values(status=SeatStatus.AVAILABLE, cart_id=None, expires_at=None, **stamped())
        )
    for seat in lapsed:
        await conn.execute(
            sa.update(item_t)
            .where(
                item_t.c.event_id == seat.event_id,
                item_t.c.seat_id == seat.seat_id,
                item_t.c.cart_id == seat.cart_id,
                item_t.c.active,
            )
            .values(active=False, released_at=now, release_reason="lapsed")
        )
    await audit.record(
        conn,
        [
            audit.seat_entry(
                action="hold_lapsed",
                event_id=seat.event_id,
                seat_id=seat.seat_id,
                from_status=SeatStatus.HELD,
                to_status=SeatStatus.AVAILABLE,
                cart_id=seat.cart_id,
            )
            for seat in lapsed
        ],
        at=now,
        actor="system",
    )
    # Holds that lapsed before booking: their customer is told which seats went.
    lapsed_by_cart: dict[uuid.UUID, list[tuple[int, int]]] = {}
    for seat in lapsed:
        lapsed_by_cart.setdefault(seat.cart_id, []).append((seat.event_id, seat.seat_id))
    await outbox.write_cart_messages(
        conn,
        outbox.Kind.HOLD_EXPIRED,
        facts={cart: {"seats": outbox.seats_fact(seats)} for cart, seats in lapsed_by_cart.items()},
        now=now,
    )
    return len(lapsed)


@command
async def expire_overdue_payments(conn: AsyncConnection, *, now: datetime) -> int:
    """Overdue payments: expired, their carts expired, their seats available."""
    overdue = (
        await conn.execute(
            sa.select(payment_t.c.id, payment_t.c.cart_id)
            .where(payment_t.c.status == PaymentStatus.PENDING.value, payment_t.c.expires_at <= now)
            .order_by(payment_t.c.cart_id)
        )
    ).all()
    expired = 0
    for payment_id, cart_id in overdue:
        if await lock_cart(conn, cart_id=cart_id) is not CartStatus.BOOKED:
            continue  # finished by a concurrent command while we waited for the lock
        await release_pending_payment(
            conn, payment_id=payment_id, outcome=PaymentStatus.EXPIRED, now=now
        )
        expired += 1
    return expired


async def release_lapsed(db: Database, *, now: datetime) -> tuple[int, int]:
    """Both sweeps, each one transaction; returns (holds, payments) written down."""
    holds = await release_lapsed_holds(db, now=now)
    payments = await expire_overdue_payments(db, now=now)
    return holds, payments

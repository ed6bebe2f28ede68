"""What a seat transition checks, as SQL the claiming statement carries: the database decides."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ticketing.domain import EventStatus, SeatStatus
from ticketing.models import event_seat_t, event_t, price_t

Value = Any
"""A value of a statement: a bound parameter, a column or a Python value."""


def seat_is_free(now: datetime | sa.BindParameter[Any]) -> sa.ColumnElement[bool]:
    """A seat a claimer may take: available, or held or booked past its deadline."""
    return sa.or_(
        event_seat_t.c.status == SeatStatus.AVAILABLE,
        sa.and_(
            event_seat_t.c.status.in_([SeatStatus.HELD, SeatStatus.BOOKED]),
            event_seat_t.c.expires_at <= now,
        ),
    )


def on_sale(event_id: sa.ColumnElement[int]) -> sa.ColumnElement[bool]:
    """The seat's event is published: claims and bookings carry this in their WHERE clause, so
    that publishing and cancelling are decided by the database, not by an earlier read."""
    return event_id.in_(
        sa.select(event_t.c.id).where(event_t.c.status == EventStatus.PUBLISHED.value)
    )


def offered(event_id: Value, seat_id: Value, price_id: Value) -> sa.ColumnElement[bool]:
    """The seat offers this price level."""
    return sa.exists().where(
        price_t.c.event_id == event_id,
        price_t.c.seat_id == seat_id,
        price_t.c.price_level_id == price_id,
    )


def price_of(event_id: Value, seat_id: Value, price_id: Value) -> sa.ScalarSelect[Any]:
    """The seat's price at this level, read by the statement that takes the seat: a price a
    manager changed a moment before is the one recorded."""
    return (
        sa.select(price_t.c.amount)
        .where(
            price_t.c.event_id == event_id,
            price_t.c.seat_id == seat_id,
            price_t.c.price_level_id == price_id,
        )
        .scalar_subquery()
    )

"""A customer's steps as direct service calls, with the default cart and payment policies."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

import pytest

from tests.factories import MANAGER, EventFixture
from ticketing.db import Database
from ticketing.domain import CartView, EventView, PaymentView, Principal
from ticketing.errors import ErrorCode, TicketingError
from ticketing.management.commands import SectionPrice, create_event
from ticketing.orders.booking import book_cart
from ticketing.orders.holds import add_seat_to_cart, remove_seat_from_cart
from ticketing.payments.payments import complete_payment, fail_payment
from ticketing.settings import CartPolicy, PaymentPolicy

CARTS = CartPolicy(hold_seconds=900, payment_timeout_seconds=900, max_seats_per_cart=10)
PAYMENTS = PaymentPolicy()  # test mode: anyone may report an outcome


async def hold(
    db: Database,
    event: EventFixture,
    cart_id: uuid.UUID,
    seat_id: int,
    *,
    now: datetime,
    level: str = "Adult",
    policy: CartPolicy = CARTS,
) -> CartView:
    """Hold a seat of `event` at a price level by name; returns the cart."""
    return await add_seat_to_cart(
        db,
        cart_id=cart_id,
        event_id=event.event_id,
        seat_id=seat_id,
        price_id=event.price_ids[level],
        now=now,
        policy=policy,
    )


async def booked(
    db: Database, event: EventFixture, seat_ids: Sequence[int], *, now: datetime
) -> PaymentView:
    """A new cart holding these seats at Adult, booked: its pending payment."""
    cart_id = uuid.uuid4()
    for seat_id in seat_ids:
        await hold(db, event, cart_id, seat_id, now=now)
    return await book_cart(db, cart_id=cart_id, now=now, policy=CARTS)


async def release(
    db: Database, event: EventFixture, cart_id: uuid.UUID, seat_id: int, *, now: datetime
) -> CartView:
    """Let a held seat of `event` go; returns the cart."""
    return await remove_seat_from_cart(
        db, cart_id=cart_id, event_id=event.event_id, seat_id=seat_id, now=now
    )


async def finish(
    db: Database, payment_id: uuid.UUID, *, outcome: Literal["complete", "fail"], now: datetime
) -> PaymentView:
    """Report the provider's outcome for a payment (test-mode policy)."""
    report = complete_payment if outcome == "complete" else fail_payment
    return await report(db, payment_id=payment_id, now=now, policy=PAYMENTS)


async def create_draft(
    db: Database,
    event: EventFixture,
    *,
    now: datetime,
    caller: Principal | None = MANAGER,
    prices: Sequence[SectionPrice] = (),
) -> EventView:
    """A draft "Matinee" at the standard event's venue, three days from `now`, one level
    (Adult) priced as `prices` say."""
    return await create_event(
        db,
        caller=caller,
        venue_id=event.venue_id,
        name="Matinee",
        starts_at=now + timedelta(days=3),
        currency="EUR",
        price_levels=["Adult"],
        prices=prices,
        now=now,
    )


async def is_free(db: Database, event: EventFixture, seat_id: int, *, now: datetime) -> bool:
    """Whether a new cart can hold the seat; the probe lets it go again."""
    probe = uuid.uuid4()
    try:
        await hold(db, event, probe, seat_id, now=now)
    except TicketingError as refusal:
        if refusal.code is not ErrorCode.SEAT_NOT_AVAILABLE:
            raise
        return False
    await release(db, event, probe, seat_id, now=now)
    return True


def refused(code: ErrorCode) -> pytest.RaisesExc[TicketingError]:
    """Expect the call to raise TicketingError with this code."""
    return pytest.raises(TicketingError, check=lambda e: e.code is code)

"""Refunds: a manager refunds an order, and a cancelled event's orders are settled (holds
released, pending payments failed, paid tickets voided and refunded) in batches that resume."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.conftest import FakeClock
from tests.factories import MANAGER, EventFixture, make_event
from tests.invariants import assert_invariants
from tests.service.steps import booked, finish, hold, is_free, refused
from ticketing.db import Database
from ticketing.domain import PaymentStatus, Principal, Role, SeatStatus
from ticketing.errors import ErrorCode
from ticketing.management import commands as management
from ticketing.models import audit_t, event_seat_t, item_t, outbox_t, ticket_t
from ticketing.notifications.webhooks import create_webhook
from ticketing.orders.carts import get_cart
from ticketing.payments import refunds
from ticketing.payments.payments import get_payment
from ticketing.settings import WebhookPolicy

CUSTOMER = Principal(user_id=0, email="someone@example.com", role=Role.CUSTOMER)


async def _paid(db: Database, event: EventFixture, seats: list[int], clock: FakeClock) -> uuid.UUID:
    payment = await booked(db, event, seats, now=clock.now)
    await finish(db, payment.payment_id, outcome="complete", now=clock.now)
    return payment.payment_id


async def _tickets(db: Database, payment_id: uuid.UUID) -> list[tuple[int, bool]]:
    """(seat, void?) of the payment's tickets, by seat."""
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(ticket_t.c.seat_id, ticket_t.c.voided_at.is_not(None))
            .where(ticket_t.c.payment_id == payment_id)
            .order_by(ticket_t.c.seat_id)
        )
        return [(row[0], bool(row[1])) for row in rows]


async def _actions(db: Database, payment_id: uuid.UUID) -> list[str]:
    async with db.engine.connect() as conn:
        rows = await conn.scalars(
            sa.select(audit_t.c.action).where(audit_t.c.payment_id == payment_id)
        )
        return list(rows)


async def test_a_refund_voids_the_tickets_and_the_seats_can_be_sold_again(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    seats = event.seat_ids[:2]
    payment_id = await _paid(db, event, seats, clock)
    await create_webhook(
        db,
        caller=MANAGER,
        url="https://partner.example.com/hook",
        event_id=None,
        policy=WebhookPolicy(allow_private=True),
        now=clock.now,
    )
    refunded = await refunds.refund_payment(
        db, caller=MANAGER, payment_id=payment_id, now=clock.now
    )
    assert refunded.status is PaymentStatus.REFUNDED
    assert await _tickets(db, payment_id) == [(seats[0], True), (seats[1], True)]
    assert (await _actions(db, payment_id)).count("ticket_refunded") == 2
    assert "payment_refunded" in await _actions(db, payment_id)
    async with db.engine.connect() as conn:  # announced in the refund's transaction
        announced = (await conn.execute(sa.select(outbox_t.c.kind, outbox_t.c.payload))).all()
    (refund_message,) = [m for m in announced if m.kind == "order_refunded"]
    assert json.loads(refund_message.payload) == {
        "payment_id": str(payment_id),
        "amount": "80.00",
        "tickets": "2",
    }
    for seat in seats:
        assert await is_free(db, event, seat, now=clock.now)
    await assert_invariants(db)
    # the seat is sold again: a new valid ticket beside the void one
    again = await _paid(db, event, seats[:1], clock)
    assert await _tickets(db, again) == [(seats[0], False)]
    await assert_invariants(db)
    # refunding again changes nothing
    twice = await refunds.refund_payment(db, caller=MANAGER, payment_id=payment_id, now=clock.now)
    assert twice.status is PaymentStatus.REFUNDED
    assert (await _actions(db, payment_id)).count("payment_refunded") == 1


async def test_only_managers_refund_and_only_completed_payments(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    paid = await _paid(db, event, event.seat_ids[:1], clock)
    for caller in (None, CUSTOMER):
        with refused(ErrorCode.FORBIDDEN):
            await refunds.refund_payment(db, caller=caller, payment_id=paid, now=clock.now)
    pending = await booked(db, event, event.seat_ids[1:2], now=clock.now)
    with refused(ErrorCode.PAYMENT_NOT_COMPLETED):
        await refunds.refund_payment(
            db, caller=MANAGER, payment_id=pending.payment_id, now=clock.now
        )
    with refused(ErrorCode.NOT_FOUND):
        await refunds.refund_payment(db, caller=MANAGER, payment_id=uuid.uuid4(), now=clock.now)
    assert (await get_payment(db, payment_id=paid, now=clock.now)).status is (
        PaymentStatus.COMPLETED
    )


async def test_cancelling_an_event_settles_every_order(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    open_cart = uuid.uuid4()
    await hold(db, event, open_cart, event.seat_ids[0], now=clock.now)
    pending = await booked(db, event, event.seat_ids[1:3], now=clock.now)
    paid = await _paid(db, event, event.seat_ids[3:5], clock)
    await refunds.cancel_event(db, caller=MANAGER, event_id=event.event_id, now=clock.now)
    cart = await get_cart(db, cart_id=open_cart, now=clock.now)
    assert cart.items == ()
    failed = await get_payment(db, payment_id=pending.payment_id, now=clock.now)
    assert failed.status is PaymentStatus.FAILED
    refunded = await get_payment(db, payment_id=paid, now=clock.now)
    assert refunded.status is PaymentStatus.REFUNDED
    assert all(void for _, void in await _tickets(db, paid))
    async with db.engine.connect() as conn:  # off sale, yet written down as available
        statuses = await conn.scalars(
            sa.select(event_seat_t.c.status).where(
                event_seat_t.c.event_id == event.event_id,
                event_seat_t.c.seat_id.in_(event.seat_ids[:5]),
            )
        )
        assert set(statuses) == {SeatStatus.AVAILABLE}
    await assert_invariants(db)
    # nothing is left to settle
    assert await refunds.settle_cancellation(db, event_id=event.event_id, now=clock.now) == 0


async def test_an_order_of_two_events_keeps_the_tickets_of_the_event_not_cancelled(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    other = await make_event(db, now=clock.now, name="Other Hall")
    cart_id = uuid.uuid4()
    await hold(db, event, cart_id, event.seat_ids[0], now=clock.now)
    await hold(db, other, cart_id, other.seat_ids[0], now=clock.now)
    from tests.service.steps import CARTS
    from ticketing.orders.booking import book_cart

    payment = await book_cart(db, cart_id=cart_id, now=clock.now, policy=CARTS)
    await finish(db, payment.payment_id, outcome="complete", now=clock.now)
    await refunds.cancel_event(db, caller=MANAGER, event_id=event.event_id, now=clock.now)
    kept = await get_payment(db, payment_id=payment.payment_id, now=clock.now)
    assert kept.status is PaymentStatus.COMPLETED
    assert [t.event_id for t in kept.tickets] == [other.event_id]
    assert not await is_free(db, other, other.seat_ids[0], now=clock.now)
    await assert_invariants(db)


async def test_settling_goes_in_batches_and_the_sweep_resumes_it(
    db: Database, event: EventFixture, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(refunds, "SETTLE_BATCH", 2)
    payments = [await _paid(db, event, [seat], clock) for seat in event.seat_ids[:5]]
    # the cancellation committed, then the process died before settling anything
    await management.cancel_event(db, caller=MANAGER, event_id=event.event_id, now=clock.now)
    first = await refunds.settle_cancelled_batch(db, event_id=event.event_id, now=clock.now)
    assert len(first) == 2
    statuses = [(await get_payment(db, payment_id=p, now=clock.now)).status for p in payments]
    assert statuses.count(PaymentStatus.REFUNDED) == 2
    assert await refunds.settle_cancelled_events(db, now=clock.now) == 3
    statuses = [(await get_payment(db, payment_id=p, now=clock.now)).status for p in payments]
    assert statuses == [PaymentStatus.REFUNDED] * 5
    async with db.engine.connect() as conn:
        active = await conn.scalar(
            sa.select(sa.func.count()).where(item_t.c.event_id == event.event_id, item_t.c.active)
        )
    assert active == 0
    await assert_invariants(db)


async def test_settling_that_makes_no_progress_stops(
    db: Database,
    event: EventFixture,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug that left an order unsettled must not loop for ever inside the manager's request."""
    await _paid(db, event, event.seat_ids[:1], clock)

    async def refunds_nothing(*_: object, **__: object) -> Decimal:
        return Decimal(0)

    monkeypatch.setattr(refunds, "_refund_tickets", refunds_nothing)
    await refunds.cancel_event(db, caller=MANAGER, event_id=event.event_id, now=clock.now)
    assert "makes no progress" in caplog.text

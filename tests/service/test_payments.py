"""Finishing payments: ticketing.payments.payments, called directly (test-mode policy)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Literal

import pytest

from tests.conftest import FakeClock
from tests.factories import EventFixture
from tests.invariants import assert_invariants
from tests.service.steps import CARTS, PAYMENTS, booked, finish, hold, is_free, refused, release
from ticketing.db import Database
from ticketing.domain import CartStatus, PaymentStatus, Principal
from ticketing.errors import ErrorCode
from ticketing.orders.booking import book_cart
from ticketing.orders.carts import get_cart
from ticketing.payments.payments import complete_payment, fail_payment, get_payment
from ticketing.payments.sweep import release_lapsed
from ticketing.settings import PaymentPolicy

PAYMENT_TIMEOUT = timedelta(seconds=CARTS.payment_timeout_seconds)


async def test_completing_sells_the_seats_with_a_ticket_each(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    seat, other, place = event.seat_ids[0], event.seat_ids[11], event.ga_seat_ids[0]
    cart_id = uuid.uuid4()
    await hold(db, event, cart_id, other, now=clock.now, level="Child")
    await hold(db, event, cart_id, seat, now=clock.now, level="VIP")
    await hold(db, event, cart_id, place, now=clock.now)
    booking = await book_cart(db, cart_id=cart_id, now=clock.now, policy=CARTS)
    done_at = clock.advance(seconds=120)
    paid = await complete_payment(db, payment_id=booking.payment_id, now=done_at, policy=PAYMENTS)
    assert (paid.status, paid.finalized_at) == (PaymentStatus.COMPLETED, done_at)
    assert paid.total_amount == Decimal("149.50")
    # in seat-map order: Main before Floor, row A before row B
    assert [
        (t.seat_id, t.section_name, t.row, t.number, t.price_name, t.amount) for t in paid.tickets
    ] == [
        (seat, "Main", "A", "1", "VIP", Decimal("99.50")),
        (other, "Main", "B", "2", "Child", Decimal("20.00")),
        (place, "Floor", None, None, "Adult", Decimal("30.00")),
    ]
    assert {(t.event_name, t.venue_name, t.currency) for t in paid.tickets} == {
        ("Test Hall Night", "Test Hall", "EUR")
    }
    assert len({t.id for t in paid.tickets}) == 3
    cart = await get_cart(db, cart_id=cart_id, now=done_at)
    assert (cart.status, cart.expires_at) == (CartStatus.PAID, None)
    for sold in (seat, other, place):
        assert not await is_free(db, event, sold, now=done_at + timedelta(days=1))
    assert await get_payment(db, payment_id=booking.payment_id, now=done_at) == paid
    await assert_invariants(db)


async def test_completing_again_returns_the_same_payment_even_after_the_deadline(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    booking = await booked(db, event, [event.seat_ids[0]], now=clock.now)
    first = await complete_payment(
        db, payment_id=booking.payment_id, now=clock.now, policy=PAYMENTS
    )
    later = clock.now + PAYMENT_TIMEOUT + timedelta(hours=1)
    again = await complete_payment(db, payment_id=booking.payment_id, now=later, policy=PAYMENTS)
    assert again == first
    rebooked = await book_cart(db, cart_id=booking.cart_id, now=later, policy=CARTS)
    assert (rebooked.payment_id, rebooked.status) == (booking.payment_id, PaymentStatus.COMPLETED)


async def test_failing_puts_the_seats_back_on_sale(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    seats = event.seat_ids[:2]
    booking = await booked(db, event, seats, now=clock.now)
    failed_at = clock.advance(seconds=60)
    failed = await fail_payment(db, payment_id=booking.payment_id, now=failed_at, policy=PAYMENTS)
    assert (failed.status, failed.finalized_at, failed.tickets) == (
        PaymentStatus.FAILED,
        failed_at,
        (),
    )
    assert failed.total_amount == Decimal("80.00")
    cart = await get_cart(db, cart_id=booking.cart_id, now=failed_at)
    assert (cart.status, cart.payment_id, cart.expires_at) == (
        CartStatus.FAILED,
        booking.payment_id,
        None,
    )
    # a newcomer buys them; the failed payment stays failed
    newcomer = await booked(db, event, seats, now=failed_at)
    await complete_payment(db, payment_id=newcomer.payment_id, now=failed_at, policy=PAYMENTS)
    again = await get_payment(db, payment_id=booking.payment_id, now=failed_at)
    assert again.status is PaymentStatus.FAILED
    await assert_invariants(db)


async def test_failing_again_leaves_the_seat_to_whoever_took_it(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    seat = event.seat_ids[0]
    booking = await booked(db, event, [seat], now=clock.now)
    first = await fail_payment(db, payment_id=booking.payment_id, now=clock.now, policy=PAYMENTS)
    taker = uuid.uuid4()
    await hold(db, event, taker, seat, now=clock.now)
    again = await fail_payment(
        db, payment_id=booking.payment_id, now=clock.advance(seconds=30), policy=PAYMENTS
    )
    assert again == first
    assert [i.seat_id for i in (await get_cart(db, cart_id=taker, now=clock.now)).items] == [seat]
    await assert_invariants(db)


@pytest.mark.parametrize(("first", "opposite"), [("complete", "fail"), ("fail", "complete")])
async def test_a_finished_payment_refuses_the_opposite_outcome(
    db: Database,
    event: EventFixture,
    clock: FakeClock,
    first: Literal["complete", "fail"],
    opposite: Literal["complete", "fail"],
) -> None:
    seat = event.seat_ids[0]
    booking = await booked(db, event, [seat], now=clock.now)
    done = await finish(db, booking.payment_id, outcome=first, now=clock.now)
    with refused(ErrorCode.PAYMENT_FINALIZED):
        await finish(db, booking.payment_id, outcome=opposite, now=clock.now)
    assert await get_payment(db, payment_id=booking.payment_id, now=clock.now) == done
    assert await is_free(db, event, seat, now=clock.now) is (first == "fail")
    await assert_invariants(db)


@pytest.mark.parametrize("outcome", ["complete", "fail"])
async def test_a_finished_cart_is_closed_to_changes(
    db: Database, event: EventFixture, clock: FakeClock, outcome: Literal["complete", "fail"]
) -> None:
    seat = event.seat_ids[0]
    booking = await booked(db, event, [seat], now=clock.now)
    done = await finish(db, booking.payment_id, outcome=outcome, now=clock.now)
    before = await get_cart(db, cart_id=booking.cart_id, now=clock.now)
    for target in (seat, event.seat_ids[1]):
        with refused(ErrorCode.CART_NOT_OPEN):
            await hold(db, event, booking.cart_id, target, now=clock.now)
    with refused(ErrorCode.CART_NOT_OPEN):
        await release(db, event, booking.cart_id, seat, now=clock.now)
    # booking it again answers with its payment rather than a new one
    again = await book_cart(db, cart_id=booking.cart_id, now=clock.now, policy=CARTS)
    assert (again.payment_id, again.status) == (done.payment_id, done.status)
    assert await get_cart(db, cart_id=booking.cart_id, now=clock.now) == before
    assert await is_free(db, event, event.seat_ids[1], now=clock.now)
    await assert_invariants(db)


async def test_an_overdue_payment_expires_and_frees_its_seats(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    seat = event.seat_ids[0]
    booking = await booked(db, event, [seat], now=clock.now)
    overdue = clock.now + PAYMENT_TIMEOUT
    assert (await get_payment(db, payment_id=booking.payment_id, now=overdue)).status is (
        PaymentStatus.EXPIRED
    )
    with refused(ErrorCode.PAYMENT_EXPIRED):
        await complete_payment(db, payment_id=booking.payment_id, now=overdue, policy=PAYMENTS)
    assert await is_free(db, event, seat, now=overdue)
    assert await release_lapsed(db, now=overdue) == (0, 1)
    assert (await get_cart(db, cart_id=booking.cart_id, now=overdue)).status is CartStatus.EXPIRED
    await assert_invariants(db)


async def test_a_payment_completes_just_before_its_deadline(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    booking = await booked(db, event, [event.seat_ids[0]], now=clock.now)
    just_before = clock.now + PAYMENT_TIMEOUT - timedelta(seconds=1)
    paid = await complete_payment(
        db, payment_id=booking.payment_id, now=just_before, policy=PAYMENTS
    )
    assert paid.status is PaymentStatus.COMPLETED


async def test_with_a_secret_only_the_provider_or_the_owner_finishes(
    db: Database, event: EventFixture, clock: FakeClock, customer: Principal
) -> None:
    signed = PaymentPolicy(secret="s3cret")
    booking = await booked(db, event, [event.seat_ids[0]], now=clock.now)
    with refused(ErrorCode.FORBIDDEN):  # anonymous, unsigned
        await complete_payment(db, payment_id=booking.payment_id, now=clock.now, policy=signed)
    with refused(ErrorCode.FORBIDDEN):  # a customer may abandon, not complete
        await complete_payment(
            db, payment_id=booking.payment_id, now=clock.now, policy=signed, caller=customer
        )
    assert (await get_payment(db, payment_id=booking.payment_id, now=clock.now)).status is (
        PaymentStatus.PENDING
    )

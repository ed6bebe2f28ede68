"""Booking a cart: ticketing.orders.booking, called directly."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from tests.conftest import FakeClock
from tests.factories import EventFixture
from tests.invariants import assert_invariants
from tests.service.steps import CARTS, hold, is_free, refused, release
from ticketing.db import Database
from ticketing.domain import CartStatus, PaymentStatus
from ticketing.errors import ErrorCode
from ticketing.orders.booking import book_cart
from ticketing.orders.carts import get_cart
from ticketing.settings import CartPolicy

HOLD = timedelta(seconds=CARTS.hold_seconds)


async def test_booking_puts_every_held_seat_under_one_pending_payment(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    cart_id = uuid.uuid4()
    seats = event.seat_ids[:3]
    for seat, level in zip(seats, ("Adult", "Child", "VIP"), strict=True):
        await hold(db, event, cart_id, seat, now=clock.now, level=level)
    booked_at = clock.advance(seconds=60)
    payment = await book_cart(db, cart_id=cart_id, now=booked_at, policy=CARTS)
    assert payment.cart_id == cart_id
    assert payment.status is PaymentStatus.PENDING
    assert (payment.total_amount, payment.currency) == (Decimal("159.50"), "EUR")
    assert payment.expires_at == booked_at + timedelta(seconds=CARTS.payment_timeout_seconds)
    assert payment.payment_id.version == 4
    cart = await get_cart(db, cart_id=cart_id, now=booked_at)
    assert (cart.status, cart.payment_id, cart.expires_at) == (
        CartStatus.BOOKED,
        payment.payment_id,
        payment.expires_at,
    )
    assert [i.seat_id for i in cart.items] == seats
    for seat in seats:
        assert not await is_free(db, event, seat, now=booked_at)
    await assert_invariants(db)


async def test_booking_again_returns_the_same_payment(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    cart_id = uuid.uuid4()
    await hold(db, event, cart_id, event.seat_ids[0], now=clock.now)
    first = await book_cart(db, cart_id=cart_id, now=clock.now, policy=CARTS)
    again = await book_cart(db, cart_id=cart_id, now=clock.advance(seconds=30), policy=CARTS)
    assert again == first


async def test_a_booked_cart_is_closed_to_changes(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    cart_id = uuid.uuid4()
    seat = event.seat_ids[0]
    await hold(db, event, cart_id, seat, now=clock.now)
    await book_cart(db, cart_id=cart_id, now=clock.now, policy=CARTS)
    before = await get_cart(db, cart_id=cart_id, now=clock.now)
    with refused(ErrorCode.CART_NOT_OPEN):
        await hold(db, event, cart_id, event.seat_ids[1], now=clock.now)
    with refused(ErrorCode.CART_NOT_OPEN):
        await hold(db, event, cart_id, seat, now=clock.now, level="VIP")
    with refused(ErrorCode.CART_NOT_OPEN):
        await release(db, event, cart_id, seat, now=clock.now)
    assert await get_cart(db, cart_id=cart_id, now=clock.now) == before
    assert await is_free(db, event, event.seat_ids[1], now=clock.now)
    await assert_invariants(db)


async def test_a_cart_with_nothing_held_is_empty(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    with refused(ErrorCode.CART_EMPTY):  # never used
        await book_cart(db, cart_id=uuid.uuid4(), now=clock.now, policy=CARTS)
    cart_id = uuid.uuid4()
    seat = event.seat_ids[0]
    await hold(db, event, cart_id, seat, now=clock.now)
    await release(db, event, cart_id, seat, now=clock.now)
    with refused(ErrorCode.CART_EMPTY):  # everything released
        await book_cart(db, cart_id=cart_id, now=clock.now, policy=CARTS)
    # the cart stays open and usable
    again = await hold(db, event, cart_id, seat, now=clock.now)
    assert (again.status, len(again.items)) == (CartStatus.OPEN, 1)


async def test_a_cart_whose_holds_all_lapsed_is_empty(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    cart_id = uuid.uuid4()
    await hold(db, event, cart_id, event.seat_ids[0], now=clock.now)
    with refused(ErrorCode.CART_EMPTY):
        await book_cart(db, cart_id=cart_id, now=clock.now + HOLD, policy=CARTS)


async def test_booking_a_partly_lapsed_cart_books_only_its_live_seats(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    cart_id = uuid.uuid4()
    lapsed, live = event.seat_ids[:2]
    start = clock.now
    await hold(db, event, cart_id, lapsed, now=start)
    await hold(db, event, cart_id, live, now=start + timedelta(seconds=100), level="VIP")
    at = start + HOLD
    payment = await book_cart(db, cart_id=cart_id, now=at, policy=CARTS)
    assert payment.total_amount == Decimal("99.50")
    assert [i.seat_id for i in (await get_cart(db, cart_id=cart_id, now=at)).items] == [live]
    assert await is_free(db, event, lapsed, now=at)
    await assert_invariants(db)


async def test_without_anonymous_checkout_only_a_signed_in_customer_books(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    customers_only = CartPolicy(anonymous_checkout=False)
    cart_id = uuid.uuid4()
    await hold(db, event, cart_id, event.seat_ids[0], now=clock.now)
    with refused(ErrorCode.AUTH_REQUIRED):
        await book_cart(db, cart_id=cart_id, now=clock.now, policy=customers_only)
    assert (await get_cart(db, cart_id=cart_id, now=clock.now)).status is CartStatus.OPEN

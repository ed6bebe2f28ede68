"""Holding and releasing seats: the cart rules of ticketing.orders.holds, called directly."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from tests.conftest import FakeClock
from tests.factories import MANAGER, EventFixture, make_event
from tests.invariants import assert_invariants
from tests.service.steps import CARTS, PAYMENTS, booked, hold, is_free, refused, release
from ticketing.db import Database
from ticketing.domain import CartStatus
from ticketing.errors import ErrorCode
from ticketing.management.commands import cancel_event
from ticketing.orders.carts import get_cart
from ticketing.orders.holds import (
    add_general_admission_to_cart,
    add_seat_to_cart,
)
from ticketing.payments.payments import complete_payment

HOLD = timedelta(seconds=CARTS.hold_seconds)


async def test_held_seats_are_priced_totalled_and_taken_from_sale(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    cart_id = uuid.uuid4()
    first, second = event.seat_ids[:2]
    await hold(db, event, cart_id, first, now=clock.now, level="Adult")
    cart = await hold(db, event, cart_id, second, now=clock.now, level="Child")
    assert cart.status is CartStatus.OPEN
    assert [(i.seat_id, i.price_name, i.amount) for i in cart.items] == [
        (first, "Adult", Decimal("40.00")),
        (second, "Child", Decimal("20.00")),
    ]
    assert cart.total_amount == Decimal("60.00")
    assert cart.currency == "EUR"
    assert {i.hold_expires_at for i in cart.items} == {clock.now + HOLD}
    assert not await is_free(db, event, first, now=clock.now)
    assert not await is_free(db, event, second, now=clock.now)
    await assert_invariants(db)


async def test_a_seat_held_by_another_cart_is_not_available(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    seat = event.seat_ids[0]
    await hold(db, event, uuid.uuid4(), seat, now=clock.now)
    late = uuid.uuid4()
    with refused(ErrorCode.SEAT_NOT_AVAILABLE):
        await hold(db, event, late, seat, now=clock.now)
    assert (await get_cart(db, cart_id=late, now=clock.now)).items == ()
    await assert_invariants(db)


async def test_seats_booked_or_sold_elsewhere_are_not_available(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    booked_seat, sold_seat = event.seat_ids[:2]
    await booked(db, event, [booked_seat], now=clock.now)
    sold = await booked(db, event, [sold_seat], now=clock.now)
    await complete_payment(db, payment_id=sold.payment_id, now=clock.now, policy=PAYMENTS)
    for seat in (booked_seat, sold_seat):
        with refused(ErrorCode.SEAT_NOT_AVAILABLE):
            await hold(db, event, uuid.uuid4(), seat, now=clock.now)
    await assert_invariants(db)


async def test_holding_own_seat_again_changes_its_price_not_its_deadline(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    cart_id = uuid.uuid4()
    seat = event.seat_ids[0]
    held_at = clock.now
    await hold(db, event, cart_id, seat, now=clock.now, level="Adult")
    clock.advance(seconds=60)
    cart = await hold(db, event, cart_id, seat, now=clock.now, level="VIP")
    ((item),) = cart.items
    assert (item.price_name, item.amount) == ("VIP", Decimal("99.50"))
    assert item.hold_expires_at == held_at + HOLD
    await assert_invariants(db)


async def test_the_cart_limit_refuses_one_seat_more_and_changes_nothing(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    cart_id = uuid.uuid4()
    for seat in event.seat_ids[:10]:
        before = await hold(db, event, cart_id, seat, now=clock.now)
    eleventh = event.seat_ids[10]
    with refused(ErrorCode.CART_LIMIT) as refusal:
        await hold(db, event, cart_id, eleventh, now=clock.now)
    assert refusal.value.context == {"limit": 10}
    assert await get_cart(db, cart_id=cart_id, now=clock.now) == before
    assert await is_free(db, event, eleventh, now=clock.now)
    # re-pricing a seat the cart holds is not one more seat
    repriced = await hold(db, event, cart_id, event.seat_ids[0], now=clock.now, level="Child")
    assert (len(repriced.items), repriced.total_amount) == (10, Decimal("380.00"))
    # releasing one makes room again
    await release(db, event, cart_id, event.seat_ids[0], now=clock.now)
    after = await hold(db, event, cart_id, eleventh, now=clock.now)
    assert len(after.items) == 10
    await assert_invariants(db)


async def test_lapsed_holds_leave_room_under_the_cart_limit(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    cart_id = uuid.uuid4()
    for seat in event.seat_ids[:10]:
        await hold(db, event, cart_id, seat, now=clock.now)
    cart = await hold(db, event, cart_id, event.seat_ids[10], now=clock.now + HOLD)
    assert [i.seat_id for i in cart.items] == [event.seat_ids[10]]


async def test_a_cart_keeps_one_currency(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    dollars = await make_event(db, now=clock.now, currency="USD", name="Dollar Hall")
    cart_id = uuid.uuid4()
    before = await hold(db, event, cart_id, event.seat_ids[0], now=clock.now)
    with refused(ErrorCode.CURRENCY_MISMATCH):
        await hold(db, dollars, cart_id, dollars.seat_ids[0], now=clock.now)
    assert await get_cart(db, cart_id=cart_id, now=clock.now) == before
    assert await is_free(db, dollars, dollars.seat_ids[0], now=clock.now)
    # two events in the same currency share a cart
    euros = await make_event(db, now=clock.now, name="Euro Hall")
    mixed = await hold(db, euros, cart_id, euros.seat_ids[0], now=clock.now)
    assert {i.event_id for i in mixed.items} == {event.event_id, euros.event_id}
    assert (mixed.currency, mixed.total_amount) == ("EUR", Decimal("80.00"))


async def test_a_price_the_seat_does_not_offer_is_refused(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    other = await make_event(db, now=clock.now, name="Other Hall")
    cart_id = uuid.uuid4()
    attempts = {
        "another event's level": (event.seat_ids[0], other.price_ids["Adult"]),
        "a level the floor does not offer": (event.ga_seat_ids[0], event.price_ids["VIP"]),
        "an unknown level": (event.seat_ids[0], 999_999),
        "a seat of a section not on sale": (event.closed_seat_ids[0], event.price_ids["Adult"]),
    }
    for seat, price_id in attempts.values():
        with refused(ErrorCode.PRICE_NOT_OFFERED):
            await add_seat_to_cart(
                db,
                cart_id=cart_id,
                event_id=event.event_id,
                seat_id=seat,
                price_id=price_id,
                now=clock.now,
                policy=CARTS,
            )
    assert (await get_cart(db, cart_id=cart_id, now=clock.now)).items == ()
    for seat in (event.seat_ids[0], event.ga_seat_ids[0]):
        assert await is_free(db, event, seat, now=clock.now)


async def test_unknown_event_or_seat_is_not_found(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    other = await make_event(db, now=clock.now, name="Other Hall")
    unknown = [
        (999_999, event.seat_ids[0]),
        (event.event_id, 999_999),
        (event.event_id, other.seat_ids[0]),  # a seat of another venue
    ]
    for event_id, seat_id in unknown:
        with refused(ErrorCode.NOT_FOUND):
            await add_seat_to_cart(
                db,
                cart_id=uuid.uuid4(),
                event_id=event_id,
                seat_id=seat_id,
                price_id=event.price_ids["Adult"],
                now=clock.now,
                policy=CARTS,
            )


async def test_a_cancelled_event_is_not_on_sale(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    await cancel_event(db, caller=MANAGER, event_id=event.event_id, now=clock.now)
    with refused(ErrorCode.EVENT_NOT_ON_SALE):
        await hold(db, event, uuid.uuid4(), event.seat_ids[0], now=clock.now)


async def test_general_admission_places_are_held_by_quantity(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    cart_id = uuid.uuid4()
    cart = await add_general_admission_to_cart(
        db,
        cart_id=cart_id,
        event_id=event.event_id,
        section_id=event.section_ids["Floor"],
        price_id=event.price_ids["Adult"],
        quantity=2,
        now=clock.now,
        policy=CARTS,
    )
    assert [(i.section_id, i.row_id, i.amount) for i in cart.items] == [
        (event.section_ids["Floor"], None, Decimal("30.00"))
    ] * 2
    assert cart.total_amount == Decimal("60.00")
    await assert_invariants(db)


# --- releasing --------------------------------------------------------------------------------


async def test_releasing_a_seat_puts_it_back_on_sale(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    cart_id = uuid.uuid4()
    kept, released = event.seat_ids[:2]
    await hold(db, event, cart_id, kept, now=clock.now)
    await hold(db, event, cart_id, released, now=clock.now)
    cart = await release(db, event, cart_id, released, now=clock.now)
    assert [i.seat_id for i in cart.items] == [kept]
    assert await is_free(db, event, released, now=clock.now)
    with refused(ErrorCode.NOT_FOUND):  # released already
        await release(db, event, cart_id, released, now=clock.now)
    await assert_invariants(db)


async def test_a_cart_cannot_release_another_carts_seat(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    owner, stranger = uuid.uuid4(), uuid.uuid4()
    seat = event.seat_ids[0]
    await hold(db, event, owner, seat, now=clock.now)
    await hold(db, event, stranger, event.seat_ids[1], now=clock.now)
    for cart_id in (stranger, uuid.uuid4()):  # another cart, an unused one
        with refused(ErrorCode.NOT_FOUND):
            await release(db, event, cart_id, seat, now=clock.now)
    with refused(ErrorCode.NOT_FOUND):  # a seat nobody holds
        await release(db, event, owner, event.seat_ids[2], now=clock.now)
    assert [i.seat_id for i in (await get_cart(db, cart_id=owner, now=clock.now)).items] == [seat]


# --- expiry, with the clock passed in ----------------------------------------------------------


async def test_a_hold_lasts_until_its_deadline_then_another_cart_may_take_the_seat(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    seat = event.seat_ids[0]
    await hold(db, event, first, seat, now=clock.now)
    just_before = clock.now + HOLD - timedelta(seconds=1)
    with refused(ErrorCode.SEAT_NOT_AVAILABLE):
        await hold(db, event, second, seat, now=just_before)
    taken = await hold(db, event, second, seat, now=clock.now + HOLD)
    assert [i.seat_id for i in taken.items] == [seat]
    lost = await get_cart(db, cart_id=first, now=clock.now + HOLD)
    assert (lost.status, lost.items) == (CartStatus.OPEN, ())
    await assert_invariants(db)


async def test_a_cart_may_hold_its_lapsed_seat_again_with_a_new_deadline(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    cart_id = uuid.uuid4()
    seat = event.seat_ids[0]
    await hold(db, event, cart_id, seat, now=clock.now)
    later = clock.now + HOLD + timedelta(seconds=5)
    cart = await hold(db, event, cart_id, seat, now=later)
    assert [i.hold_expires_at for i in cart.items] == [later + HOLD]
    await assert_invariants(db)


async def test_the_cart_expires_with_its_earliest_live_hold(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    cart_id = uuid.uuid4()
    start = clock.now
    await hold(db, event, cart_id, event.seat_ids[0], now=start)
    cart = await hold(db, event, cart_id, event.seat_ids[1], now=start + timedelta(seconds=100))
    assert cart.expires_at == start + HOLD
    after_first = await get_cart(db, cart_id=cart_id, now=start + HOLD)
    assert after_first.expires_at == start + timedelta(seconds=100) + HOLD

"""Managers' commands: the role check, drafts and status, sections, prices, blocked seats, the
report; ticketing.management.commands called directly."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest

from tests.conftest import FakeClock
from tests.factories import MANAGER, EventFixture
from tests.invariants import assert_invariants
from tests.service.steps import CARTS, PAYMENTS, create_draft, hold, is_free, refused
from tests.sql import catalog_state
from ticketing.catalog.queries import get_event, list_price_levels
from ticketing.db import Database
from ticketing.domain import EventStatus, Principal, SectionKind
from ticketing.errors import ErrorCode
from ticketing.management import commands as management
from ticketing.management.commands import RowRequest, SectionPrice
from ticketing.orders.booking import book_cart
from ticketing.orders.holds import add_seat_to_cart
from ticketing.payments.payments import complete_payment

Command = Callable[[Database, Principal | None, EventFixture, FakeClock], Awaitable[object]]

# Every management command, with arguments a manager may run on the standard event.
COMMANDS: dict[str, Command] = {
    "create_venue": lambda db, caller, event, clock: management.create_venue(
        db, caller=caller, name="New Hall", now=clock.now
    ),
    "update_venue": lambda db, caller, event, clock: management.update_venue(
        db, caller=caller, venue_id=event.venue_id, name="Renamed"
    ),
    "add_section": lambda db, caller, event, clock: management.add_section(
        db,
        caller=caller,
        venue_id=event.venue_id,
        name="Balcony",
        kind=SectionKind.SEATED,
        rows=[RowRequest(name="A", seat_count=3)],
    ),
    "create_event": lambda db, caller, event, clock: create_draft(
        db, event, now=clock.now, caller=caller
    ),
    "update_event": lambda db, caller, event, clock: management.update_event(
        db, caller=caller, event_id=event.event_id, name="Renamed Night"
    ),
    "set_prices": lambda db, caller, event, clock: management.set_prices(
        db,
        caller=caller,
        event_id=event.event_id,
        prices=[SectionPrice(event.section_ids["Main"], "Adult", Decimal("45.00"))],
    ),
    "block_seats": lambda db, caller, event, clock: management.set_blocked(
        db,
        caller=caller,
        event_id=event.event_id,
        seat_ids=[event.seat_ids[0]],
        blocked=True,
        now=clock.now,
    ),
    "cancel_event": lambda db, caller, event, clock: management.cancel_event(
        db, caller=caller, event_id=event.event_id, now=clock.now
    ),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
async def test_only_managers_may_run_management_commands(
    db: Database, event: EventFixture, clock: FakeClock, command: str, customer: Principal
) -> None:
    run = COMMANDS[command]
    before = await catalog_state(db)
    for caller in (None, customer):
        with refused(ErrorCode.FORBIDDEN):
            await run(db, caller, event, clock)
    assert await catalog_state(db) == before
    await run(db, MANAGER, event, clock)
    assert await catalog_state(db) != before


async def test_only_managers_may_publish_unblock_or_remove_a_section(
    db: Database, event: EventFixture, clock: FakeClock, customer: Principal
) -> None:
    draft = await create_draft(db, event, now=clock.now)
    blocked = event.seat_ids[0]
    await management.set_blocked(
        db, caller=MANAGER, event_id=event.event_id, seat_ids=[blocked], blocked=True, now=clock.now
    )
    spare = await management.add_section(
        db,
        caller=MANAGER,
        venue_id=event.venue_id,
        name="Spare",
        kind=SectionKind.GENERAL_ADMISSION,
        capacity=5,
    )
    runs: list[Callable[[Principal | None], Awaitable[object]]] = [
        lambda caller: management.publish_event(db, caller=caller, event_id=draft.id),
        lambda caller: management.set_blocked(
            db,
            caller=caller,
            event_id=event.event_id,
            seat_ids=[blocked],
            blocked=False,
            now=clock.now,
        ),
        lambda caller: management.remove_section(db, caller=caller, section_id=spare.id),
    ]
    before = await catalog_state(db)
    for run in runs:
        for caller in (None, customer):
            with refused(ErrorCode.FORBIDDEN):
                await run(caller)
    assert await catalog_state(db) == before
    for run in runs:
        await run(MANAGER)
    assert await catalog_state(db) != before


async def test_the_report_is_for_managers_only(
    db: Database, event: EventFixture, clock: FakeClock, customer: Principal
) -> None:
    for caller in (None, customer):
        with refused(ErrorCode.FORBIDDEN):
            await management.event_report(db, caller=caller, event_id=event.event_id, now=clock.now)


async def test_a_new_event_is_a_draft_customers_cannot_see_until_published(
    db: Database, event: EventFixture, clock: FakeClock, customer: Principal
) -> None:
    main_at_12 = SectionPrice(event.section_ids["Main"], "Adult", Decimal("12.00"))
    draft = await create_draft(db, event, now=clock.now, prices=[main_at_12])
    assert draft.status is EventStatus.DRAFT
    (adult,) = await list_price_levels(db, event_id=draft.id, viewer=MANAGER)
    for viewer in (None, customer):
        with refused(ErrorCode.NOT_FOUND):
            await get_event(db, event_id=draft.id, viewer=viewer)
        with refused(ErrorCode.NOT_FOUND):
            await add_seat_to_cart(
                db,
                cart_id=uuid.uuid4(),
                event_id=draft.id,
                seat_id=event.seat_ids[0],  # the draft copies the venue's seats, with their ids
                price_id=adult.id,
                now=clock.now,
                policy=CARTS,
                caller=viewer,
            )

    published = await management.publish_event(db, caller=MANAGER, event_id=draft.id)
    assert published.status is EventStatus.PUBLISHED
    assert (await get_event(db, event_id=draft.id)).status is EventStatus.PUBLISHED
    cart = await add_seat_to_cart(
        db,
        cart_id=uuid.uuid4(),
        event_id=draft.id,
        seat_id=event.seat_ids[0],
        price_id=adult.id,
        now=clock.now,
        policy=CARTS,
        caller=customer,
    )
    assert [i.amount for i in cart.items] == [Decimal("12.00")]
    # publishing again is repeatable
    assert await management.publish_event(db, caller=MANAGER, event_id=draft.id) == published


async def test_a_cancelled_event_cannot_be_published_again(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    await management.cancel_event(db, caller=MANAGER, event_id=event.event_id, now=clock.now)
    with refused(ErrorCode.EVENT_NOT_ON_SALE):
        await management.publish_event(db, caller=MANAGER, event_id=event.event_id)
    with refused(ErrorCode.EVENT_NOT_ON_SALE):
        await hold(db, event, uuid.uuid4(), event.seat_ids[0], now=clock.now)


async def test_blocked_seats_are_off_sale_until_unblocked(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    seat = event.seat_ids[0]
    blocked = await management.set_blocked(
        db, caller=MANAGER, event_id=event.event_id, seat_ids=[seat], blocked=True, now=clock.now
    )
    assert blocked == [seat]
    assert not await is_free(db, event, seat, now=clock.now)
    await management.set_blocked(
        db, caller=MANAGER, event_id=event.event_id, seat_ids=[seat], blocked=False, now=clock.now
    )
    assert await is_free(db, event, seat, now=clock.now)
    await assert_invariants(db)


async def test_only_available_seats_can_be_blocked_all_or_none(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    free, held = event.seat_ids[:2]
    await hold(db, event, uuid.uuid4(), held, now=clock.now)
    with refused(ErrorCode.SEAT_NOT_AVAILABLE) as refusal:
        await management.set_blocked(
            db,
            caller=MANAGER,
            event_id=event.event_id,
            seat_ids=[free, held],
            blocked=True,
            now=clock.now,
        )
    assert refusal.value.context == {"event_id": event.event_id, "seat_id": held}
    assert await is_free(db, event, free, now=clock.now)
    with refused(ErrorCode.VALIDATION_ERROR):  # not blocked
        await management.set_blocked(
            db,
            caller=MANAGER,
            event_id=event.event_id,
            seat_ids=[free],
            blocked=False,
            now=clock.now,
        )


async def test_a_new_price_applies_to_new_holds_while_held_seats_keep_theirs(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    cart_id = uuid.uuid4()
    kept, fresh = event.seat_ids[:2]
    await hold(db, event, cart_id, kept, now=clock.now)
    await management.set_prices(
        db,
        caller=MANAGER,
        event_id=event.event_id,
        prices=[SectionPrice(event.section_ids["Main"], "Adult", Decimal("45.00"))],
    )
    cart = await hold(db, event, cart_id, fresh, now=clock.now)
    assert [(i.seat_id, i.amount) for i in cart.items] == [
        (kept, Decimal("40.00")),
        (fresh, Decimal("45.00")),
    ]


async def test_a_section_used_by_an_event_cannot_be_removed(
    db: Database, event: EventFixture
) -> None:
    with refused(ErrorCode.SECTION_IN_USE):
        await management.remove_section(db, caller=MANAGER, section_id=event.section_ids["Main"])
    spare = await management.add_section(
        db,
        caller=MANAGER,
        venue_id=event.venue_id,
        name="Spare",
        kind=SectionKind.GENERAL_ADMISSION,
        capacity=5,
    )
    removed = await management.remove_section(db, caller=MANAGER, section_id=spare.id)
    assert removed == spare


async def test_section_names_are_unique_in_a_venue(db: Database, event: EventFixture) -> None:
    with refused(ErrorCode.VALIDATION_ERROR):
        await management.add_section(
            db,
            caller=MANAGER,
            venue_id=event.venue_id,
            name="Main",
            kind=SectionKind.GENERAL_ADMISSION,
            capacity=5,
        )


async def test_a_venue_needs_a_real_time_zone(db: Database, clock: FakeClock) -> None:
    with refused(ErrorCode.VALIDATION_ERROR) as refusal:
        await management.create_venue(
            db, caller=MANAGER, name="Nowhere", timezone="Mars/Olympus", now=clock.now
        )
    assert refusal.value.field == ("timezone",)


async def test_the_report_counts_seats_by_status_and_level_with_revenue(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    seats = event.seat_ids
    await hold(db, event, uuid.uuid4(), seats[0], now=clock.now)  # held, Adult
    booked_cart = uuid.uuid4()
    await hold(db, event, booked_cart, seats[1], now=clock.now, level="Child")
    await book_cart(db, cart_id=booked_cart, now=clock.now, policy=CARTS)
    sold_cart = uuid.uuid4()
    for seat, level in ((seats[2], "Adult"), (seats[3], "Child"), (seats[4], "Child")):
        await hold(db, event, sold_cart, seat, now=clock.now, level=level)
    payment = await book_cart(db, cart_id=sold_cart, now=clock.now, policy=CARTS)
    await complete_payment(db, payment_id=payment.payment_id, now=clock.now, policy=PAYMENTS)
    await management.set_blocked(
        db,
        caller=MANAGER,
        event_id=event.event_id,
        seat_ids=[seats[5]],
        blocked=True,
        now=clock.now,
    )

    _, lines, blocked = await management.event_report(
        db, caller=MANAGER, event_id=event.event_id, now=clock.now
    )
    counts = {
        (line.section_name, line.price_level_name): (
            line.available,
            line.held,
            line.booked,
            line.sold,
            line.revenue,
        )
        for line in lines
    }
    free = len(seats) - 6  # held, booked, 3 sold, 1 blocked
    assert counts[("Main", "Adult")] == (free, 1, 0, 1, Decimal("40.00"))
    assert counts[("Main", "Child")] == (free, 0, 1, 2, Decimal("40.00"))
    assert blocked == {event.section_ids["Main"]: 1}
    await assert_invariants(db)

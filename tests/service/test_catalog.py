"""What customers can see: events, sections and seat maps; ticketing.catalog called directly."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from tests.conftest import FakeClock
from tests.factories import LEVELS, MANAGER, EventFixture, publish_event
from tests.service.steps import CARTS, booked, create_draft, hold, refused
from ticketing.catalog import queries as catalog
from ticketing.db import Database
from ticketing.domain import Principal, SeatStatus
from ticketing.errors import ErrorCode
from ticketing.management import commands as management


async def add_event(
    db: Database, event: EventFixture, clock: FakeClock, *, name: str, days: int
) -> int:
    return await publish_event(
        db,
        venue_id=event.venue_id,
        name=name,
        starts_at=clock.now + timedelta(days=days),
        currency="EUR",
        price_levels=LEVELS,
        prices={"Main": {"Adult": Decimal("10.00")}},
        now=clock.now,
    )


async def test_events_are_listed_soonest_first_and_paged_by_keyset(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    late = await add_event(db, event, clock, name="Late", days=30)
    early = await add_event(db, event, clock, name="Early", days=2)
    listed = await catalog.list_events(db)
    assert [e.id for e in listed] == [early, event.event_id, late]
    first_page = await catalog.list_events(db, limit=2)
    last = first_page[-1]
    rest = await catalog.list_events(db, after=(last.starts_at, last.id), limit=2)
    assert [e.id for e in first_page + rest] == [early, event.event_id, late]
    window = await catalog.list_events(
        db, starts_after=clock.now + timedelta(days=5), starts_before=clock.now + timedelta(days=30)
    )
    assert [e.id for e in window] == [event.event_id]  # starts_before is exclusive


async def test_drafts_are_for_managers_only(
    db: Database, event: EventFixture, clock: FakeClock, customer: Principal
) -> None:
    await management.cancel_event(db, caller=MANAGER, event_id=event.event_id, now=clock.now)
    draft = await create_draft(db, event, now=clock.now)
    for viewer in (None, customer):
        assert [e.id for e in await catalog.list_events(db, viewer=viewer)] == [event.event_id]
        with refused(ErrorCode.NOT_FOUND):
            await catalog.get_event(db, event_id=draft.id, viewer=viewer)
    managed = await catalog.list_events(db, viewer=MANAGER)
    assert [e.id for e in managed] == [draft.id, event.event_id]


async def test_unknown_venue_and_event_are_not_found(db: Database, clock: FakeClock) -> None:
    with refused(ErrorCode.NOT_FOUND):
        await catalog.get_venue(db, venue_id=999_999)
    with refused(ErrorCode.NOT_FOUND):
        await catalog.list_event_sections(db, event_id=999_999, now=clock.now)


async def test_sections_count_the_seats_on_sale_now(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    await hold(db, event, uuid.uuid4(), event.seat_ids[0], now=clock.now)
    await booked(db, event, [event.seat_ids[1]], now=clock.now)

    async def counts(at_seconds: int) -> dict[str, int]:
        now = clock.now + timedelta(seconds=at_seconds)
        sections = await catalog.list_event_sections(db, event_id=event.event_id, now=now)
        return {s.name: s.available_count for s in sections}

    main = len(event.seat_ids)
    assert await counts(0) == {"Main": main - 2, "Floor": 5, "Closed": 0}
    # the lapsed hold and the overdue booking are on sale again, before any sweep
    assert CARTS.hold_seconds == CARTS.payment_timeout_seconds
    assert await counts(CARTS.hold_seconds) == {"Main": main, "Floor": 5, "Closed": 0}


async def test_the_seat_map_shows_each_seats_status_and_price_options(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    held = event.seat_ids[0]
    await hold(db, event, uuid.uuid4(), held, now=clock.now)
    seats = await catalog.list_section_seats(
        db, event_id=event.event_id, section_id=event.section_ids["Main"], now=clock.now
    )
    assert [s.seat_id for s in seats] == event.seat_ids
    statuses = {s.seat_id: s.status for s in seats}
    assert statuses[held] is SeatStatus.HELD
    assert {statuses[s] for s in event.seat_ids[1:]} == {SeatStatus.AVAILABLE}
    assert [(s.row, s.number) for s in seats[:2]] == [("A", "1"), ("A", "2")]
    (first, *_) = seats
    assert {(p.name, p.amount) for p in first.price_options} == {
        ("Adult", Decimal("40.00")),
        ("Child", Decimal("20.00")),
        ("VIP", Decimal("99.50")),
    }
    lapsed = await catalog.list_section_seats(
        db,
        event_id=event.event_id,
        section_id=event.section_ids["Main"],
        now=clock.now + timedelta(seconds=CARTS.hold_seconds),
    )
    assert {s.status for s in lapsed} == {SeatStatus.AVAILABLE}

"""The catalog through REST: venues, events, sections with live availability, and seat maps."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.api import add_seat, new_cart, problem, remove_seat
from tests.conftest import FakeClock
from tests.factories import EventFixture, make_event, make_venue, publish_event
from tests.invariants import assert_invariants
from ticketing.db import Database, query
from ticketing.domain import SectionKind
from ticketing.management.manifest import SectionSpec
from ticketing.models import event_seat_t, price_level_t, row_t

MISSING = 2_000_000_000


@query
async def _row_ids(conn: AsyncConnection, *, section_id: int) -> dict[str, int]:
    rows = await conn.execute(
        sa.select(row_t.c.name, row_t.c.id).where(row_t.c.section_id == section_id)
    )
    return dict(rows.all())


@query
async def _seat_ids(conn: AsyncConnection, *, event_id: int, section_id: int) -> list[int]:
    seats = await conn.scalars(
        sa.select(event_seat_t.c.seat_id)
        .where(event_seat_t.c.event_id == event_id, event_seat_t.c.section_id == section_id)
        .order_by(event_seat_t.c.position)
    )
    return list(seats)


@query
async def _positions(
    conn: AsyncConnection, *, event_id: int, section_id: int
) -> list[tuple[float | None, float | None]]:
    """The stored (x, y) of the section's seats, in map order."""
    seats = await conn.execute(
        sa.select(event_seat_t.c.x, event_seat_t.c.y)
        .where(event_seat_t.c.event_id == event_id, event_seat_t.c.section_id == section_id)
        .order_by(event_seat_t.c.position)
    )
    return [(x, y) for x, y in seats]


@query
async def _level_ids(conn: AsyncConnection, *, event_id: int) -> dict[str, int]:
    rows = await conn.execute(
        sa.select(price_level_t.c.name, price_level_t.c.id).where(
            price_level_t.c.event_id == event_id
        )
    )
    return dict(rows.all())


def _instant(value: str) -> datetime:
    """Parse a wire timestamp, insisting that it carries an offset."""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value), value
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value!r} has no UTC offset"
    assert parsed.utcoffset() is not None
    return parsed


async def _sections(client: httpx.AsyncClient, event_id: int) -> dict[str, dict[str, Any]]:
    response = await client.get(f"/events/{event_id}/sections")
    assert response.status_code == 200, response.text
    return {s["name"]: s for s in response.json()}


async def _seats(client: httpx.AsyncClient, event_id: int, section_id: int) -> list[Any]:
    response = await client.get(f"/events/{event_id}/sections/{section_id}/seats")
    assert response.status_code == 200, response.text
    seats: list[Any] = response.json()
    return seats


# --- Venues --------------------------------------------------------------------------------


async def test_no_venues_is_an_empty_list(client: httpx.AsyncClient) -> None:
    response = await client.get("/venues")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == []


async def test_list_venues_in_id_order_with_all_fields(
    client: httpx.AsyncClient, db: Database, clock: FakeClock
) -> None:
    first = await make_venue(
        db,
        name="Harbour Hall",
        city="Lisbon",
        timezone="Europe/Lisbon",
        sections=[SectionSpec(name="Floor", kind=SectionKind.GENERAL_ADMISSION, capacity=3)],
        now=clock.now,
    )
    second = await make_venue(
        db,
        name="Arena",
        sections=[SectionSpec(name="Floor", kind=SectionKind.GENERAL_ADMISSION, capacity=3)],
        now=clock.now,
    )
    response = await client.get("/venues")
    assert response.status_code == 200
    assert response.json() == [
        {
            "id": first,
            "name": "Harbour Hall",
            "city": "Lisbon",
            "timezone": "Europe/Lisbon",
            "focal_point": None,
        },
        {"id": second, "name": "Arena", "city": "", "timezone": "UTC", "focal_point": None},
    ]


async def test_get_venue(client: httpx.AsyncClient, event: EventFixture) -> None:
    response = await client.get(f"/venues/{event.venue_id}")
    assert response.status_code == 200
    assert response.json() == {
        "id": event.venue_id,
        "name": "Test Hall",
        "city": "",
        "timezone": "UTC",
        "focal_point": None,
    }


async def test_venue_sections_with_kind_and_capacity(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    response = await client.get(f"/venues/{event.venue_id}/sections")
    assert response.status_code == 200
    assert response.json() == [
        {
            "id": event.section_ids["Main"],
            "venue_id": event.venue_id,
            "name": "Main",
            "kind": "seated",
            "capacity": 20,
            "position": 0,
        },
        {
            "id": event.section_ids["Floor"],
            "venue_id": event.venue_id,
            "name": "Floor",
            "kind": "general_admission",
            "capacity": 5,
            "position": 1,
        },
        {
            "id": event.section_ids["Closed"],
            "venue_id": event.venue_id,
            "name": "Closed",
            "kind": "seated",
            "capacity": 2,
            "position": 2,
        },
    ]


async def test_venue_sections_are_only_that_venues(
    client: httpx.AsyncClient, db: Database, clock: FakeClock
) -> None:
    one = await make_event(db, now=clock.now, name="One")
    two = await make_event(db, now=clock.now, name="Two", rows=1, ga_capacity=7)
    response = await client.get(f"/venues/{two.venue_id}/sections")
    assert response.status_code == 200
    body = response.json()
    assert [s["id"] for s in body] == [
        two.section_ids["Main"],
        two.section_ids["Floor"],
        two.section_ids["Closed"],
    ]
    assert {s["venue_id"] for s in body} == {two.venue_id}
    assert [s["capacity"] for s in body] == [10, 7, 2]
    assert set(one.section_ids.values()).isdisjoint(s["id"] for s in body)


@pytest.mark.parametrize("path", ["/venues/{id}", "/venues/{id}/sections"])
async def test_unknown_venue_is_not_found(
    client: httpx.AsyncClient, event: EventFixture, path: str
) -> None:
    response = await client.get(path.format(id=MISSING))
    body = problem(response, 404, "NOT_FOUND")
    assert body["instance"] == path.format(id=MISSING)
    assert str(MISSING) in body["detail"]


# --- Events --------------------------------------------------------------------------------


async def test_get_event(client: httpx.AsyncClient, event: EventFixture, clock: FakeClock) -> None:
    response = await client.get(f"/events/{event.event_id}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "name", "venue_id", "venue_name", "starts_at", "currency", "status"}
    assert body["id"] == event.event_id
    assert body["name"] == "Test Hall Night"
    assert body["venue_id"] == event.venue_id
    assert body["venue_name"] == "Test Hall"
    assert body["currency"] == "EUR"
    assert _instant(body["starts_at"]) == clock.now + timedelta(days=10)


async def test_event_currency_is_upper_case(
    client: httpx.AsyncClient, db: Database, clock: FakeClock
) -> None:
    fixture = await make_event(db, now=clock.now, currency="usd")
    response = await client.get(f"/events/{fixture.event_id}")
    assert response.status_code == 200
    assert response.json()["currency"] == "USD"


async def test_unknown_event_is_not_found(client: httpx.AsyncClient, event: EventFixture) -> None:
    body = problem(await client.get(f"/events/{MISSING}"), 404, "NOT_FOUND")
    assert body["instance"] == f"/events/{MISSING}"
    assert str(MISSING) in body["detail"]


async def test_no_events_is_an_empty_list(client: httpx.AsyncClient) -> None:
    response = await client.get("/events")
    assert response.status_code == 200
    assert response.json() == []


@pytest.fixture
async def schedule(
    db: Database, clock: FakeClock
) -> tuple[EventFixture, EventFixture, dict[str, int], dict[str, datetime]]:
    """Two venues and five events, created out of start order; returns ids and start times."""
    hall = await make_event(db, now=clock.now, name="Hall")  # "Hall Night" at +10 days
    arena = await make_event(db, now=clock.now, name="Arena")  # "Arena Night" at +10 days
    starts = {
        "Hall Night": clock.now + timedelta(days=10),
        "Arena Night": clock.now + timedelta(days=10),
        "Hall Late": clock.now + timedelta(days=30),
        "Hall Early": clock.now + timedelta(days=2),
        "Arena Matinee": clock.now + timedelta(days=5, hours=3, minutes=15, seconds=7),
    }
    ids = {"Hall Night": hall.event_id, "Arena Night": arena.event_id}
    for name, fixture in (
        ("Hall Late", hall),
        ("Hall Early", hall),
        ("Arena Matinee", arena),
    ):
        ids[name] = await publish_event(
            db,
            venue_id=fixture.venue_id,
            name=name,
            starts_at=starts[name],
            currency="EUR",
            price_levels=("Adult",),
            prices={"Main": {"Adult": Decimal("10.00")}},
            now=clock.now,
        )
    return hall, arena, ids, starts


Schedule = tuple[EventFixture, EventFixture, dict[str, int], dict[str, datetime]]


async def test_events_are_listed_soonest_first(
    client: httpx.AsyncClient, schedule: Schedule
) -> None:
    hall, arena, ids, starts = schedule
    response = await client.get("/events")
    assert response.status_code == 200
    body = response.json()
    # Equal start times are ordered by id: "Hall Night" was created before "Arena Night".
    assert [e["name"] for e in body] == [
        "Hall Early",
        "Arena Matinee",
        "Hall Night",
        "Arena Night",
        "Hall Late",
    ]
    assert [e["id"] for e in body] == [ids[e["name"]] for e in body]
    for item in body:
        assert _instant(item["starts_at"]) == starts[item["name"]]
        assert item["currency"] == "EUR"
    venues = {e["name"]: (e["venue_id"], e["venue_name"]) for e in body}
    assert venues == {
        "Hall Early": (hall.venue_id, "Hall"),
        "Hall Night": (hall.venue_id, "Hall"),
        "Hall Late": (hall.venue_id, "Hall"),
        "Arena Matinee": (arena.venue_id, "Arena"),
        "Arena Night": (arena.venue_id, "Arena"),
    }


async def test_event_list_item_equals_the_event(
    client: httpx.AsyncClient, schedule: Schedule
) -> None:
    _, _, ids, _ = schedule
    listed = {e["id"]: e for e in (await client.get("/events")).json()}
    for event_id in ids.values():
        single = await client.get(f"/events/{event_id}")
        assert single.status_code == 200
        assert single.json() == listed[event_id]


async def test_events_filtered_by_venue(client: httpx.AsyncClient, schedule: Schedule) -> None:
    hall, arena, _, _ = schedule
    response = await client.get("/events", params={"venue_id": arena.venue_id})
    assert response.status_code == 200
    assert [e["name"] for e in response.json()] == ["Arena Matinee", "Arena Night"]
    response = await client.get("/events", params={"venue_id": hall.venue_id})
    assert [e["name"] for e in response.json()] == ["Hall Early", "Hall Night", "Hall Late"]


async def test_events_filtered_by_unknown_venue_is_empty(
    client: httpx.AsyncClient, schedule: Schedule
) -> None:
    response = await client.get("/events", params={"venue_id": MISSING})
    assert response.status_code == 200
    assert response.json() == []


async def test_events_starting_after_is_inclusive(
    client: httpx.AsyncClient, schedule: Schedule
) -> None:
    _, _, _, starts = schedule
    at = starts["Hall Night"].isoformat()
    response = await client.get("/events", params={"starts_after": at})
    assert response.status_code == 200
    assert [e["name"] for e in response.json()] == ["Hall Night", "Arena Night", "Hall Late"]

    just_after = (starts["Hall Night"] + timedelta(seconds=1)).isoformat()
    response = await client.get("/events", params={"starts_after": just_after})
    assert [e["name"] for e in response.json()] == ["Hall Late"]


async def test_events_starting_after_honours_the_offset(
    client: httpx.AsyncClient, schedule: Schedule
) -> None:
    _, _, _, starts = schedule
    plus_two = timezone(timedelta(hours=2))
    # The same instant written in +02:00 selects the same events as in UTC...
    same = starts["Arena Matinee"].astimezone(plus_two).isoformat()
    assert "+02:00" in same
    response = await client.get("/events", params={"starts_after": same})
    assert response.status_code == 200
    assert [e["name"] for e in response.json()] == [
        "Arena Matinee",
        "Hall Night",
        "Arena Night",
        "Hall Late",
    ]
    # ...while the same wall-clock time in +02:00 is two hours earlier than in UTC.
    wall = starts["Arena Matinee"].replace(tzinfo=None) + timedelta(hours=1)
    response = await client.get("/events", params={"starts_after": f"{wall.isoformat()}+02:00"})
    assert [e["name"] for e in response.json()] == [
        "Arena Matinee",
        "Hall Night",
        "Arena Night",
        "Hall Late",
    ]
    response = await client.get("/events", params={"starts_after": f"{wall.isoformat()}Z"})
    assert [e["name"] for e in response.json()] == ["Hall Night", "Arena Night", "Hall Late"]


async def test_events_filters_combine(client: httpx.AsyncClient, schedule: Schedule) -> None:
    hall, _, _, starts = schedule
    response = await client.get(
        "/events",
        params={"venue_id": hall.venue_id, "starts_after": starts["Arena Matinee"].isoformat()},
    )
    assert response.status_code == 200
    assert [e["name"] for e in response.json()] == ["Hall Night", "Hall Late"]


async def test_event_starts_at_round_trips_through_the_wire(
    client: httpx.AsyncClient, schedule: Schedule
) -> None:
    _, _, ids, starts = schedule
    response = await client.get(f"/events/{ids['Arena Matinee']}")
    wire = response.json()["starts_at"]
    instant = _instant(wire)
    assert instant == starts["Arena Matinee"]
    assert instant.utcoffset() == timedelta(0)
    # Feeding the wire value back as a filter selects the event itself.
    listed = await client.get("/events", params={"starts_after": wire})
    assert listed.json()[0]["id"] == ids["Arena Matinee"]


# --- Event sections ------------------------------------------------------------------------


async def test_event_sections_have_venue_fields_event_id_and_availability(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    response = await client.get(f"/events/{event.event_id}/sections")
    assert response.status_code == 200
    assert response.json() == [
        {
            "id": event.section_ids["Main"],
            "venue_id": event.venue_id,
            "event_id": event.event_id,
            "name": "Main",
            "kind": "seated",
            "capacity": 20,
            "position": 0,
            "available_count": 20,
        },
        {
            "id": event.section_ids["Floor"],
            "venue_id": event.venue_id,
            "event_id": event.event_id,
            "name": "Floor",
            "kind": "general_admission",
            "capacity": 5,
            "position": 1,
            "available_count": 5,
        },
        {
            "id": event.section_ids["Closed"],
            "venue_id": event.venue_id,
            "event_id": event.event_id,
            "name": "Closed",
            "kind": "seated",
            "capacity": 2,
            "position": 2,
            "available_count": 0,  # no price: not on sale
        },
    ]


async def test_event_sections_repeat_the_venue_sections(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    venue = (await client.get(f"/venues/{event.venue_id}/sections")).json()
    listed = (await client.get(f"/events/{event.event_id}/sections")).json()
    stripped = [
        {k: v for k, v in s.items() if k not in {"event_id", "available_count"}} for s in listed
    ]
    assert stripped == venue


async def test_available_count_follows_holds_and_releases(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    cart = new_cart()
    seat = event.seat_ids[4]
    held = await add_seat(
        client, cart, event_id=event.event_id, seat_id=seat, price_id=event.price_ids["Adult"]
    )
    assert held.status_code == 200, held.text
    counts = {n: s["available_count"] for n, s in (await _sections(client, event.event_id)).items()}
    assert counts == {"Main": 19, "Floor": 5, "Closed": 0}

    place = event.ga_seat_ids[0]
    held = await add_seat(
        client, cart, event_id=event.event_id, seat_id=place, price_id=event.price_ids["Adult"]
    )
    assert held.status_code == 200, held.text
    counts = {n: s["available_count"] for n, s in (await _sections(client, event.event_id)).items()}
    assert counts == {"Main": 19, "Floor": 4, "Closed": 0}

    released = await remove_seat(client, cart, event_id=event.event_id, seat_id=seat)
    assert released.status_code == 200, released.text
    counts = {n: s["available_count"] for n, s in (await _sections(client, event.event_id)).items()}
    assert counts == {"Main": 20, "Floor": 4, "Closed": 0}

    released = await remove_seat(client, cart, event_id=event.event_id, seat_id=place)
    assert released.status_code == 200, released.text
    counts = {n: s["available_count"] for n, s in (await _sections(client, event.event_id)).items()}
    assert counts == {"Main": 20, "Floor": 5, "Closed": 0}
    # Capacity never moves with availability.
    capacities = {n: s["capacity"] for n, s in (await _sections(client, event.event_id)).items()}
    assert capacities == {"Main": 20, "Floor": 5, "Closed": 2}
    await assert_invariants(db)


async def test_available_count_returns_when_the_hold_lapses(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock
) -> None:
    held = await add_seat(
        client,
        new_cart(),
        event_id=event.event_id,
        seat_id=event.seat_ids[0],
        price_id=event.price_ids["Child"],
    )
    assert held.status_code == 200, held.text
    assert (await _sections(client, event.event_id))["Main"]["available_count"] == 19
    clock.advance(seconds=899)
    assert (await _sections(client, event.event_id))["Main"]["available_count"] == 19
    clock.advance(seconds=1)  # the hold lapses at exactly its deadline
    assert (await _sections(client, event.event_id))["Main"]["available_count"] == 20


async def test_unknown_event_sections_is_not_found(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    body = problem(await client.get(f"/events/{MISSING}/sections"), 404, "NOT_FOUND")
    assert body["instance"] == f"/events/{MISSING}/sections"


# --- Seat maps -----------------------------------------------------------------------------


async def test_seated_section_seat_map_exact_shape(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    main = event.section_ids["Main"]
    rows = await _row_ids(db, section_id=main)
    assert set(rows) == {"A", "B"}
    options = [
        {"id": event.price_ids["Adult"], "name": "Adult", "amount": "40.00"},
        {"id": event.price_ids["Child"], "name": "Child", "amount": "20.00"},
        {"id": event.price_ids["VIP"], "name": "VIP", "amount": "99.50"},
    ]
    positions = await _positions(db, event_id=event.event_id, section_id=main)
    assert len(set(positions)) == 20
    assert all(x is not None and y is not None for x, y in positions)
    seats = await _seats(client, event.event_id, main)
    expected = [
        {
            "section_id": main,
            "row_id": rows[row],
            "seat_id": event.seat_ids[index],
            "row": row,
            "number": str(number),
            "type": "designated",
            "x": positions[index][0],
            "y": positions[index][1],
            "status": {"id": 1, "name": "available"},
            "price_options": options,
        }
        for index, (row, number) in enumerate([(r, n) for r in ("A", "B") for n in range(1, 11)])
    ]
    assert seats == expected


async def test_general_admission_places_have_no_row_or_number(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    floor = event.section_ids["Floor"]
    seats = await _seats(client, event.event_id, floor)
    assert seats == [
        {
            "section_id": floor,
            "row_id": None,
            "seat_id": place,
            "row": None,
            "number": None,
            "type": "general_admission",
            "x": None,
            "y": None,
            "status": {"id": 1, "name": "available"},
            "price_options": [{"id": event.price_ids["Adult"], "name": "Adult", "amount": "30.00"}],
        }
        for place in event.ga_seat_ids
    ]
    assert len(seats) == 5


async def test_unpriced_section_seats_offer_no_price(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    closed = event.section_ids["Closed"]
    rows = await _row_ids(db, section_id=closed)
    seat_ids = await _seat_ids(db, event_id=event.event_id, section_id=closed)
    assert len(seat_ids) == 2
    positions = await _positions(db, event_id=event.event_id, section_id=closed)
    seats = await _seats(client, event.event_id, closed)
    assert seats == [
        {
            "section_id": closed,
            "row_id": rows["A"],
            "seat_id": seat_id,
            "row": "A",
            "number": str(number),
            "type": "designated",
            "x": positions[number - 1][0],
            "y": positions[number - 1][1],
            "status": {"id": 1, "name": "available"},
            "price_options": [],
        }
        for number, seat_id in enumerate(seat_ids, start=1)
    ]


async def test_seat_status_follows_hold_and_release(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    main = event.section_ids["Main"]
    seat = event.seat_ids[7]
    cart = new_cart()
    held = await add_seat(
        client, cart, event_id=event.event_id, seat_id=seat, price_id=event.price_ids["VIP"]
    )
    assert held.status_code == 200, held.text
    statuses = {s["seat_id"]: s["status"] for s in await _seats(client, event.event_id, main)}
    assert statuses[seat] == {"id": 2, "name": "held"}
    assert {s["name"] for k, s in statuses.items() if k != seat} == {"available"}

    released = await remove_seat(client, cart, event_id=event.event_id, seat_id=seat)
    assert released.status_code == 200, released.text
    statuses = {s["seat_id"]: s["status"] for s in await _seats(client, event.event_id, main)}
    assert statuses[seat] == {"id": 1, "name": "available"}


async def test_section_ids_are_valid_for_every_event_at_the_venue(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> None:
    second = await publish_event(
        db,
        venue_id=event.venue_id,
        name="Second Night",
        starts_at=clock.now + timedelta(days=20),
        currency="usd",
        price_levels=("Standard", "Premium"),
        prices={"Floor": {"Standard": Decimal("12.5"), "Premium": Decimal("25")}},
        now=clock.now,
    )
    levels = await _level_ids(db, event_id=second)
    assert set(levels.values()).isdisjoint(event.price_ids.values())  # levels are per event

    venue_sections = (await client.get(f"/venues/{event.venue_id}/sections")).json()
    for first_or_second in (event.event_id, second):
        listed = await _sections(client, first_or_second)
        assert [s["id"] for s in listed.values()] == [s["id"] for s in venue_sections]
        assert {s["event_id"] for s in listed.values()} == {first_or_second}

    # The same section and seat ids address the second event's own copy and prices.
    floor = event.section_ids["Floor"]
    second_floor = await _seats(client, second, floor)
    assert [s["seat_id"] for s in second_floor] == event.ga_seat_ids
    assert {(s["row_id"], s["row"], s["number"], s["type"]) for s in second_floor} == {
        (None, None, None, "general_admission")
    }
    for seat in second_floor:
        assert seat["price_options"] == [
            {"id": levels["Standard"], "name": "Standard", "amount": "12.50"},
            {"id": levels["Premium"], "name": "Premium", "amount": "25.00"},
        ]
    main = event.section_ids["Main"]
    second_main = await _seats(client, second, main)
    first_main = await _seats(client, event.event_id, main)
    assert [s["seat_id"] for s in second_main] == [s["seat_id"] for s in first_main]
    assert [(s["row_id"], s["row"], s["number"]) for s in second_main] == [
        (s["row_id"], s["row"], s["number"]) for s in first_main
    ]
    assert {len(s["price_options"]) for s in second_main} == {0}  # Main is not on sale there

    # A hold in the first event leaves the same seat of the second event alone.
    place = event.ga_seat_ids[2]
    held = await add_seat(
        client,
        new_cart(),
        event_id=event.event_id,
        seat_id=place,
        price_id=event.price_ids["Adult"],
    )
    assert held.status_code == 200, held.text
    first_floor = {s["seat_id"]: s for s in await _seats(client, event.event_id, floor)}
    assert first_floor[place]["status"] == {"id": 2, "name": "held"}
    second_floor_now = {s["seat_id"]: s for s in await _seats(client, second, floor)}
    assert second_floor_now[place]["status"] == {"id": 1, "name": "available"}
    assert (await _sections(client, event.event_id))["Floor"]["available_count"] == 4
    assert (await _sections(client, second))["Floor"]["available_count"] == 5

    # The second event's own hold takes its own price level, in its currency.
    held = await add_seat(
        client, new_cart(), event_id=second, seat_id=place, price_id=levels["Premium"]
    )
    assert held.status_code == 200, held.text
    assert held.json()["total_amount"] == "25.00"
    assert held.json()["currency"] == "USD"


async def test_unknown_section_is_not_found(client: httpx.AsyncClient, event: EventFixture) -> None:
    path = f"/events/{event.event_id}/sections/{MISSING}/seats"
    body = problem(await client.get(path), 404, "NOT_FOUND")
    assert body["instance"] == path
    assert str(MISSING) in body["detail"]


async def test_seats_of_unknown_event_are_not_found(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    path = f"/events/{MISSING}/sections/{event.section_ids['Main']}/seats"
    problem(await client.get(path), 404, "NOT_FOUND")


async def test_section_of_another_venue_is_not_found_for_this_event(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> None:
    other = await make_event(db, now=clock.now, name="Elsewhere")
    for name in ("Main", "Floor", "Closed"):
        path = f"/events/{event.event_id}/sections/{other.section_ids[name]}/seats"
        body = problem(await client.get(path), 404, "NOT_FOUND")
        assert body["instance"] == path
    # The other venue's sections are fine for the other venue's event.
    assert len(await _seats(client, other.event_id, other.section_ids["Main"])) == 20

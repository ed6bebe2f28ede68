"""Seat-map geometry as managers give it: explicit positions, row layouts (straight and curved),
the default arrangement, and the checks; ticketing.management.commands called directly."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import FakeClock
from tests.factories import MANAGER
from tests.sql import fetch
from ticketing.db import Database
from ticketing.demo import STAGE, seed_demo
from ticketing.domain import SectionKind
from ticketing.errors import ErrorCode, TicketingError
from ticketing.geometry import Point, RowLayout, contains, first_overlap
from ticketing.management import commands as management
from ticketing.management.commands import RowRequest
from ticketing.models import event_seat_t, event_section_t, seat_t, section_t, venue_t


async def _venue(db: Database, clock: FakeClock, *, focal_point: Point | None = None) -> int:
    venue = await management.create_venue(
        db, caller=MANAGER, name="Shaped Hall", focal_point=focal_point, now=clock.now
    )
    return venue.id


async def _add(db: Database, venue_id: int, name: str, **geometry: Any) -> int:
    geometry.setdefault("rows", [RowRequest(name="A", seat_count=3)])
    section = await management.add_section(
        db, caller=MANAGER, venue_id=venue_id, name=name, kind=SectionKind.SEATED, **geometry
    )
    return section.id


async def _seats(db: Database, section_id: int) -> list[Point]:
    rows = await fetch(
        db,
        sa.select(seat_t.c.x, seat_t.c.y)
        .where(seat_t.c.section_id == section_id)
        .order_by(seat_t.c.position),
    )
    return [(row.x, row.y) for row in rows]


async def _section(db: Database, section_id: int) -> tuple[Any, Point]:
    (row,) = await fetch(
        db,
        sa.select(section_t.c.outline, section_t.c.label_x, section_t.c.label_y).where(
            section_t.c.id == section_id
        ),
    )
    return row.outline, (row.label_x, row.label_y)


def _error(excinfo: pytest.ExceptionInfo[TicketingError]) -> tuple[ErrorCode, tuple[str, ...]]:
    return excinfo.value.code, tuple(excinfo.value.field or ())


async def test_sections_without_geometry_are_placed_side_by_side_in_grids(
    db: Database, clock: FakeClock
) -> None:
    venue_id = await _venue(db, clock)
    first = await _add(
        db, venue_id, "Left", rows=[RowRequest(name="A", seat_count=2), RowRequest("B", 2)]
    )
    floor = await management.add_section(
        db,
        caller=MANAGER,
        venue_id=venue_id,
        name="Floor",
        kind=SectionKind.GENERAL_ADMISSION,
        capacity=4,
    )
    assert await _seats(db, first) == [(0.5, 0.5), (1.5, 0.5), (0.5, 1.5), (1.5, 1.5)]
    assert await _section(db, first) == ([[0, 0], [2, 0], [2, 2], [0, 2]], (1.0, -1.0))
    # the floor starts after the first outline and a gap; its places have no position
    assert await _section(db, floor.id) == ([[4, 0], [6, 0], [6, 2], [4, 2]], (5.0, -1.0))
    assert set(await _seats(db, floor.id)) == {(None, None)}


async def test_a_grid_without_positions_starts_in_the_corner_of_its_outline(
    db: Database, clock: FakeClock
) -> None:
    venue_id = await _venue(db, clock)
    await _add(db, venue_id, "Elsewhere")
    section_id = await _add(
        db,
        venue_id,
        "Framed",
        rows=[RowRequest(name="A", seat_count=2)],
        outline=[(50.0, 10.0), (60.0, 10.0), (55.0, 20.0)],
    )
    # the default grid, anchored at the outline's bounding box; the triangle holds both seats
    assert await _seats(db, section_id) == [(50.5, 10.5), (51.5, 10.5)]
    assert (await _section(db, section_id))[1] == (55.0, 9.0)


async def test_straight_rows_land_where_the_row_layout_says(db: Database, clock: FakeClock) -> None:
    venue_id = await _venue(db, clock)
    section_id = await _add(
        db,
        venue_id,
        "Straight",
        rows=[RowRequest(name="A", seat_count=3), RowRequest(name="B", seat_count=2)],
        row_layout=RowLayout(start=(10.0, 20.0), seat_spacing=2.0, row_spacing=3.0, rotation=90),
    )
    assert await _seats(db, section_id) == [
        (10.0, 20.0),
        (10.0, 22.0),
        (10.0, 24.0),
        (7.0, 20.0),
        (7.0, 22.0),
    ]
    # the outline defaults to the seats' bounding box, with a margin
    assert (await _section(db, section_id))[0] == [
        [6.5, 19.5],
        [10.5, 19.5],
        [10.5, 24.5],
        [6.5, 24.5],
    ]


async def test_curved_rows_face_the_venue_focal_point(db: Database, clock: FakeClock) -> None:
    venue_id = await _venue(db, clock, focal_point=(0.0, 0.0))
    section_id = await _add(
        db,
        venue_id,
        "Curved",
        rows=[RowRequest(name="A", seat_count=3), RowRequest(name="B", seat_count=3)],
        row_layout=RowLayout(
            start=(0.0, 10.0), seat_spacing=10 * math.pi / 6, row_spacing=10.0, curve_radius=10.0
        ),
    )
    assert await _seats(db, section_id) == [
        (-5.0, 8.66),
        (0.0, 10.0),
        (5.0, 8.66),
        (-5.18, 19.32),
        (0.0, 20.0),
        (5.18, 19.32),
    ]


async def test_explicit_positions_win_over_the_row_layout_and_reach_every_event(
    db: Database, clock: FakeClock
) -> None:
    venue_id = await _venue(db, clock)
    outline = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]
    section_id = await _add(
        db,
        venue_id,
        "Given",
        rows=[
            RowRequest(name="A", seat_count=2, positions=[(1.0, 1.0), (2.5, 1.25)]),
            RowRequest(name="B", seat_count=2),
        ],
        row_layout=RowLayout(start=(1.0, 5.0)),
        outline=outline,
        label=(5.0, 11.0),
    )
    assert await _seats(db, section_id) == [(1.0, 1.0), (2.5, 1.25), (1.0, 6.0), (2.0, 6.0)]
    assert await _section(db, section_id) == ([list(p) for p in outline], (5.0, 11.0))
    event = await management.create_event(
        db,
        caller=MANAGER,
        venue_id=venue_id,
        name="Shaped Night",
        starts_at=clock.now + timedelta(days=3),
        currency="EUR",
        price_levels=["Adult"],
        prices=[],
        now=clock.now,
    )
    copies = await fetch(
        db,
        sa.select(event_seat_t.c.x, event_seat_t.c.y)
        .where(event_seat_t.c.event_id == event.id)
        .order_by(event_seat_t.c.position),
    )
    assert [(row.x, row.y) for row in copies] == await _seats(db, section_id)
    (copy,) = await fetch(
        db,
        sa.select(
            event_section_t.c.outline, event_section_t.c.label_x, event_section_t.c.label_y
        ).where(event_section_t.c.event_id == event.id),
    )
    assert (copy.outline, (copy.label_x, copy.label_y)) == await _section(db, section_id)


REFUSALS: dict[str, tuple[dict[str, Any], str, str]] = {
    "two seats at one point": (
        {"rows": [RowRequest(name="A", seat_count=2, positions=[(1.0, 1.0), (1.0, 1.0)])]},
        "rows",
        "Seat 1 of row 'A' and seat 2 of row 'A' are both at (1, 1).",
    ),
    "rows closer than a hundredth of a unit": (
        {
            "rows": [RowRequest(name="A", seat_count=2), RowRequest(name="B", seat_count=2)],
            "row_layout": RowLayout(start=(0.0, 0.0), row_spacing=0.001),
        },
        "rows",
        "Seat 1 of row 'A' and seat 1 of row 'B' are both at (0, 0).",
    ),
    "no spacing": (
        {"row_layout": RowLayout(start=(0.0, 0.0), seat_spacing=0.0)},
        "row_layout",
        "Spacings and the curve radius are positive numbers.",
    ),
    "a computed seat on an explicit one": (
        {
            "rows": [
                RowRequest(name="A", seat_count=2, positions=[(0.0, 1.0), (1.0, 1.0)]),
                RowRequest(name="B", seat_count=2),
            ],
            "row_layout": RowLayout(start=(0.0, 0.0)),
        },
        "rows",
        "Seat 1 of row 'A' and seat 1 of row 'B' are both at (0, 1).",
    ),
    "a seat outside the outline": (
        {
            "rows": [RowRequest(name="A", seat_count=2, positions=[(1.0, 1.0), (12.0, 1.0)])],
            "outline": [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)],
        },
        "outline",
        "Seat 2 of row 'A' at (12, 1) is outside the section's outline.",
    ),
    "an outline without area": (
        {"outline": [(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)]},
        "outline",
        "The outline encloses no area.",
    ),
    "an outline of two points": (
        {"outline": [(0.0, 0.0), (1.0, 1.0)]},
        "outline",
        "An outline is a polygon of 3 to 500 points.",
    ),
    "a position per seat missing": (
        {"rows": [RowRequest(name="A", seat_count=2, positions=[(1.0, 1.0)])]},
        "rows",
        "Row 'A': give one position per seat.",
    ),
    "a coordinate that is not finite": (
        {"rows": [RowRequest(name="A", seat_count=1, positions=[(math.inf, 1.0)])]},
        "rows",
        "Coordinates are finite numbers within ±1,000,000.",
    ),
    "curved rows without a focal point": (
        {"row_layout": RowLayout(start=(0.0, 10.0), curve_radius=10.0)},
        "row_layout",
        "Curved rows face the venue's focal point: set it on the venue first.",
    ),
    "curved rows turned": (
        {"row_layout": RowLayout(start=(0.0, 10.0), curve_radius=10.0, rotation=15)},
        "row_layout",
        "Curved rows face the focal point: give no rotation.",
    ),
    "a label at infinity": (
        {"label": (0.0, math.nan)},
        "label",
        "Coordinates are finite numbers within ±1,000,000.",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
async def test_bad_geometry_is_refused_with_the_field(
    db: Database, clock: FakeClock, case: str
) -> None:
    geometry, field, message = REFUSALS[case]
    venue_id = await _venue(db, clock)
    with pytest.raises(TicketingError) as excinfo:
        await _add(db, venue_id, "Refused", **geometry)
    assert _error(excinfo) == (ErrorCode.VALIDATION_ERROR, (field,))
    assert excinfo.value.message == message
    assert await fetch(db, sa.select(section_t.c.id)) == []


async def test_a_general_admission_section_has_no_rows_to_lay_out(
    db: Database, clock: FakeClock
) -> None:
    venue_id = await _venue(db, clock)
    with pytest.raises(TicketingError) as excinfo:
        await management.add_section(
            db,
            caller=MANAGER,
            venue_id=venue_id,
            name="Floor",
            kind=SectionKind.GENERAL_ADMISSION,
            capacity=10,
            row_layout=RowLayout(start=(0.0, 0.0)),
        )
    assert _error(excinfo) == (ErrorCode.VALIDATION_ERROR, ("row_layout",))


async def test_the_focal_point_is_set_and_checked_on_the_venue(
    db: Database, clock: FakeClock
) -> None:
    venue_id = await _venue(db, clock)
    with pytest.raises(TicketingError) as excinfo:
        await management.update_venue(
            db, caller=MANAGER, venue_id=venue_id, focal_point=(math.inf, 0.0)
        )
    assert _error(excinfo) == (ErrorCode.VALIDATION_ERROR, ("focal_point",))
    await management.update_venue(db, caller=MANAGER, venue_id=venue_id, focal_point=(0.0, 0.0))
    section_id = await _add(
        db,
        venue_id,
        "Curved",
        rows=[RowRequest(name="A", seat_count=1)],
        row_layout=RowLayout(start=(0.0, 5.0), curve_radius=5.0),
    )
    assert await _seats(db, section_id) == [(0.0, 5.0)]


async def test_the_demo_hall_curves_round_its_stage(db: Database, clock: FakeClock) -> None:
    (seeded, _) = await seed_demo(db, now=clock.now)
    (venue,) = await fetch(db, sa.select(venue_t.c.focal_x, venue_t.c.focal_y))
    assert (venue.focal_x, venue.focal_y) == STAGE
    sections = await fetch(
        db,
        sa.select(section_t.c.id, section_t.c.name, section_t.c.outline, section_t.c.label_y)
        .where(section_t.c.venue_id == seeded.venue_id)
        .order_by(section_t.c.position),
    )
    fronts = {}
    for section in sections:
        outline = [(x, y) for x, y in section.outline]
        seats = await _seats(db, section.id)
        if section.name == "Standing Floor":
            assert set(seats) == {(None, None)}
            continue
        assert first_overlap(seats) is None
        assert all(contains(outline, seat) for seat in seats), section.name
        # the label is behind the tier, where no seat of it is
        assert section.label_y > max(y for _, y in seats)
        fronts[section.name] = {round(math.dist(seat, STAGE), 1) for seat in seats[:2]}
    # each tier's front row is one distance from the stage, each tier further back
    assert fronts == {"Stalls": {16.0}, "Circle": {32.6}, "Balcony": {44.4}}

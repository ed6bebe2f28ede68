"""Demo and load-test inventory: a realistic concert hall, and venues of any size for `seed`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.db import command, query
from ticketing.domain import SectionKind
from ticketing.geometry import MARGIN, SEAT_SPACING, Point, RowLayout, sector
from ticketing.management.manifest import RowSpec, SectionSpec, insert_event, insert_venue, row_name
from ticketing.models import venue_t

DEMO_VENUE = "Harbour Point Concert Hall"
PRICE_LEVELS = ("Adult", "Child", "VIP")


@dataclass(frozen=True, slots=True)
class SeededEvent:
    venue_id: int
    event_id: int


STAGE: Point = (0.0, 0.0)
"""The demo hall's focal point; its tiers curve round it, further back as they rise."""
ROW_DEPTH = 1.2
TIER_GAP = 2.4
"""Between two tiers' outlines; the nearer tier's label sits in it."""


def _tier(name: str, *, rows: int, seats_per_row: int, radius: float) -> SectionSpec:
    """Curved rows facing the stage, the first `radius` from it, inside a band around it, the
    label just behind the last row."""
    layout = RowLayout(
        start=(STAGE[0], STAGE[1] + radius), row_spacing=ROW_DEPTH, curve_radius=radius
    )
    positions = layout.rows([seats_per_row] * rows, focal_point=STAGE)
    # the front row spans the widest angle; the band covers it with a margin at each end
    half_angle = math.degrees(((seats_per_row - 1) / 2 * SEAT_SPACING + MARGIN) / radius)
    back = radius + (rows - 1) * ROW_DEPTH + MARGIN
    outline = sector(STAGE, inner=radius - MARGIN, outer=back, direction=90, half_angle=half_angle)
    return SectionSpec(
        name=name,
        rows=[
            RowSpec.numbered(row_name(i), seats_per_row, positions=row)
            for i, row in enumerate(positions)
        ],
        outline=outline,
        label=(STAGE[0], STAGE[1] + back + TIER_GAP / 2),
    )


def _demo_sections() -> list[SectionSpec]:
    """Stalls curving round the stage, the circle and the balcony behind and above them, and a
    standing floor between the stage and the stalls."""
    stalls = _tier("Stalls", rows=12, seats_per_row=20, radius=16.0)
    circle_radius = 16.0 + 11 * ROW_DEPTH + 2 * MARGIN + TIER_GAP
    circle = _tier("Circle", rows=8, seats_per_row=16, radius=circle_radius)
    balcony_radius = circle_radius + 7 * ROW_DEPTH + 2 * MARGIN + TIER_GAP
    balcony = _tier("Balcony", rows=6, seats_per_row=14, radius=balcony_radius)
    floor = SectionSpec(
        name="Standing Floor",
        kind=SectionKind.GENERAL_ADMISSION,
        capacity=300,
        outline=sector(STAGE, inner=4.0, outer=16.0 - TIER_GAP, direction=90, half_angle=36),
        label=(STAGE[0], STAGE[1] + 9.0),
    )
    return [stalls, circle, balcony, floor]


def _evening(now: datetime, *, days: int, hour: int, minute: int = 0) -> datetime:
    day = (now + timedelta(days=days)).date()
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def _prices(table: dict[str, tuple[str, str, str]]) -> dict[str, dict[str, Decimal]]:
    return {
        section: {
            level: Decimal(amount) for level, amount in zip(PRICE_LEVELS, amounts, strict=True)
        }
        for section, amounts in table.items()
    }


@query
async def is_empty(conn: AsyncConnection) -> bool:
    return await conn.scalar(sa.select(sa.func.count()).select_from(venue_t)) == 0


@command
async def seed_demo(conn: AsyncConnection, *, now: datetime) -> list[SeededEvent]:
    """A named hall with three seated tiers of lettered rows facing its stage, a standing floor,
    two concerts."""
    venue_id = await insert_venue(
        conn,
        name=DEMO_VENUE,
        city="Lisbon",
        timezone="Europe/Lisbon",
        sections=_demo_sections(),
        now=now,
        focal_point=STAGE,
    )
    concert = await insert_event(
        conn,
        venue_id=venue_id,
        name="The Midnight Owls: Live in Concert",
        starts_at=_evening(now, days=21, hour=20),
        currency="EUR",
        price_levels=PRICE_LEVELS,
        prices=_prices(
            {
                "Stalls": ("59.00", "35.00", "120.00"),
                "Circle": ("49.50", "29.50", "95.00"),
                "Balcony": ("35.00", "20.00", "70.00"),
                "Standing Floor": ("45.00", "25.00", "89.00"),
            }
        ),
        now=now,
    )
    orchestra = await insert_event(
        conn,
        venue_id=venue_id,
        name="Lisbon Chamber Orchestra: Winter Nights",
        starts_at=_evening(now, days=45, hour=19, minute=30),
        currency="EUR",
        price_levels=PRICE_LEVELS,
        prices=_prices(
            {
                "Stalls": ("42.00", "21.00", "85.00"),
                "Circle": ("36.00", "18.00", "72.00"),
                "Balcony": ("24.00", "12.00", "48.00"),
                "Standing Floor": ("19.50", "9.75", "39.00"),
            }
        ),
        now=now,
    )
    return [SeededEvent(venue_id, concert), SeededEvent(venue_id, orchestra)]


SEATS_PER_ROW = 25
SEATS_PER_SECTION = 1000


def stadium_sections(
    seats: int, general_admission: int, *, section_size: int | None = None
) -> list[SectionSpec]:
    """Exactly `seats` designated seats in rows of 25: in sections of about `section_size`, or
    by default of at most 1,000 and at least three (so that a small venue looks like one)."""
    if section_size is not None:
        count = math.ceil(seats / section_size)
    else:
        count = max(min(3, seats), math.ceil(seats / SEATS_PER_SECTION)) if seats else 0
    sections: list[SectionSpec] = []
    for index in range(count):
        size = seats // count + (1 if index < seats % count else 0)
        rows = [
            RowSpec.numbered(row_name(r), min(SEATS_PER_ROW, size - r * SEATS_PER_ROW))
            for r in range(math.ceil(size / SEATS_PER_ROW))
        ]
        sections.append(SectionSpec(name=f"Block {index + 101}", rows=rows))
    if general_admission:
        sections.append(
            SectionSpec(
                name="Field", kind=SectionKind.GENERAL_ADMISSION, capacity=general_admission
            )
        )
    return sections


@command
async def seed_stadium(
    conn: AsyncConnection,
    *,
    seats: int,
    general_admission: int,
    name: str,
    now: datetime,
    section_size: int | None = None,
) -> SeededEvent:
    sections = stadium_sections(seats, general_admission, section_size=section_size)
    venue_id = await insert_venue(
        conn, name=name, city="", timezone="UTC", sections=sections, now=now
    )
    event_id = await insert_event(
        conn,
        venue_id=venue_id,
        name=f"{name}: Opening Night",
        starts_at=_evening(now, days=30, hour=20),
        currency="EUR",
        price_levels=PRICE_LEVELS,
        prices=_prices({section.name: ("50.00", "25.00", "150.00") for section in sections}),
        now=now,
    )
    return SeededEvent(venue_id, event_id)

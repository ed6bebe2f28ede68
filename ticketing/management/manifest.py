"""Building inventory: a venue's seat-map template, and an event's copy of it with its prices.

Written set-based (multi-row INSERTs; INSERT ... SELECT for an event's copy) for stadium sizes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.domain import EventStatus, SeatStatus, SeatType, SectionKind, money
from ticketing.errors import ErrorCode, TicketingError, not_found
from ticketing.geometry import (
    Point,
    bounds,
    default_placement,
    label_above,
    next_left,
    outline_around,
)
from ticketing.inputs import parse_currency
from ticketing.models import (
    Money,
    event_row_t,
    event_seat_t,
    event_section_t,
    event_t,
    price_level_t,
    price_t,
    row_t,
    seat_t,
    section_t,
    venue_t,
)


@dataclass(frozen=True, slots=True)
class RowSpec:
    name: str
    seat_numbers: Sequence[str]
    positions: Sequence[Point] | None = None
    """One per seat, in venue units; None: placed by the default arrangement."""

    @classmethod
    def numbered(
        cls, name: str, count: int, *, first: int = 1, positions: Sequence[Point] | None = None
    ) -> RowSpec:
        numbers = [str(n) for n in range(first, first + count)]
        return cls(name=name, seat_numbers=numbers, positions=positions)


@dataclass(frozen=True, slots=True)
class SectionSpec:
    name: str
    kind: SectionKind = SectionKind.SEATED
    rows: Sequence[RowSpec] = field(default_factory=tuple)
    capacity: int = 0  # general admission only; a seated section's capacity is its seat count
    outline: Sequence[Point] | None = None
    label: Point | None = None

    def __post_init__(self) -> None:
        if self.kind is SectionKind.GENERAL_ADMISSION and (self.rows or self.capacity <= 0):
            raise TicketingError(
                ErrorCode.VALIDATION_ERROR,
                f"General-admission section {self.name!r} needs a capacity and no rows.",
                field=("capacity",),
            )
        if self.kind is SectionKind.SEATED and not any(r.seat_numbers for r in self.rows):
            raise TicketingError(
                ErrorCode.VALIDATION_ERROR,
                f"Seated section {self.name!r} needs rows with seats.",
                field=("rows",),
            )

    @property
    def seat_count(self) -> int:
        if self.kind is SectionKind.GENERAL_ADMISSION:
            return self.capacity
        return sum(len(r.seat_numbers) for r in self.rows)


def row_name(index: int) -> str:
    """Lettered rows as venues print them: A..Z, then AA, AB, ..."""
    name = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        name = chr(ord("A") + remainder) + name
    return name


async def insert_venue(
    conn: AsyncConnection,
    *,
    name: str,
    city: str,
    timezone: str,
    sections: Sequence[SectionSpec],
    now: datetime,
    focal_point: Point | None = None,
) -> int:
    focal_x, focal_y = (None, None) if focal_point is None else focal_point
    venue_id: int | None = await conn.scalar(
        sa.insert(venue_t)
        .values(
            name=name,
            city=city,
            timezone=timezone,
            created_at=now,
            focal_x=focal_x,
            focal_y=focal_y,
        )
        .returning(venue_t.c.id)
    )
    assert venue_id is not None
    for position, spec in enumerate(sections):
        await insert_section(conn, venue_id=venue_id, spec=spec, position=position)
    return venue_id


async def _next_left(conn: AsyncConnection, venue_id: int) -> float:
    """Where a section placed to the right of the venue's sections begins (every section has an
    outline holding its seats)."""
    outlines = (
        await conn.scalars(
            sa.select(section_t.c.outline).where(
                section_t.c.venue_id == venue_id, section_t.c.outline.is_not(None)
            )
        )
    ).all()
    return next_left([[(x, y) for x, y in outline] for outline in outlines], [])


async def place_section(conn: AsyncConnection, *, venue_id: int, spec: SectionSpec) -> SectionSpec:
    """The spec with every seat position, the outline and the label given: what the manager left
    out comes from the default arrangement, in the corner of the section's outline or else to the
    right of the venue's other sections."""
    rows = list(spec.rows)
    outline = spec.outline
    seated = spec.kind is SectionKind.SEATED
    if (seated and any(row.positions is None for row in rows)) or (not seated and not outline):
        if outline:
            left, top, _, _ = bounds(outline)
        else:
            left, top = await _next_left(conn, venue_id), 0.0
        default = default_placement(
            row_sizes=[len(row.seat_numbers) for row in rows],
            capacity=spec.capacity,
            left=left,
            top=top,
        )
        rows = [
            row if row.positions is not None else replace(row, positions=positions)
            for row, positions in zip(rows, default.rows, strict=True)
        ]
        if not seated and not outline:
            outline = default.outline
    if not outline:
        outline = outline_around(p for row in rows for p in row.positions or ())
    label = spec.label if spec.label is not None else label_above(outline)
    return replace(spec, rows=rows, outline=outline, label=label)


async def insert_section(
    conn: AsyncConnection, *, venue_id: int, spec: SectionSpec, position: int
) -> int:
    """One section of a venue with its rows and seats, in three statements whatever its size.
    Geometry left out is placed by `place_section`."""
    spec = await place_section(conn, venue_id=venue_id, spec=spec)
    assert spec.outline is not None
    assert spec.label is not None
    section_id: int | None = await conn.scalar(
        sa.insert(section_t)
        .values(
            venue_id=venue_id,
            name=spec.name,
            kind=spec.kind.value,
            capacity=spec.seat_count,
            position=position,
            outline=[list(point) for point in spec.outline],
            label_x=spec.label[0],
            label_y=spec.label[1],
        )
        .returning(section_t.c.id)
    )
    assert section_id is not None
    seats: list[dict[str, object]] = []
    if spec.kind is SectionKind.GENERAL_ADMISSION:
        seats = [
            {
                "section_id": section_id,
                "row_id": None,
                "number": None,
                "type": SeatType.GENERAL_ADMISSION.value,
                "position": place,
                "x": None,
                "y": None,
            }
            for place in range(spec.capacity)
        ]
    else:
        row_ids = (
            await conn.execute(
                sa.insert(row_t).returning(row_t.c.id, sort_by_parameter_order=True),
                [
                    {"section_id": section_id, "name": row.name, "position": index}
                    for index, row in enumerate(spec.rows)
                ],
            )
        ).scalars()
        for row_id, row in zip(row_ids, spec.rows, strict=True):
            assert row.positions is not None
            seats += [
                {
                    "section_id": section_id,
                    "row_id": row_id,
                    "number": number,
                    "type": SeatType.DESIGNATED.value,
                    "position": position,
                    "x": x,
                    "y": y,
                }
                for position, (number, (x, y)) in enumerate(
                    zip(row.seat_numbers, row.positions, strict=True), start=len(seats)
                )
            ]
    if seats:
        await conn.execute(sa.insert(seat_t), seats)
    return section_id


async def insert_event(
    conn: AsyncConnection,
    *,
    venue_id: int,
    name: str,
    starts_at: datetime,
    currency: str,
    price_levels: Sequence[str],
    prices: Mapping[str, Mapping[str, Decimal]],
    now: datetime,
    status: EventStatus = EventStatus.PUBLISHED,
) -> int:
    """Create the event and copy the venue's manifest into it.

    `prices` maps a section name to {price level name: amount}; every seat of that section offers
    those levels. Sections missing from `prices` are not on sale (their seats offer no price).
    """
    sections: dict[str, int] = dict(
        (
            await conn.execute(
                sa.select(section_t.c.name, section_t.c.id).where(section_t.c.venue_id == venue_id)
            )
        ).all()
    )
    if not sections:
        raise not_found("Venue", venue_id, field="venue_id")
    unknown = set(prices) - set(sections)
    if unknown:
        raise TicketingError(
            ErrorCode.VALIDATION_ERROR,
            f"Unknown sections in prices: {', '.join(sorted(unknown))}.",
            field=("prices",),
        )
    unknown_levels = {lvl for offer in prices.values() for lvl in offer} - set(price_levels)
    if unknown_levels:
        raise TicketingError(
            ErrorCode.VALIDATION_ERROR,
            f"Unknown price levels in prices: {', '.join(sorted(unknown_levels))}.",
            field=("prices",),
        )

    event_id: int | None = await conn.scalar(
        sa.insert(event_t)
        .values(
            venue_id=venue_id,
            name=name,
            starts_at=starts_at,
            currency=parse_currency(currency),
            created_at=now,
            status=status.value,
        )
        .returning(event_t.c.id)
    )
    assert event_id is not None
    level_ids: dict[str, int] = dict(
        (
            await conn.execute(
                sa.insert(price_level_t).returning(
                    price_level_t.c.name, price_level_t.c.id, sort_by_parameter_order=True
                ),
                [
                    {"event_id": event_id, "name": level, "position": position}
                    for position, level in enumerate(price_levels)
                ],
            )
        ).all()
    )

    event = sa.literal(event_id, sa.Integer)
    await conn.execute(
        sa.insert(event_section_t).from_select(
            [
                "event_id",
                "section_id",
                "name",
                "kind",
                "capacity",
                "position",
                "outline",
                "label_x",
                "label_y",
            ],
            sa.select(
                event,
                section_t.c.id,
                section_t.c.name,
                section_t.c.kind,
                section_t.c.capacity,
                section_t.c.position,
                section_t.c.outline,
                section_t.c.label_x,
                section_t.c.label_y,
            ).where(section_t.c.venue_id == venue_id),
        )
    )
    await conn.execute(
        sa.insert(event_row_t).from_select(
            ["event_id", "row_id", "section_id", "name", "position"],
            sa.select(event, row_t.c.id, row_t.c.section_id, row_t.c.name, row_t.c.position)
            .join(section_t, section_t.c.id == row_t.c.section_id)
            .where(section_t.c.venue_id == venue_id),
        )
    )
    await conn.execute(
        sa.insert(event_seat_t).from_select(
            [
                "event_id",
                "seat_id",
                "section_id",
                "row_id",
                "row_name",
                "number",
                "type",
                "position",
                "x",
                "y",
                "status",
            ],
            sa.select(
                event,
                seat_t.c.id,
                seat_t.c.section_id,
                seat_t.c.row_id,
                row_t.c.name,
                seat_t.c.number,
                seat_t.c.type,
                seat_t.c.position,
                seat_t.c.x,
                seat_t.c.y,
                sa.literal(int(SeatStatus.AVAILABLE), sa.Integer),
            )
            .join(section_t, section_t.c.id == seat_t.c.section_id)
            .outerjoin(row_t, row_t.c.id == seat_t.c.row_id)
            .where(section_t.c.venue_id == venue_id),
        )
    )
    if conn.dialect.name == "postgresql":
        # The planner's statistics still describe the table before this bulk copy; refresh them
        # so that the price inserts below and the first seat-map reads use the indexes.
        await conn.execute(sa.text("ANALYZE event_seat"))
    for section_name, offer in prices.items():
        for level, amount in offer.items():
            await conn.execute(
                sa.insert(price_t).from_select(
                    ["event_id", "seat_id", "price_level_id", "amount"],
                    sa.select(
                        event_seat_t.c.event_id,
                        event_seat_t.c.seat_id,
                        sa.literal(level_ids[level], sa.Integer),
                        sa.literal(money(amount), Money()),
                    ).where(
                        event_seat_t.c.event_id == event_id,
                        event_seat_t.c.section_id == sections[section_name],
                    ),
                )
            )
    return event_id

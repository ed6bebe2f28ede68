"""Event managers' commands: venues and their sections, events, prices, blocked seats, status.

Each command checks the caller's role first and is one transaction; changes bump `event.revision`.
"""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.catalog.queries import require_event, require_venue
from ticketing.db import command, query
from ticketing.domain import (
    EventStatus,
    EventView,
    Principal,
    SeatStatus,
    SectionKind,
    SectionView,
    VenueView,
    money,
)
from ticketing.errors import ErrorCode, TicketingError, forbidden, not_found
from ticketing.geometry import (
    MAX_COORDINATE,
    MAX_OUTLINE_POINTS,
    Point,
    RowLayout,
    area,
    contains,
    first_overlap,
    is_valid_coordinate,
    rounded,
)
from ticketing.inputs import check_instant, clean_text, invalid, parse_currency
from ticketing.inventory import audit, stamps
from ticketing.inventory.seats import seat_is_free
from ticketing.management.manifest import (
    RowSpec,
    SectionSpec,
    insert_event,
    insert_section,
    place_section,
)
from ticketing.models import (
    event_seat_t,
    event_section_t,
    event_t,
    item_t,
    price_level_t,
    price_t,
    row_t,
    seat_t,
    section_t,
    ticket_t,
    venue_t,
)

MAX_SEATS_PER_CALL = 100_000
MAX_PRICE_LEVELS = 20


def require_manager(caller: Principal | None, action: str) -> Principal:
    if caller is None or not caller.is_manager:
        raise forbidden(action)
    return caller


def _name(value: str, *, field: str = "name", max_length: int = 200) -> str:
    return clean_text(value, field=field, max_length=max_length)


def _city(value: str) -> str:
    return clean_text(value, field="city", max_length=200, required=False)


def _timezone(value: str) -> str:
    value = clean_text(value, field="timezone", max_length=64)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise invalid(
            f"{value!r} is not an IANA time zone (e.g. Europe/Paris).", "timezone"
        ) from None
    return value


def _amount(value: Decimal, field: str) -> Decimal:
    try:
        amount = money(value)
    except InvalidOperation:
        raise invalid("Amounts are decimal numbers.", field) from None
    if amount != value or not Decimal(0) <= amount < Decimal("10000000000"):
        raise invalid("Amounts are >= 0 with at most two decimals.", field)
    return amount


# --- venues -----------------------------------------------------------------------------------


@command
async def create_venue(
    conn: AsyncConnection,
    *,
    caller: Principal | None,
    name: str,
    city: str = "",
    timezone: str = "UTC",
    focal_point: Point | None = None,
    now: datetime,
) -> VenueView:
    """A venue; its focal point (the stage or pitch) is what curved rows face."""
    require_manager(caller, "create venues")
    venue = {"name": _name(name), "city": _city(city), "timezone": _timezone(timezone)}
    focal = {} if focal_point is None else _focal(focal_point)
    venue_id = await conn.scalar(
        sa.insert(venue_t).values(**venue, **focal, created_at=now).returning(venue_t.c.id)
    )
    assert venue_id is not None
    return VenueView(
        id=venue_id, **venue, focal_point=(focal["focal_x"], focal["focal_y"]) if focal else None
    )


@command
async def update_venue(
    conn: AsyncConnection,
    *,
    caller: Principal | None,
    venue_id: int,
    name: str | None = None,
    city: str | None = None,
    timezone: str | None = None,
    focal_point: Point | None = None,
) -> VenueView:
    """Change the venue's name, city, time zone or focal point. Events keep their own copy of the
    seat map; their venue fields and focal point show the new values. Seats already placed on
    curved rows stay where they are."""
    require_manager(caller, "change venues")
    values: dict[str, str | float] = {}
    if name is not None:
        values["name"] = _name(name)
    if city is not None:
        values["city"] = _city(city)
    if timezone is not None:
        values["timezone"] = _timezone(timezone)
    if focal_point is not None:
        values.update(_focal(focal_point))
    if values:
        found = await conn.scalar(
            sa.update(venue_t)
            .where(venue_t.c.id == venue_id)
            .values(**values)
            .returning(venue_t.c.id)
        )
        if found is None:
            raise not_found("Venue", venue_id, field="venue_id")
        await _venue_changed(conn, venue_id)
    return await require_venue(conn, venue_id)


def _point(point: Point, field: str) -> Point:
    if not all(is_valid_coordinate(value) for value in point):
        raise invalid(f"Coordinates are finite numbers within ±{MAX_COORDINATE:,.0f}.", field)
    return rounded(point)


def _focal(point: Point) -> dict[str, float]:
    x, y = _point(point, "focal_point")
    return {"focal_x": x, "focal_y": y}


async def _venue_changed(conn: AsyncConnection, venue_id: int) -> None:
    """Events show their venue (its name, its template's sections): cached data of every event
    at the venue must be read again."""
    event_ids = (
        await conn.scalars(sa.select(event_t.c.id).where(event_t.c.venue_id == venue_id))
    ).all()
    for event_id in event_ids:
        await _event_changed(conn, event_id)


@dataclass(frozen=True, slots=True)
class RowRequest:
    """A row as a manager describes it: a seat count (numbered 1..n) or the seat numbers, and
    optionally each seat's position (otherwise the section's row layout places them)."""

    name: str
    seat_count: int | None = None
    seat_numbers: Sequence[str] | None = None
    positions: Sequence[Point] | None = None

    def spec(self) -> RowSpec:
        if (self.seat_count is None) == (self.seat_numbers is None):
            raise invalid(f"Row {self.name!r}: give seatCount or seatNumbers.", "rows")
        if self.seat_numbers is not None:
            row = RowSpec(name=self.name, seat_numbers=list(self.seat_numbers))
        else:
            assert self.seat_count is not None
            if not 0 < self.seat_count <= MAX_SEATS_PER_CALL:
                raise invalid(f"Row {self.name!r}: seatCount is 1 to {MAX_SEATS_PER_CALL}.", "rows")
            row = RowSpec.numbered(self.name, self.seat_count)
        if self.positions is None:
            return row
        if len(self.positions) != len(row.seat_numbers):
            raise invalid(f"Row {self.name!r}: give one position per seat.", "rows")
        positions = [_point(point, "rows") for point in self.positions]
        return RowSpec(name=row.name, seat_numbers=row.seat_numbers, positions=positions)


@command
async def add_section(
    conn: AsyncConnection,
    *,
    caller: Principal | None,
    venue_id: int,
    name: str,
    kind: SectionKind,
    rows: Sequence[RowRequest] = (),
    capacity: int = 0,
    row_layout: RowLayout | None = None,
    outline: Sequence[Point] | None = None,
    label: Point | None = None,
) -> SectionView:
    """A seated section (rows of seats, given in bulk) or a general-admission one (a capacity).
    Existing events keep their seat maps; events created later include the section.

    Seats are placed where their row says, else by `row_layout`, else in a grid to the right of
    the venue's sections; no two at one point, and all inside `outline` when one is given."""
    require_manager(caller, "change venues")
    if sum(r.seat_count or len(r.seat_numbers or ()) for r in rows) + capacity > MAX_SEATS_PER_CALL:
        raise invalid(f"A section has at most {MAX_SEATS_PER_CALL} seats.", "rows")
    spec = SectionSpec(
        name=_name(name),
        kind=kind,
        rows=[row.spec() for row in rows],
        capacity=capacity,
        outline=None if outline is None else _outline(outline),
        label=None if label is None else _point(label, "label"),
    )
    for row in spec.rows:
        _name(row.name, field="rows", max_length=50)
        if len(set(row.seat_numbers)) != len(row.seat_numbers):
            raise invalid(f"Row {row.name!r} repeats a seat number.", "rows")
        for number in row.seat_numbers:
            clean_text(number, field="rows", max_length=20)
    if len({row.name for row in spec.rows}) != len(spec.rows):
        raise invalid("Row names must be unique in a section.", "rows")
    # Venues are never deleted: the venue read below cannot be outdated by another command.
    await require_venue(conn, venue_id)
    if row_layout is not None:
        spec = await _laid_out(conn, venue_id=venue_id, spec=spec, layout=row_layout)
    spec = await place_section(conn, venue_id=venue_id, spec=spec)
    _check_seat_positions(spec, outline_given=outline is not None)
    taken = await conn.scalar(
        sa.select(
            sa.exists().where(section_t.c.venue_id == venue_id, section_t.c.name == spec.name)
        )
    )
    position = await conn.scalar(
        sa.select(sa.func.coalesce(sa.func.max(section_t.c.position) + 1, 0)).where(
            section_t.c.venue_id == venue_id
        )
    )
    if taken:
        raise invalid(f"The venue has a section named {spec.name!r} already.", "name")
    try:
        section_id = await insert_section(
            conn, venue_id=venue_id, spec=spec, position=position or 0
        )
    except IntegrityError:  # a concurrent add_section took the name (the unique index decides)
        raise invalid(f"The venue has a section named {spec.name!r} already.", "name") from None
    await _venue_changed(conn, venue_id)
    return SectionView(
        id=section_id,
        venue_id=venue_id,
        name=spec.name,
        kind=spec.kind,
        capacity=spec.seat_count,
        position=position or 0,
    )


def _outline(points: Sequence[Point]) -> list[Point]:
    if not 3 <= len(points) <= MAX_OUTLINE_POINTS:
        raise invalid(f"An outline is a polygon of 3 to {MAX_OUTLINE_POINTS} points.", "outline")
    polygon = [_point(point, "outline") for point in points]
    if area(polygon) == 0:
        raise invalid("The outline encloses no area.", "outline")
    return polygon


def _row_layout(layout: RowLayout) -> RowLayout:
    _point(layout.start, "row_layout")
    lengths = [layout.seat_spacing, layout.row_spacing]
    if layout.curve_radius is not None:
        lengths.append(layout.curve_radius)
    if not all(is_valid_coordinate(length) and length > 0 for length in lengths):
        raise invalid("Spacings and the curve radius are positive numbers.", "row_layout")
    if not math.isfinite(layout.rotation):
        raise invalid("The rotation is a number of degrees.", "row_layout")
    if layout.curve_radius is not None and layout.rotation:
        raise invalid("Curved rows face the focal point: give no rotation.", "row_layout")
    return layout


async def _laid_out(
    conn: AsyncConnection, *, venue_id: int, spec: SectionSpec, layout: RowLayout
) -> SectionSpec:
    """Rows without positions of their own placed by the row layout (row i as the layout's ith)."""
    if spec.kind is not SectionKind.SEATED:
        raise invalid("Only a seated section has rows to lay out.", "row_layout")
    layout = _row_layout(layout)
    focal_point: Point | None = None
    if layout.curve_radius is not None:
        focal = (
            await conn.execute(
                sa.select(venue_t.c.focal_x, venue_t.c.focal_y).where(venue_t.c.id == venue_id)
            )
        ).one()
        if focal.focal_x is None or focal.focal_y is None:
            raise invalid(
                "Curved rows face the venue's focal point: set it on the venue first.",
                "row_layout",
            )
        focal_point = (focal.focal_x, focal.focal_y)
    rows = [
        row
        if row.positions is not None
        else replace(
            row,
            positions=layout.row(index, len(row.seat_numbers), focal_point=focal_point),
        )
        for index, row in enumerate(spec.rows)
    ]
    return replace(spec, rows=rows)


def _check_seat_positions(spec: SectionSpec, *, outline_given: bool) -> None:
    seats = [(row.name, number) for row in spec.rows for number in row.seat_numbers]
    points = [point for row in spec.rows for point in row.positions or ()]
    if not all(is_valid_coordinate(value) for point in points for value in point):
        raise invalid(f"Seats lie within ±{MAX_COORDINATE:,.0f} on both axes.", "rows")
    overlap = first_overlap(points)
    if overlap is not None:
        (row_a, seat_a), (row_b, seat_b) = (seats[i] for i in overlap)
        x, y = points[overlap[0]]
        raise invalid(
            f"Seat {seat_a} of row {row_a!r} and seat {seat_b} of row {row_b!r} are both at "
            f"({x:g}, {y:g}).",
            "rows",
        )
    if outline_given:
        assert spec.outline is not None
        for (row, number), point in zip(seats, points, strict=True):
            if not contains(spec.outline, point):
                raise invalid(
                    f"Seat {number} of row {row!r} at ({point[0]:g}, {point[1]:g}) is outside "
                    "the section's outline.",
                    "outline",
                )


@command
async def remove_section(
    conn: AsyncConnection, *, caller: Principal | None, section_id: int
) -> SectionView:
    """Delete a section of a venue while no event uses it (SECTION_IN_USE otherwise)."""
    require_manager(caller, "change venues")
    row = (
        await conn.execute(sa.select(section_t).where(section_t.c.id == section_id))
    ).one_or_none()
    if row is None:
        raise not_found("Section", section_id, field="section_id")
    in_use = TicketingError(
        ErrorCode.SECTION_IN_USE,
        f"Section {section_id} is part of an event's seat map; it cannot be removed.",
        field=("section_id",),
    )
    if await conn.scalar(sa.select(sa.exists().where(event_section_t.c.section_id == section_id))):
        raise in_use
    try:
        # an event copying the section meanwhile makes these fail on its foreign keys
        await conn.execute(sa.delete(seat_t).where(seat_t.c.section_id == section_id))
        await conn.execute(sa.delete(row_t).where(row_t.c.section_id == section_id))
        await conn.execute(sa.delete(section_t).where(section_t.c.id == section_id))
    except IntegrityError:
        raise in_use from None
    await _venue_changed(conn, row.venue_id)
    return SectionView(
        id=row.id,
        venue_id=row.venue_id,
        name=row.name,
        kind=SectionKind(row.kind),
        capacity=row.capacity,
        position=row.position,
    )


# --- events -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SectionPrice:
    section_id: int
    price_level: str
    amount: Decimal | None
    """None removes the offer."""


@dataclass(frozen=True, slots=True)
class SeatPrice:
    seat_id: int
    price_level: str
    amount: Decimal | None
    """A seat's own price for a level, overriding its section's; None removes the offer."""


async def _event_changed(conn: AsyncConnection, event_id: int) -> None:
    """The first statement of every change to what an event shows: its revision moves on, which
    locks the event row, so that concurrent edits of one event run one after the other (each
    then reads what the previous one committed), and seat maps read the event anew.
    NOT_FOUND when there is no such event."""
    found = await conn.scalar(
        sa.update(event_t)
        .where(event_t.c.id == event_id)
        .values(revision=event_t.c.revision + 1)
        .returning(event_t.c.id)
    )
    if found is None:
        raise not_found("Event", event_id, field="event_id")
    stamps.event_changed(conn, event_id)


def _check_levels(price_levels: Sequence[str]) -> list[str]:
    levels = [_name(level, field="price_levels", max_length=100) for level in price_levels]
    if not 0 < len(levels) <= MAX_PRICE_LEVELS or len(set(levels)) != len(levels):
        raise invalid(
            f"An event has 1 to {MAX_PRICE_LEVELS} price levels with distinct names.",
            "price_levels",
        )
    return levels


@command
async def create_event(
    conn: AsyncConnection,
    *,
    caller: Principal | None,
    venue_id: int,
    name: str,
    starts_at: datetime,
    currency: str,
    price_levels: Sequence[str],
    prices: Sequence[SectionPrice],
    seat_prices: Sequence[SeatPrice] = (),
    now: datetime,
) -> EventView:
    """A draft event with its own copy of the venue's seat map (the template's ids), priced
    per section and price level; seats may override their section's prices."""
    require_manager(caller, "create events")
    starts_at = check_instant(starts_at, field="starts_at")
    currency = parse_currency(currency)
    levels = _check_levels(price_levels)
    venue = await require_venue(conn, venue_id)
    sections = dict(
        (
            await conn.execute(
                sa.select(section_t.c.id, section_t.c.name).where(section_t.c.venue_id == venue_id)
            )
        ).all()
    )
    if not sections:
        raise invalid(f"Venue {venue.id} has no sections yet; add one first.", "venue_id")
    by_section: dict[str, dict[str, Decimal]] = {}
    for price in prices:
        if price.section_id not in sections:
            raise invalid(f"Section {price.section_id} is not part of the venue.", "prices")
        if price.price_level not in levels:
            raise invalid(f"Price level {price.price_level!r} is not in price_levels.", "prices")
        if price.amount is not None:
            by_section.setdefault(sections[price.section_id], {})[price.price_level] = _amount(
                price.amount, "prices"
            )
    event_id = await insert_event(
        conn,
        venue_id=venue_id,
        name=_name(name),
        starts_at=starts_at,
        currency=currency,
        price_levels=levels,
        prices=by_section,
        now=now,
        status=EventStatus.DRAFT,
    )
    await _set_seat_prices(conn, event_id=event_id, seat_prices=seat_prices)
    return await require_event(conn, event_id, caller)


@command
async def update_event(
    conn: AsyncConnection,
    *,
    caller: Principal | None,
    event_id: int,
    name: str | None = None,
    starts_at: datetime | None = None,
) -> EventView:
    require_manager(caller, "change events")
    values: dict[str, object] = {}
    if name is not None:
        values["name"] = _name(name)
    if starts_at is not None:
        values["starts_at"] = check_instant(starts_at, field="starts_at")
    await _event_changed(conn, event_id)
    if values:
        await conn.execute(sa.update(event_t).where(event_t.c.id == event_id).values(values))
    return await require_event(conn, event_id, caller)


async def _level_ids(conn: AsyncConnection, *, event_id: int, names: set[str]) -> dict[str, int]:
    """The event's price levels by name; names it does not have yet are added at the end."""
    existing = dict(
        (
            await conn.execute(
                sa.select(price_level_t.c.name, price_level_t.c.id).where(
                    price_level_t.c.event_id == event_id
                )
            )
        ).all()
    )
    missing = sorted(names - set(existing))
    if len(existing) + len(missing) > MAX_PRICE_LEVELS:
        raise invalid(f"An event has at most {MAX_PRICE_LEVELS} price levels.", "prices")
    for position, level in enumerate(missing, start=len(existing)):
        _name(level, field="prices", max_length=100)
        existing[level] = await conn.scalar(
            sa.insert(price_level_t)
            .values(event_id=event_id, name=level, position=position)
            .returning(price_level_t.c.id)
        )
    return existing


async def _upsert_prices(
    conn: AsyncConnection,
    *,
    event_id: int,
    level_id: int,
    amount: Decimal | None,
    which: sa.ColumnElement[bool],
) -> None:
    """Offer `amount` at this level for the event's seats matching `which` (None withdraws)."""
    seats = sa.select(event_seat_t.c.seat_id).where(event_seat_t.c.event_id == event_id, which)
    await conn.execute(
        sa.delete(price_t).where(
            price_t.c.event_id == event_id,
            price_t.c.price_level_id == level_id,
            price_t.c.seat_id.in_(seats),
        )
    )
    if amount is not None:
        await conn.execute(
            sa.insert(price_t).from_select(
                ["event_id", "seat_id", "price_level_id", "amount"],
                sa.select(
                    event_seat_t.c.event_id,
                    event_seat_t.c.seat_id,
                    sa.literal(level_id, sa.Integer),
                    sa.literal(amount, price_t.c.amount.type),
                ).where(event_seat_t.c.event_id == event_id, which),
            )
        )


async def _set_seat_prices(
    conn: AsyncConnection, *, event_id: int, seat_prices: Sequence[SeatPrice]
) -> None:
    if not seat_prices:
        return
    level_ids = await _level_ids(
        conn, event_id=event_id, names={p.price_level for p in seat_prices}
    )
    seat_ids = {p.seat_id for p in seat_prices}
    known = set(
        (
            await conn.scalars(
                sa.select(event_seat_t.c.seat_id).where(
                    event_seat_t.c.event_id == event_id, event_seat_t.c.seat_id.in_(seat_ids)
                )
            )
        ).all()
    )
    if unknown := sorted(seat_ids - known):
        raise invalid(f"Seat {unknown[0]} is not part of event {event_id}.", "seat_prices")
    for price in seat_prices:
        amount = None if price.amount is None else _amount(price.amount, "seat_prices")
        await _upsert_prices(
            conn,
            event_id=event_id,
            level_id=level_ids[price.price_level],
            amount=amount,
            which=event_seat_t.c.seat_id == price.seat_id,
        )


@command
async def set_prices(
    conn: AsyncConnection,
    *,
    caller: Principal | None,
    event_id: int,
    prices: Sequence[SectionPrice] = (),
    seat_prices: Sequence[SeatPrice] = (),
) -> EventView:
    """Set (or withdraw, with a null amount) prices per section and level, then per seat. A new
    level name adds the level. Seats already held, booked or sold keep the price they were
    taken at: carts and tickets carry their own amounts."""
    require_manager(caller, "set prices")
    await _event_changed(conn, event_id)
    sections = set(
        (
            await conn.scalars(
                sa.select(event_section_t.c.section_id).where(
                    event_section_t.c.event_id == event_id
                )
            )
        ).all()
    )
    level_ids = await _level_ids(conn, event_id=event_id, names={p.price_level for p in prices})
    for price in prices:
        if price.section_id not in sections:
            raise invalid(f"Section {price.section_id} is not part of the event.", "prices")
        amount = None if price.amount is None else _amount(price.amount, "prices")
        await _upsert_prices(
            conn,
            event_id=event_id,
            level_id=level_ids[price.price_level],
            amount=amount,
            which=event_seat_t.c.section_id == price.section_id,
        )
    await _set_seat_prices(conn, event_id=event_id, seat_prices=seat_prices)
    return await require_event(conn, event_id, caller)


@command
async def set_blocked(
    conn: AsyncConnection,
    *,
    caller: Principal | None,
    event_id: int,
    seat_ids: Sequence[int],
    blocked: bool,
    now: datetime,
) -> list[int]:
    """Take available seats off sale (`blocked`), or put blocked seats back on sale: all of the
    seats or none. Blocking names the first seat that is not available (SEAT_NOT_AVAILABLE)."""
    require_manager(caller, "block seats" if blocked else "unblock seats")
    await require_event(conn, event_id, caller)
    wanted = sorted(set(seat_ids))
    if not wanted:
        raise invalid("Name at least one seat.", "seat_ids")
    which = seat_is_free(now) if blocked else event_seat_t.c.status == SeatStatus.BLOCKED
    to_status = SeatStatus.BLOCKED if blocked else SeatStatus.AVAILABLE
    changed = (
        await conn.execute(
            sa.update(event_seat_t)
            .where(event_seat_t.c.event_id == event_id, event_seat_t.c.seat_id.in_(wanted), which)
            .values(status=to_status, cart_id=None, expires_at=None, **stamps.stamped())
            .returning(event_seat_t.c.seat_id, event_seat_t.c.section_id)
        )
    ).all()
    if len(changed) != len(wanted):
        first = sorted(set(wanted) - {seat.seat_id for seat in changed})[0]
        if not blocked:
            raise invalid(f"Seat {first} of event {event_id} is not blocked.", "seat_ids")
        raise TicketingError(
            ErrorCode.SEAT_NOT_AVAILABLE,
            f"Seat {first} of event {event_id} is not available; only available seats can be "
            "blocked.",
            field=("seat_ids",),
            context={"event_id": event_id, "seat_id": first},
        )
    if blocked:
        # a lapsed hold on a seat blocked now stops counting as its cart's item
        await conn.execute(
            sa.update(item_t)
            .where(item_t.c.event_id == event_id, item_t.c.seat_id.in_(wanted), item_t.c.active)
            .values(active=False, released_at=now, release_reason="lapsed")
        )
    from_status = SeatStatus.AVAILABLE if blocked else SeatStatus.BLOCKED
    await _audit_seats(conn, event_id, wanted, from_status, to_status, caller, now)
    return wanted


async def _audit_seats(
    conn: AsyncConnection,
    event_id: int,
    seat_ids: Sequence[int],
    from_status: SeatStatus,
    to_status: SeatStatus,
    caller: Principal | None,
    now: datetime,
) -> None:
    await audit.record(
        conn,
        [
            audit.seat_entry(
                action="seat_blocked" if to_status is SeatStatus.BLOCKED else "seat_unblocked",
                event_id=event_id,
                seat_id=seat_id,
                from_status=from_status,
                to_status=to_status,
                cart_id=None,
            )
            for seat_id in seat_ids
        ],
        at=now,
        actor=audit.actor_of(caller),
    )


async def _set_status(
    conn: AsyncConnection,
    *,
    caller: Principal | None,
    event_id: int,
    to: EventStatus,
    allowed_from: set[EventStatus],
) -> EventView:
    await _event_changed(conn, event_id)  # locks the event: one status change at a time
    event = await require_event(conn, event_id, caller)
    if event.status is to:
        return event  # repeatable
    changed = await conn.scalar(
        sa.update(event_t)
        .where(
            event_t.c.id == event_id,
            event_t.c.status.in_([status.value for status in allowed_from]),
        )
        .values(status=to.value)
        .returning(event_t.c.id)
    )
    if changed is None:
        raise TicketingError(
            ErrorCode.EVENT_NOT_ON_SALE,
            f"Event {event_id} is {event.status.value}; it cannot become {to.value}.",
            field=("event_id",),
            context={"event_id": event_id},
        )
    return await require_event(conn, event_id, caller)


@command
async def publish_event(
    conn: AsyncConnection, *, caller: Principal | None, event_id: int
) -> EventView:
    """A draft goes on sale and becomes visible to customers."""
    require_manager(caller, "publish events")
    return await _set_status(
        conn,
        caller=caller,
        event_id=event_id,
        to=EventStatus.PUBLISHED,
        allowed_from={EventStatus.DRAFT},
    )


@command
async def cancel_event(
    conn: AsyncConnection, *, caller: Principal | None, event_id: int
) -> EventView:
    """The event is off sale: new holds and bookings are refused (EVENT_NOT_ON_SALE); the
    database refuses them in the claiming statement itself, whatever a worker read before."""
    require_manager(caller, "cancel events")
    return await _set_status(
        conn,
        caller=caller,
        event_id=event_id,
        to=EventStatus.CANCELLED,
        allowed_from={EventStatus.DRAFT, EventStatus.PUBLISHED},
    )


# --- report -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportLine:
    section_id: int
    section_name: str
    price_level_id: int | None
    """None: seats that offer no price (not on sale)."""
    price_level_name: str | None
    available: int
    """Available seats offering this level (a seat offering two levels counts under both)."""
    held: int
    booked: int
    sold: int
    revenue: Decimal
    """Sum of the tickets of completed payments at this level."""


@query
async def event_report(
    conn: AsyncConnection, *, caller: Principal | None, event_id: int, now: datetime
) -> tuple[EventView, list[ReportLine], dict[int, int]]:
    """Per section and price level: seats available, held, booked and sold, and the revenue of
    completed payments, computed in SQL. Also blocked seats per section."""
    require_manager(caller, "see reports")
    event = await require_event(conn, event_id, caller)
    live_item = sa.and_(
        item_t.c.event_id == event_seat_t.c.event_id,
        item_t.c.seat_id == event_seat_t.c.seat_id,
        item_t.c.active,
        item_t.c.cart_id == event_seat_t.c.cart_id,
    )
    free = seat_is_free(now)
    # available: per offered level
    available = (
        sa.select(
            event_seat_t.c.section_id,
            price_t.c.price_level_id,
            sa.func.count().label("n"),
        )
        .join(
            price_t,
            sa.and_(
                price_t.c.event_id == event_seat_t.c.event_id,
                price_t.c.seat_id == event_seat_t.c.seat_id,
            ),
        )
        .where(event_seat_t.c.event_id == event_id, free)
        .group_by(event_seat_t.c.section_id, price_t.c.price_level_id)
    )
    taken = (
        sa.select(
            event_seat_t.c.section_id,
            item_t.c.price_level_id,
            sa.func.sum(sa.case((event_seat_t.c.status == SeatStatus.HELD, 1), else_=0)).label(
                "held"
            ),
            sa.func.sum(sa.case((event_seat_t.c.status == SeatStatus.BOOKED, 1), else_=0)).label(
                "booked"
            ),
        )
        .join(item_t, live_item)
        .where(
            event_seat_t.c.event_id == event_id,
            sa.not_(free),
            event_seat_t.c.status.in_([SeatStatus.HELD, SeatStatus.BOOKED]),
        )
        .group_by(event_seat_t.c.section_id, item_t.c.price_level_id)
    )
    sold = (
        sa.select(
            event_seat_t.c.section_id,
            ticket_t.c.price_level_id,
            sa.func.count().label("n"),
            sa.func.sum(ticket_t.c.amount).label("revenue"),
        )
        .join(
            event_seat_t,
            sa.and_(
                event_seat_t.c.event_id == ticket_t.c.event_id,
                event_seat_t.c.seat_id == ticket_t.c.seat_id,
            ),
        )
        .where(ticket_t.c.event_id == event_id)
        .group_by(event_seat_t.c.section_id, ticket_t.c.price_level_id)
    )
    blocked = (
        sa.select(event_seat_t.c.section_id, sa.func.count())
        .where(event_seat_t.c.event_id == event_id, event_seat_t.c.status == SeatStatus.BLOCKED)
        .group_by(event_seat_t.c.section_id)
    )
    counts: dict[tuple[int, int], dict[str, object]] = {}

    def line(section_id: int, level_id: int) -> dict[str, object]:
        return counts.setdefault(
            (section_id, level_id),
            {"available": 0, "held": 0, "booked": 0, "sold": 0, "revenue": Decimal("0.00")},
        )

    for section_id, level_id, n in await conn.execute(available):
        line(section_id, level_id)["available"] = n
    for section_id, level_id, held, booked in await conn.execute(taken):
        line(section_id, level_id).update(held=int(held or 0), booked=int(booked or 0))
    for section_id, level_id, n, revenue in await conn.execute(sold):
        # sum() keeps the Money type: exact decimals on both databases
        line(section_id, level_id).update(sold=n, revenue=money(revenue or 0))
    sections = (
        await conn.execute(
            sa.select(event_section_t.c.section_id, event_section_t.c.name)
            .where(event_section_t.c.event_id == event_id)
            .order_by(event_section_t.c.position, event_section_t.c.section_id)
        )
    ).all()
    levels = (
        await conn.execute(
            sa.select(price_level_t.c.id, price_level_t.c.name)
            .where(price_level_t.c.event_id == event_id)
            .order_by(price_level_t.c.position, price_level_t.c.id)
        )
    ).all()
    lines = [
        ReportLine(
            section_id=section_id,
            section_name=section_name,
            price_level_id=level_id,
            price_level_name=level_name,
            **counts[(section_id, level_id)],  # type: ignore[arg-type]
        )
        for section_id, section_name in sections
        for level_id, level_name in levels
        if (section_id, level_id) in counts
    ]
    return event, lines, dict((await conn.execute(blocked)).all())

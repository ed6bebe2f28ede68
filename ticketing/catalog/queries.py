"""Read side of the inventory: venues, events, sections and seat maps, in set-based SQL.

The `load_*` queries take many keys at once so that DataLoaders keep a request's statements fixed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.db import query
from ticketing.domain import (
    EventsBound,
    EventSectionView,
    EventStatus,
    EventView,
    PriceLevelView,
    PriceOptionView,
    Principal,
    RowView,
    SeatType,
    SeatView,
    SectionKind,
    SectionView,
    VenueView,
    effective_seat_status,
    sees_drafts,
)
from ticketing.errors import not_found
from ticketing.inputs import check_instant
from ticketing.inventory.seats import seat_is_free
from ticketing.models import (
    event_row_t,
    event_seat_t,
    event_section_t,
    event_t,
    price_level_t,
    price_t,
    section_t,
    venue_t,
)

SectionKey = tuple[int, int]
"""(event_id, section_id): a section of one event, by the venue template's section id."""


# --- venues ---------------------------------------------------------------------------------


def _venue(row: Any) -> VenueView:
    focal_point = None if row.focal_x is None else (row.focal_x, row.focal_y)
    return VenueView(
        id=row.id, name=row.name, city=row.city, timezone=row.timezone, focal_point=focal_point
    )


async def _venues(conn: AsyncConnection, venue_ids: Iterable[int] | None) -> list[VenueView]:
    stmt = sa.select(
        venue_t.c.id,
        venue_t.c.name,
        venue_t.c.city,
        venue_t.c.timezone,
        venue_t.c.focal_x,
        venue_t.c.focal_y,
    )
    if venue_ids is not None:
        stmt = stmt.where(venue_t.c.id.in_(list(venue_ids)))
    return [_venue(row) for row in await conn.execute(stmt.order_by(venue_t.c.id))]


@query
async def list_venues(conn: AsyncConnection) -> list[VenueView]:
    return await _venues(conn, None)


@query
async def load_venues(conn: AsyncConnection, *, venue_ids: Sequence[int]) -> dict[int, VenueView]:
    return {venue.id: venue for venue in await _venues(conn, venue_ids)}


async def require_venue(conn: AsyncConnection, venue_id: int) -> VenueView:
    found = await _venues(conn, [venue_id])
    if not found:
        raise not_found("Venue", venue_id, field="venue_id")
    return found[0]


@query
async def get_venue(conn: AsyncConnection, *, venue_id: int) -> VenueView:
    return await require_venue(conn, venue_id)


async def _venue_sections(
    conn: AsyncConnection, venue_ids: Sequence[int]
) -> dict[int, list[SectionView]]:
    stmt = (
        sa.select(section_t)
        .where(section_t.c.venue_id.in_(venue_ids))
        .order_by(section_t.c.position, section_t.c.id)
    )
    sections: dict[int, list[SectionView]] = {venue_id: [] for venue_id in venue_ids}
    for row in await conn.execute(stmt):
        sections[row.venue_id].append(
            SectionView(
                id=row.id,
                venue_id=row.venue_id,
                name=row.name,
                kind=SectionKind(row.kind),
                capacity=row.capacity,
                position=row.position,
            )
        )
    return sections


@query
async def list_venue_sections(conn: AsyncConnection, *, venue_id: int) -> list[SectionView]:
    await require_venue(conn, venue_id)
    return (await _venue_sections(conn, [venue_id]))[venue_id]


@query
async def load_venue_sections(
    conn: AsyncConnection, *, venue_ids: Sequence[int]
) -> dict[int, list[SectionView]]:
    return await _venue_sections(conn, venue_ids)


# --- events ---------------------------------------------------------------------------------


def _event_select() -> sa.Select[Any]:
    return sa.select(
        event_t.c.id,
        event_t.c.name,
        event_t.c.venue_id,
        venue_t.c.name.label("venue_name"),
        event_t.c.starts_at,
        event_t.c.currency,
        event_t.c.status,
    ).join(venue_t, venue_t.c.id == event_t.c.venue_id)


def visible_events(viewer: Principal | None) -> sa.ColumnElement[bool]:
    """Drafts exist for managers only."""
    if sees_drafts(viewer):
        return sa.true()
    return event_t.c.status != EventStatus.DRAFT.value


def _event(row: Any) -> EventView:
    return EventView(
        id=row.id,
        name=row.name,
        venue_id=row.venue_id,
        venue_name=row.venue_name,
        starts_at=row.starts_at,
        currency=row.currency,
        status=EventStatus(row.status),
    )


@query
async def list_events(
    conn: AsyncConnection,
    *,
    viewer: Principal | None = None,
    venue_id: int | None = None,
    starts_after: datetime | None = None,
    starts_before: datetime | None = None,
    after: tuple[datetime, int] | None = None,
    limit: int | None = None,
) -> list[EventView]:
    """Events soonest first; `after` (starts_at, id) and `limit` page through them by keyset."""
    if starts_after is not None:
        starts_after = check_instant(starts_after, field="starts_after")
    if starts_before is not None:
        starts_before = check_instant(starts_before, field="starts_before")
    if after is not None:
        after = (check_instant(after[0], field="after"), after[1])
    stmt = _event_select().where(visible_events(viewer)).order_by(event_t.c.starts_at, event_t.c.id)
    if venue_id is not None:
        stmt = stmt.where(event_t.c.venue_id == venue_id)
    if starts_after is not None:
        stmt = stmt.where(event_t.c.starts_at >= starts_after)
    if starts_before is not None:
        stmt = stmt.where(event_t.c.starts_at < starts_before)
    if after is not None:
        stmt = stmt.where(sa.tuple_(event_t.c.starts_at, event_t.c.id) > sa.tuple_(*after))
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_event(row) for row in await conn.execute(stmt)]


@query
async def largest_events(
    conn: AsyncConnection, *, count: int, viewer: Principal | None = None
) -> EventsBound:
    """A bound on any page of `count` events the viewer may see, whatever its filters: the
    capacity of the `count` largest together, and the most price levels of any such event."""
    per_event = (
        sa.select(sa.func.sum(event_section_t.c.capacity).label("seats"))
        .join(event_t, event_t.c.id == event_section_t.c.event_id)
        .where(visible_events(viewer))
        .group_by(event_section_t.c.event_id)
        .order_by(sa.desc("seats"))
        .limit(count)
        .subquery()
    )
    levels = (
        sa.select(sa.func.count().label("levels"))
        .select_from(price_level_t)
        .join(event_t, event_t.c.id == price_level_t.c.event_id)
        .where(visible_events(viewer))
        .group_by(price_level_t.c.event_id)
        .subquery()
    )
    seats = await conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(per_event.c.seats), 0)))
    most_levels = await conn.scalar(sa.select(sa.func.coalesce(sa.func.max(levels.c.levels), 0)))
    return EventsBound(seats=int(seats or 0), price_levels=int(most_levels or 0))


async def require_event(
    conn: AsyncConnection, event_id: int, viewer: Principal | None = None
) -> EventView:
    row = (
        await conn.execute(_event_select().where(event_t.c.id == event_id, visible_events(viewer)))
    ).one_or_none()
    if row is None:
        raise not_found("Event", event_id, field="event_id")
    return _event(row)


@query
async def get_event(
    conn: AsyncConnection, *, event_id: int, viewer: Principal | None = None
) -> EventView:
    return await require_event(conn, event_id, viewer)


async def price_levels_of(
    conn: AsyncConnection, event_ids: Sequence[int]
) -> dict[int, list[PriceLevelView]]:
    stmt = (
        sa.select(
            price_level_t.c.event_id,
            price_level_t.c.id,
            price_level_t.c.name,
            price_level_t.c.position,
        )
        .where(price_level_t.c.event_id.in_(event_ids))
        .order_by(price_level_t.c.position, price_level_t.c.id)
    )
    levels: dict[int, list[PriceLevelView]] = {event_id: [] for event_id in event_ids}
    for row in await conn.execute(stmt):
        levels[row.event_id].append(PriceLevelView(id=row.id, name=row.name, position=row.position))
    return levels


@query
async def list_price_levels(
    conn: AsyncConnection, *, event_id: int, viewer: Principal | None = None
) -> list[PriceLevelView]:
    await require_event(conn, event_id, viewer)
    return (await price_levels_of(conn, [event_id]))[event_id]


@query
async def load_price_levels(
    conn: AsyncConnection, *, event_ids: Sequence[int]
) -> dict[int, list[PriceLevelView]]:
    return await price_levels_of(conn, event_ids)


# --- sections, rows and seats of events -------------------------------------------------------


def _on_sale() -> sa.ColumnElement[bool]:
    """The seat offers at least one price level (a seat without a price cannot be bought)."""
    return sa.exists().where(
        price_t.c.event_id == event_seat_t.c.event_id, price_t.c.seat_id == event_seat_t.c.seat_id
    )


async def _event_sections(
    conn: AsyncConnection, event_ids: Sequence[int], now: datetime
) -> dict[int, list[EventSectionView]]:
    available = (
        sa.select(
            event_seat_t.c.event_id,
            event_seat_t.c.section_id,
            sa.func.count().label("available_count"),
        )
        .where(event_seat_t.c.event_id.in_(event_ids), seat_is_free(now), _on_sale())
        .group_by(event_seat_t.c.event_id, event_seat_t.c.section_id)
        .subquery()
    )
    stmt = (
        sa.select(
            event_section_t,
            event_t.c.venue_id,
            sa.func.coalesce(available.c.available_count, 0).label("available_count"),
        )
        .join(event_t, event_t.c.id == event_section_t.c.event_id)
        .outerjoin(
            available,
            sa.and_(
                available.c.event_id == event_section_t.c.event_id,
                available.c.section_id == event_section_t.c.section_id,
            ),
        )
        .where(event_section_t.c.event_id.in_(event_ids))
        .order_by(event_section_t.c.position, event_section_t.c.section_id)
    )
    sections: dict[int, list[EventSectionView]] = {event_id: [] for event_id in event_ids}
    for row in await conn.execute(stmt):
        sections[row.event_id].append(
            EventSectionView(
                id=row.section_id,
                event_id=row.event_id,
                venue_id=row.venue_id,
                name=row.name,
                kind=SectionKind(row.kind),
                capacity=row.capacity,
                position=row.position,
                available_count=row.available_count,
            )
        )
    return sections


@query
async def list_event_sections(
    conn: AsyncConnection, *, event_id: int, now: datetime, viewer: Principal | None = None
) -> list[EventSectionView]:
    """An event's sections with how many seats are on sale in each right now."""
    await require_event(conn, event_id, viewer)
    return (await _event_sections(conn, [event_id], now))[event_id]


def _in_sections(table: sa.Table, keys: Sequence[SectionKey]) -> sa.ColumnElement[bool]:
    by_event: dict[int, list[int]] = defaultdict(list)
    for event_id, section_id in keys:
        by_event[event_id].append(section_id)
    return sa.or_(
        *(
            sa.and_(table.c.event_id == event_id, table.c.section_id.in_(section_ids))
            for event_id, section_ids in by_event.items()
        )
    )


async def _section_rows(
    conn: AsyncConnection, keys: Sequence[SectionKey]
) -> dict[SectionKey, list[RowView]]:
    stmt = (
        sa.select(event_row_t)
        .where(_in_sections(event_row_t, keys))
        .order_by(event_row_t.c.position, event_row_t.c.row_id)
    )
    rows: dict[SectionKey, list[RowView]] = {key: [] for key in keys}
    for row in await conn.execute(stmt):
        rows[(row.event_id, row.section_id)].append(
            RowView(
                id=row.row_id,
                event_id=row.event_id,
                section_id=row.section_id,
                name=row.name,
                position=row.position,
            )
        )
    return rows


@query
async def load_section_rows(
    conn: AsyncConnection, *, keys: Sequence[SectionKey]
) -> dict[SectionKey, list[RowView]]:
    return await _section_rows(conn, keys)


async def _section_seats(
    conn: AsyncConnection, keys: Sequence[SectionKey], now: datetime
) -> dict[SectionKey, list[SeatView]]:
    prices: dict[tuple[int, int], list[PriceOptionView]] = defaultdict(list)
    price_stmt = (
        sa.select(
            price_t.c.event_id,
            price_t.c.seat_id,
            price_level_t.c.id,
            price_level_t.c.name,
            price_t.c.amount,
        )
        .join(price_level_t, price_level_t.c.id == price_t.c.price_level_id)
        .join(
            event_seat_t,
            sa.and_(
                event_seat_t.c.event_id == price_t.c.event_id,
                event_seat_t.c.seat_id == price_t.c.seat_id,
            ),
        )
        .where(_in_sections(event_seat_t, keys))
        .order_by(price_level_t.c.position, price_level_t.c.id)
    )
    for event_id, seat_id, level_id, level_name, amount in await conn.execute(price_stmt):
        prices[(event_id, seat_id)].append(
            PriceOptionView(id=level_id, name=level_name, amount=amount)
        )

    seat_stmt = (
        sa.select(
            event_seat_t.c.event_id,
            event_seat_t.c.section_id,
            event_seat_t.c.seat_id,
            event_seat_t.c.row_id,
            event_seat_t.c.row_name,
            event_seat_t.c.number,
            event_seat_t.c.type,
            event_seat_t.c.status,
            event_seat_t.c.expires_at,
            event_seat_t.c.x,
            event_seat_t.c.y,
        )
        .where(_in_sections(event_seat_t, keys))
        .order_by(event_seat_t.c.position, event_seat_t.c.seat_id)
    )
    seats: dict[SectionKey, list[SeatView]] = {key: [] for key in keys}
    for row in await conn.execute(seat_stmt):
        seats[(row.event_id, row.section_id)].append(
            SeatView(
                event_id=row.event_id,
                section_id=row.section_id,
                row_id=row.row_id,
                seat_id=row.seat_id,
                row=row.row_name,
                number=row.number,
                type=SeatType(row.type),
                status=effective_seat_status(row.status, row.expires_at, now),
                price_options=tuple(prices.get((row.event_id, row.seat_id), ())),
                x=row.x,
                y=row.y,
            )
        )
    return seats


@query
async def list_section_seats(
    conn: AsyncConnection,
    *,
    event_id: int,
    section_id: int,
    now: datetime,
    viewer: Principal | None = None,
) -> list[SeatView]:
    """The seat map of one section: every seat with its live status and its price options."""
    await require_event(conn, event_id, viewer)
    section_exists = await conn.scalar(
        sa.select(sa.literal(1)).where(
            event_section_t.c.event_id == event_id, event_section_t.c.section_id == section_id
        )
    )
    if section_exists is None:
        raise not_found("Section", section_id, field="section_id")
    return (await _section_seats(conn, [(event_id, section_id)], now))[(event_id, section_id)]

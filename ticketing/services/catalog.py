"""Read side of the inventory: venues, events, sections and seat maps, in set-based SQL."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db import query
from ticketing.domain import (
    EventSectionView,
    EventView,
    PriceLevelView,
    PriceOptionView,
    SeatType,
    SeatView,
    SectionKind,
    SectionView,
    VenueView,
    effective_seat_status,
)
from ticketing.errors import not_found
from ticketing.models import (
    event_seat_t,
    event_section_t,
    event_t,
    price_level_t,
    price_t,
    section_t,
    venue_t,
)
from ticketing.services._sql import seat_is_free


def _venue(row: sa.Row[*tuple[Any, ...]]) -> VenueView:
    return VenueView(id=row.id, name=row.name, city=row.city, timezone=row.timezone)


@query
async def list_venues(session: AsyncSession) -> list[VenueView]:
    stmt = sa.select(venue_t.c.id, venue_t.c.name, venue_t.c.city, venue_t.c.timezone).order_by(
        venue_t.c.id
    )
    return [_venue(row) for row in await session.execute(stmt)]


async def _require_venue(session: AsyncSession, venue_id: int) -> VenueView:
    stmt = sa.select(venue_t.c.id, venue_t.c.name, venue_t.c.city, venue_t.c.timezone).where(
        venue_t.c.id == venue_id
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        raise not_found("Venue", venue_id, field="venue_id")
    return _venue(row)


@query
async def get_venue(session: AsyncSession, *, venue_id: int) -> VenueView:
    return await _require_venue(session, venue_id)


@query
async def list_venue_sections(session: AsyncSession, *, venue_id: int) -> list[SectionView]:
    await _require_venue(session, venue_id)
    stmt = (
        sa.select(section_t)
        .where(section_t.c.venue_id == venue_id)
        .order_by(section_t.c.position, section_t.c.id)
    )
    return [
        SectionView(
            id=row.id,
            venue_id=row.venue_id,
            name=row.name,
            kind=SectionKind(row.kind),
            capacity=row.capacity,
            position=row.position,
        )
        for row in await session.execute(stmt)
    ]


def _event_select() -> sa.Select[Any]:
    return sa.select(
        event_t.c.id,
        event_t.c.name,
        event_t.c.venue_id,
        venue_t.c.name.label("venue_name"),
        event_t.c.starts_at,
        event_t.c.currency,
    ).join(venue_t, venue_t.c.id == event_t.c.venue_id)


def _event(row: sa.Row[Any]) -> EventView:
    return EventView(
        id=row.id,
        name=row.name,
        venue_id=row.venue_id,
        venue_name=row.venue_name,
        starts_at=row.starts_at,
        currency=row.currency,
    )


@query
async def list_events(
    session: AsyncSession,
    *,
    venue_id: int | None = None,
    starts_after: datetime | None = None,
    starts_before: datetime | None = None,
) -> list[EventView]:
    stmt = _event_select().order_by(event_t.c.starts_at, event_t.c.id)
    if venue_id is not None:
        stmt = stmt.where(event_t.c.venue_id == venue_id)
    if starts_after is not None:
        stmt = stmt.where(event_t.c.starts_at >= starts_after)
    if starts_before is not None:
        stmt = stmt.where(event_t.c.starts_at < starts_before)
    return [_event(row) for row in await session.execute(stmt)]


async def _require_event(session: AsyncSession, event_id: int) -> EventView:
    row = (await session.execute(_event_select().where(event_t.c.id == event_id))).one_or_none()
    if row is None:
        raise not_found("Event", event_id, field="event_id")
    return _event(row)


@query
async def get_event(session: AsyncSession, *, event_id: int) -> EventView:
    return await _require_event(session, event_id)


@query
async def list_price_levels(session: AsyncSession, *, event_id: int) -> list[PriceLevelView]:
    await _require_event(session, event_id)
    stmt = (
        sa.select(price_level_t.c.id, price_level_t.c.name, price_level_t.c.position)
        .where(price_level_t.c.event_id == event_id)
        .order_by(price_level_t.c.position, price_level_t.c.id)
    )
    return [
        PriceLevelView(id=r.id, name=r.name, position=r.position)
        for r in await session.execute(stmt)
    ]


@query
async def list_event_sections(
    session: AsyncSession, *, event_id: int, now: datetime
) -> list[EventSectionView]:
    event = await _require_event(session, event_id)
    available = (
        sa.select(
            event_seat_t.c.section_id,
            sa.func.count().label("available_count"),
        )
        .where(event_seat_t.c.event_id == event_id, seat_is_free(now))
        .group_by(event_seat_t.c.section_id)
        .subquery()
    )
    stmt = (
        sa.select(
            event_section_t,
            sa.func.coalesce(available.c.available_count, 0).label("available_count"),
        )
        .outerjoin(available, available.c.section_id == event_section_t.c.section_id)
        .where(event_section_t.c.event_id == event_id)
        .order_by(event_section_t.c.position, event_section_t.c.section_id)
    )
    return [
        EventSectionView(
            id=row.section_id,
            event_id=event_id,
            venue_id=event.venue_id,
            name=row.name,
            kind=SectionKind(row.kind),
            capacity=row.capacity,
            position=row.position,
            available_count=row.available_count,
        )
        for row in await session.execute(stmt)
    ]


@query
async def list_section_seats(
    session: AsyncSession, *, event_id: int, section_id: int, now: datetime
) -> list[SeatView]:
    """The seat map of one section: every seat with its live status and its price options."""
    await _require_event(session, event_id)
    section_exists = await session.scalar(
        sa.select(sa.literal(1)).where(
            event_section_t.c.event_id == event_id, event_section_t.c.section_id == section_id
        )
    )
    if section_exists is None:
        raise not_found("Section", section_id, field="section_id")

    prices: dict[int, list[PriceOptionView]] = defaultdict(list)
    price_stmt = (
        sa.select(price_t.c.seat_id, price_level_t.c.id, price_level_t.c.name, price_t.c.amount)
        .join(price_level_t, price_level_t.c.id == price_t.c.price_level_id)
        .join(
            event_seat_t,
            sa.and_(
                event_seat_t.c.event_id == price_t.c.event_id,
                event_seat_t.c.seat_id == price_t.c.seat_id,
            ),
        )
        .where(event_seat_t.c.event_id == event_id, event_seat_t.c.section_id == section_id)
        .order_by(price_t.c.seat_id, price_level_t.c.position, price_level_t.c.id)
    )
    for seat_id, level_id, level_name, amount in await session.execute(price_stmt):
        prices[seat_id].append(PriceOptionView(id=level_id, name=level_name, amount=amount))

    seat_stmt = (
        sa.select(
            event_seat_t.c.seat_id,
            event_seat_t.c.row_id,
            event_seat_t.c.row_name,
            event_seat_t.c.number,
            event_seat_t.c.type,
            event_seat_t.c.status,
            event_seat_t.c.expires_at,
        )
        .where(event_seat_t.c.event_id == event_id, event_seat_t.c.section_id == section_id)
        .order_by(event_seat_t.c.position, event_seat_t.c.seat_id)
    )
    return [
        SeatView(
            event_id=event_id,
            section_id=section_id,
            row_id=row.row_id,
            seat_id=row.seat_id,
            row=row.row_name,
            number=row.number,
            type=SeatType(row.type),
            status=effective_seat_status(row.status, row.expires_at, now),
            price_options=tuple(prices.get(row.seat_id, ())),
        )
        for row in await session.execute(seat_stmt)
    ]

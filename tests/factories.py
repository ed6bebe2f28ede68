"""Test data: venues and events built by a manager through the management commands."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.catalog.queries import list_venue_sections
from ticketing.db import Database, query
from ticketing.domain import Principal, Role, SectionKind
from ticketing.management import commands as management
from ticketing.management.manifest import RowSpec, SectionSpec, row_name
from ticketing.models import event_seat_t, price_level_t

LEVELS = ("Adult", "Child", "VIP")
MANAGER = Principal(user_id=0, email="factory-manager@example.com", role=Role.MANAGER)
"""The caller the factories act as: the management commands check the role, not the account."""


@dataclass(frozen=True)
class EventFixture:
    venue_id: int
    event_id: int
    currency: str
    section_ids: dict[str, int]
    price_ids: dict[str, int]
    seat_ids: list[int]  # seats of the "Main" section, in map order
    ga_seat_ids: list[int]  # places of the general-admission section
    closed_seat_ids: list[int]  # seats of the "Closed" section, which offers no price


@query
async def _describe(
    conn: AsyncConnection, *, event_id: int
) -> tuple[dict[str, int], dict[int, list[int]]]:
    """The event's price levels by name, and its seat ids per section in map order."""
    levels = dict(
        (
            await conn.execute(
                sa.select(price_level_t.c.name, price_level_t.c.id).where(
                    price_level_t.c.event_id == event_id
                )
            )
        ).all()
    )
    seats = (
        await conn.execute(
            sa.select(event_seat_t.c.seat_id, event_seat_t.c.section_id)
            .where(event_seat_t.c.event_id == event_id)
            .order_by(event_seat_t.c.section_id, event_seat_t.c.position)
        )
    ).all()
    by_section: dict[int, list[int]] = {}
    for seat in seats:
        by_section.setdefault(seat.section_id, []).append(seat.seat_id)
    return levels, by_section


async def make_venue(
    db: Database,
    *,
    name: str,
    sections: Sequence[SectionSpec],
    now: datetime,
    city: str = "",
    timezone: str = "UTC",
) -> int:
    """A venue with these sections, in this order."""
    venue = await management.create_venue(
        db, caller=MANAGER, name=name, city=city, timezone=timezone, now=now
    )
    for spec in sections:
        await management.add_section(
            db,
            caller=MANAGER,
            venue_id=venue.id,
            name=spec.name,
            kind=spec.kind,
            rows=[
                management.RowRequest(name=r.name, seat_numbers=r.seat_numbers) for r in spec.rows
            ],
            capacity=spec.capacity if spec.kind is SectionKind.GENERAL_ADMISSION else 0,
        )
    return venue.id


async def publish_event(
    db: Database,
    *,
    venue_id: int,
    name: str,
    starts_at: datetime,
    currency: str,
    price_levels: Sequence[str],
    prices: Mapping[str, Mapping[str, Decimal]],
    now: datetime,
) -> int:
    """An event on sale at the venue; `prices` maps a section name to {level name: amount}
    (sections left out are not on sale)."""
    sections = {s.name: s.id for s in await list_venue_sections(db, venue_id=venue_id)}
    draft = await management.create_event(
        db,
        caller=MANAGER,
        venue_id=venue_id,
        name=name,
        starts_at=starts_at,
        currency=currency,
        price_levels=price_levels,
        prices=[
            management.SectionPrice(section_id=sections[section], price_level=level, amount=amount)
            for section, offer in prices.items()
            for level, amount in offer.items()
        ],
        now=now,
    )
    published = await management.publish_event(db, caller=MANAGER, event_id=draft.id)
    return published.id


async def make_event(
    db: Database,
    *,
    now: datetime,
    rows: int = 2,
    seats_per_row: int = 10,
    ga_capacity: int = 5,
    currency: str = "EUR",
    name: str = "Test Hall",
    timezone: str = "UTC",
) -> EventFixture:
    """A venue with one seated section ("Main"), a GA floor ("Floor") and an unpriced "Closed"
    section, and an event on sale at it with Adult 40.00 / Child 20.00 / VIP 99.50 on Main,
    Adult 30.00 on the floor."""
    row_names = [row_name(i) for i in range(rows)]
    venue_id = await make_venue(
        db,
        name=name,
        sections=[
            SectionSpec(name="Main", rows=[RowSpec.numbered(r, seats_per_row) for r in row_names]),
            SectionSpec(name="Floor", kind=SectionKind.GENERAL_ADMISSION, capacity=ga_capacity),
            SectionSpec(name="Closed", rows=[RowSpec.numbered("A", 2)]),
        ],
        now=now,
        timezone=timezone,
    )
    event_id = await publish_event(
        db,
        venue_id=venue_id,
        name=f"{name} Night",
        starts_at=now + timedelta(days=10),
        currency=currency,
        price_levels=LEVELS,
        prices={
            "Main": {"Adult": Decimal("40.00"), "Child": Decimal("20.00"), "VIP": Decimal("99.50")},
            "Floor": {"Adult": Decimal("30.00")},
        },
        now=now,
    )
    sections = {s.name: s.id for s in await list_venue_sections(db, venue_id=venue_id)}
    levels, seats = await _describe(db, event_id=event_id)
    return EventFixture(
        venue_id=venue_id,
        event_id=event_id,
        currency=currency,
        section_ids=sections,
        price_ids=levels,
        seat_ids=seats[sections["Main"]],
        ga_seat_ids=seats[sections["Floor"]],
        closed_seat_ids=seats[sections["Closed"]],
    )

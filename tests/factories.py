"""Test data: small venues and events built through the same services the product uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.db import Database, query
from ticketing.domain import SectionKind
from ticketing.management.manifest import RowSpec, SectionSpec, create_event, create_venue
from ticketing.models import event_seat_t, price_level_t

LEVELS = ("Adult", "Child", "VIP")


@dataclass(frozen=True)
class EventFixture:
    venue_id: int
    event_id: int
    currency: str
    section_ids: dict[str, int]
    price_ids: dict[str, int]
    seat_ids: list[int]  # seats of the "Main" section, in map order
    ga_seat_ids: list[int]  # places of the general-admission section


@query
async def _describe(
    conn: AsyncConnection, *, event_id: int, section_id: int
) -> tuple[dict[str, int], list[int], list[int]]:
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
            sa.select(event_seat_t.c.seat_id, event_seat_t.c.type, event_seat_t.c.section_id)
            .where(event_seat_t.c.event_id == event_id)
            .order_by(event_seat_t.c.section_id, event_seat_t.c.position)
        )
    ).all()
    designated = [s.seat_id for s in seats if s.section_id == section_id]
    general = [s.seat_id for s in seats if s.type == "general_admission"]
    return levels, designated, general


async def make_event(
    db: Database,
    *,
    now: datetime,
    rows: int = 2,
    seats_per_row: int = 10,
    ga_capacity: int = 5,
    currency: str = "EUR",
    name: str = "Test Hall",
) -> EventFixture:
    """A venue with one seated section ("Main"), a GA floor ("Floor") and an unpriced "Closed"
    section, and an event at it with Adult 40.00 / Child 20.00 / VIP 99.50 on Main, Adult 30.00
    on the floor."""
    from ticketing.catalog.queries import list_venue_sections

    row_names = [chr(ord("A") + i) for i in range(rows)]
    venue_id = await create_venue(
        db,
        name=name,
        sections=[
            SectionSpec(name="Main", rows=[RowSpec.numbered(r, seats_per_row) for r in row_names]),
            SectionSpec(name="Floor", kind=SectionKind.GENERAL_ADMISSION, capacity=ga_capacity),
            SectionSpec(name="Closed", rows=[RowSpec.numbered("A", 2)]),
        ],
        now=now,
    )
    event_id = await create_event(
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
    levels, designated, general = await _describe(
        db, event_id=event_id, section_id=sections["Main"]
    )
    return EventFixture(
        venue_id=venue_id,
        event_id=event_id,
        currency=currency,
        section_ids=sections,
        price_ids=levels,
        seat_ids=designated,
        ga_seat_ids=general,
    )

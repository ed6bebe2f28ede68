"""GraphQL types of the inventory, built from the domain's views (never from table models)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

import strawberry

from schema.common import EventStatus, Money, SeatStatus, SeatType, SectionKind, lookup_id
from schema.context import Info
from ticketing import domain
from ticketing.management import commands as management


@strawberry.type(description="A price level of an event, such as Adult, Child or VIP.")
class PriceLevel:
    id: strawberry.ID = strawberry.field(
        description="The price level's id; pass it as `priceId` to hold a seat at this level."
    )
    name: str = strawberry.field(description='Unique within the event, e.g. "Adult".')
    position: int = strawberry.field(description="Display order.")

    @classmethod
    def of(cls, view: domain.PriceLevelView) -> PriceLevel:
        return cls(id=strawberry.ID(str(view.id)), name=view.name, position=view.position)


@strawberry.type(description="A price level a seat is offered at, with its price.")
class PriceOption:
    id: strawberry.ID = strawberry.field(
        description="The price level's id: pass it as `priceId` to hold the seat."
    )
    name: str = strawberry.field(description='The price level\'s name, e.g. "Child".')
    price: Money = strawberry.field(
        description="The seat's price at this level, in the event's currency."
    )

    @classmethod
    def of(cls, view: domain.PriceOptionView, currency: str) -> PriceOption:
        return cls(
            id=strawberry.ID(str(view.id)),
            name=view.name,
            price=Money(amount=view.amount, currency=currency),
        )


@strawberry.type(description="A point in venue units: x to the right, y downwards (as drawn).")
class Point:
    x: float = strawberry.field(description="Across, in venue units.")
    y: float = strawberry.field(description="Down, in venue units.")

    @classmethod
    def of(cls, point: tuple[float, float]) -> Point:
        return cls(x=point[0], y=point[1])


@strawberry.type(description="A section of a venue's seat-map template.")
class Section:
    id: strawberry.ID = strawberry.field(
        description="The venue template's section id; the same in every event at the venue."
    )
    name: str = strawberry.field(description='Unique within the venue, e.g. "Stalls".')
    kind: SectionKind = strawberry.field(  # type: ignore[valid-type]
        description="Whether the section has designated seats or general-admission places."
    )
    capacity: int = strawberry.field(description="Seats, or places for general admission.")
    position: int = strawberry.field(description="Display order within the venue, lowest first.")

    @classmethod
    def of(cls, view: domain.SectionView) -> Section:
        return cls(
            id=strawberry.ID(str(view.id)),
            name=view.name,
            kind=view.kind,
            capacity=view.capacity,
            position=view.position,
        )


@strawberry.type(description="A place with a seat map: sections, rows and seats.")
class Venue:
    id: strawberry.ID = strawberry.field(
        description="The venue's id, as taken by `venue(id:)` and `events(venueId:)`."
    )
    name: str = strawberry.field(description='Display name, e.g. "Harbour Point Concert Hall".')
    city: str = strawberry.field(description="The city the venue is in.")
    timezone: str = strawberry.field(description="IANA time zone, e.g. Europe/Lisbon.")
    focal_point: Point | None = strawberry.field(
        description="The stage or pitch, which curved rows face; null until a manager gives it."
    )

    @classmethod
    def of(cls, view: domain.VenueView) -> Venue:
        return cls(
            id=strawberry.ID(str(view.id)),
            name=view.name,
            city=view.city,
            timezone=view.timezone,
            focal_point=None if view.focal_point is None else Point.of(view.focal_point),
        )

    @strawberry.field(description="The venue's sections, in display order.")
    async def sections(self, info: Info) -> list[Section]:
        views = await info.context.venue_sections.load(int(self.id))
        return [Section.of(view) for view in views]


@strawberry.type(description="A seat (or general-admission place) of one event, live.")
class EventSeat:
    id: strawberry.ID = strawberry.field(
        description="The venue template's seat id; the same seat in every event at the venue."
    )
    section_id: strawberry.ID = strawberry.field(
        description="The venue template's id of the seat's section."
    )
    row_id: strawberry.ID | None = strawberry.field(
        description="The venue template's id of the seat's row; null for GA places."
    )
    row: str | None = strawberry.field(description='Row label, e.g. "C"; null for GA places.')
    number: str | None = strawberry.field(description="Seat number; null for GA places.")
    type: SeatType = strawberry.field(  # type: ignore[valid-type]
        description="A designated seat (row and number) or a general-admission place."
    )
    # Flat, as the seat map's layout columns: `position` is a display order elsewhere.
    x: float | None = strawberry.field(
        description="Across, in venue units (x to the right); null for general-admission places."
    )
    y: float | None = strawberry.field(
        description="Down, in venue units (y downwards); null for general-admission places."
    )
    status: SeatStatus = strawberry.field(  # type: ignore[valid-type]
        description="Status right now: a lapsed hold or an overdue payment reads AVAILABLE."
    )
    price_options: list[PriceOption] = strawberry.field(
        description="Price levels this seat is offered at; empty when it is not on sale."
    )

    @classmethod
    def of(cls, view: domain.SeatView, currency: str) -> EventSeat:
        return cls(
            id=strawberry.ID(str(view.seat_id)),
            section_id=strawberry.ID(str(view.section_id)),
            row_id=None if view.row_id is None else strawberry.ID(str(view.row_id)),
            row=view.row,
            number=view.number,
            type=view.type,
            x=view.x,
            y=view.y,
            status=view.status,
            price_options=[PriceOption.of(p, currency) for p in view.price_options],
        )


@strawberry.type(description="A row of a seated section in one event.")
class EventRow:
    id: strawberry.ID = strawberry.field(description="The venue template's row id.")
    name: str = strawberry.field(description='Row label, e.g. "C".')
    position: int = strawberry.field(description="Display order within the section, lowest first.")
    event_id: strawberry.Private[int]
    section_id: strawberry.Private[int]
    currency: strawberry.Private[str]

    # A list in the schema, an async iterator to graphql-core: completed in turns (in_turns).
    @strawberry.field(description="The row's seats, in order.", graphql_type=list[EventSeat])
    async def seats(self, info: Info) -> AsyncIterator[EventSeat]:
        views = await info.context.section_seats.load((self.event_id, self.section_id))
        row_id = int(self.id)
        return info.context.in_turns(
            EventSeat.of(v, self.currency) for v in views if v.row_id == row_id
        )


@strawberry.type(description="A section of one event, with live availability.")
class EventSection:
    id: strawberry.ID = strawberry.field(
        description="The venue template's section id; the same in every event at the venue."
    )
    name: str = strawberry.field(description='The section\'s name, e.g. "Stalls".')
    kind: SectionKind = strawberry.field(  # type: ignore[valid-type]
        description="Whether the section has designated seats or general-admission places."
    )
    capacity: int = strawberry.field(
        description="Seats, or places for general admission, whatever their status."
    )
    position: int = strawberry.field(description="Display order within the event, lowest first.")
    available_count: int = strawberry.field(description="Seats on sale right now.")
    event_id: strawberry.Private[int]
    currency: strawberry.Private[str]

    @classmethod
    def of(cls, view: domain.EventSectionView, currency: str) -> EventSection:
        return cls(
            id=strawberry.ID(str(view.id)),
            name=view.name,
            kind=view.kind,
            capacity=view.capacity,
            position=view.position,
            available_count=view.available_count,
            event_id=view.event_id,
            currency=currency,
        )

    @strawberry.field(description="Rows of a seated section, in order (none for GA).")
    async def rows(self, info: Info) -> list[EventRow]:
        views = await info.context.section_rows.load((self.event_id, int(self.id)))
        return [
            EventRow(
                id=strawberry.ID(str(v.id)),
                name=v.name,
                position=v.position,
                event_id=self.event_id,
                section_id=int(self.id),
                currency=self.currency,
            )
            for v in views
        ]

    # A list in the schema, an async iterator to graphql-core: completed in turns (in_turns).
    @strawberry.field(
        description="Every seat or place of the section, optionally by status.",
        graphql_type=list[EventSeat],
    )
    async def seats(
        self,
        info: Info,
        status: Annotated[
            SeatStatus | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only seats with this live status."),
        ] = None,
    ) -> AsyncIterator[EventSeat]:
        views = await info.context.section_seats.load((self.event_id, int(self.id)))
        return info.context.in_turns(
            EventSeat.of(v, self.currency) for v in views if status is None or v.status == status
        )


@strawberry.type(description="An event at a venue, with its own copy of the venue's seat map.")
class Event:
    id: strawberry.ID = strawberry.field(
        description="The event's id, as taken by `event(id:)` and as `eventId` in cart inputs."
    )
    name: str = strawberry.field(description='Title, e.g. "The Midnight Owls: Live in Concert".')
    starts_at: datetime = strawberry.field(description="Start, with offset (UTC).")
    currency: str = strawberry.field(description="ISO 4217 code of every price of the event.")
    status: EventStatus = strawberry.field(  # type: ignore[valid-type]
        description="DRAFT events are seen by managers only; PUBLISHED ones are on sale."
    )
    venue_id: strawberry.Private[int]

    @classmethod
    def of(cls, view: domain.EventView) -> Event:
        return cls(
            id=strawberry.ID(str(view.id)),
            name=view.name,
            starts_at=view.starts_at,
            currency=view.currency,
            status=view.status,
            venue_id=view.venue_id,
        )

    @strawberry.field(description="Where the event takes place.")
    async def venue(self, info: Info) -> Venue:
        await info.context.depend_on_event(int(self.id))
        view = await info.context.venues.load(self.venue_id)
        assert view is not None, "an event's venue always exists"
        return Venue.of(view)

    @strawberry.field(
        description="Managers: seats per section and price level by status, and revenue. "
        "FORBIDDEN for everyone else."
    )
    async def report(self, info: Info) -> EventReport:
        context = info.context
        event, lines, blocked = await context.call(
            management.event_report,
            caller=await context.viewer(),
            event_id=int(self.id),
            now=context.now,
        )
        return EventReport(
            lines=[
                ReportLine(
                    section_id=strawberry.ID(str(line.section_id)),
                    section_name=line.section_name,
                    price_level_id=None
                    if line.price_level_id is None
                    else strawberry.ID(str(line.price_level_id)),
                    price_level_name=line.price_level_name,
                    available=line.available,
                    held=line.held,
                    booked=line.booked,
                    sold=line.sold,
                    revenue=Money(amount=line.revenue, currency=event.currency),
                )
                for line in lines
            ],
            blocked=[
                BlockedCount(section_id=strawberry.ID(str(s)), blocked=n)
                for s, n in sorted(blocked.items())
            ],
        )

    @strawberry.field(description="The event's price levels, in display order.")
    async def price_levels(self, info: Info) -> list[PriceLevel]:
        return [PriceLevel.of(v) for v in await info.context.price_levels.load(int(self.id))]

    @strawberry.field(description="The event's sections with live availability.")
    async def sections(self, info: Info) -> list[EventSection]:
        views = await info.context.event_sections.load(int(self.id))
        return [EventSection.of(v, self.currency) for v in views]

    @strawberry.field(description="One section by the venue template's section id.")
    async def section(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="The venue template section id.")
        ],
    ) -> EventSection | None:
        section_id = lookup_id(id)
        state = (
            None
            if section_id is None
            else await info.context.event_section(int(self.id), section_id)
        )
        if state is None:
            return None
        layout = state.layout
        return EventSection(
            id=strawberry.ID(str(layout.id)),
            name=layout.name,
            kind=layout.kind,
            capacity=layout.capacity,
            position=layout.position,
            available_count=state.available_count,
            event_id=layout.event_id,
            currency=self.currency,
        )


@strawberry.type(description="Relay page information.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when more events follow this page.")
    has_previous_page: bool = strawberry.field(
        description="True when the page was asked for with an `after` cursor."
    )
    start_cursor: str | None = strawberry.field(
        description="Cursor of the page's first event; null when the page is empty."
    )
    end_cursor: str | None = strawberry.field(
        description="Cursor of the page's last event, `after` for the next page; null when empty."
    )


@strawberry.type(description="An event and its cursor.")
class EventEdge:
    cursor: str = strawberry.field(
        description="Opaque; pass it as `after` to get the events that follow this one."
    )
    node: Event = strawberry.field(description="The event at this place in the page.")


@strawberry.type(description="A page of events, soonest first.")
class EventConnection:
    edges: list[EventEdge] = strawberry.field(description="The page's events with their cursors.")
    nodes: list[Event] = strawberry.field(
        description="The page's events without cursors, in the same order as `edges`."
    )
    page_info: PageInfo = strawberry.field(description="Cursors, and whether more events follow.")


@strawberry.type(description="Seats of one section at one price level, and their revenue.")
class ReportLine:
    section_id: strawberry.ID = strawberry.field(description="The section (template id).")
    section_name: str = strawberry.field(description="The section's name.")
    price_level_id: strawberry.ID | None = strawberry.field(description="The price level.")
    price_level_name: str | None = strawberry.field(description="The price level's name.")
    available: int = strawberry.field(
        description="Available seats offering this level (a seat offering two levels counts "
        "under both)."
    )
    held: int = strawberry.field(description="Seats held in carts at this level.")
    booked: int = strawberry.field(description="Seats booked (payment pending) at this level.")
    sold: int = strawberry.field(description="Tickets issued at this level.")
    revenue: Money = strawberry.field(description="Tickets of completed payments.")


@strawberry.type(description="Blocked seats of one section.")
class BlockedCount:
    section_id: strawberry.ID = strawberry.field(description="The section (template id).")
    blocked: int = strawberry.field(description="Seats a manager took off sale.")


@strawberry.type(description="Sales of an event, computed in SQL (managers only).")
class EventReport:
    lines: list[ReportLine] = strawberry.field(
        description="One line per section and price level that has seats at that level."
    )
    blocked: list[BlockedCount] = strawberry.field(description="Sections with blocked seats.")

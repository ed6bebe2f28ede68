"""Manager-only mutations: venues, sections, events, prices, blocked seats, publishing. Each
calls one command of `ticketing.management.commands`, which checks the role (FORBIDDEN)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, TypeVar

import strawberry

from schema.catalog.types import Event, Section, Venue
from schema.common import SectionKind, UserError, attempt, parse_id
from schema.context import Info
from schema.manage.grant_scanner_role import grant_scanner_role
from ticketing import domain
from ticketing.domain import Principal
from ticketing.geometry import SEAT_SPACING, Point, RowLayout
from ticketing.management import commands as management
from ticketing.management.commands import RowRequest, SeatPrice, SectionPrice

T = TypeVar("T")


@strawberry.input(description="A point in venue units: x to the right, y downwards (as drawn).")
class PointInput:
    x: float = strawberry.field(description="Across, in venue units.")
    y: float = strawberry.field(description="Down, in venue units.")

    def point(self) -> Point:
        return (self.x, self.y)


FOCAL_POINT = "The stage or pitch: curved rows face it (a venue has none until given)."


@strawberry.input(description="A new venue (add its sections with addSection).")
class CreateVenueInput:
    name: str = strawberry.field(description="Shown to customers, e.g. Riverside Arena.")
    city: str = strawberry.field(default="", description="City, for listings.")
    timezone: str = strawberry.field(default="UTC", description="IANA zone, e.g. Europe/Paris.")
    focal_point: PointInput | None = strawberry.field(default=None, description=FOCAL_POINT)


@strawberry.input(description="What to change of a venue; omitted fields stay.")
class UpdateVenueInput:
    venue_id: strawberry.ID = strawberry.field(description="The venue to change.")
    name: str | None = strawberry.field(default=None, description="New name.")
    city: str | None = strawberry.field(default=None, description="New city.")
    timezone: str | None = strawberry.field(default=None, description="New IANA time zone.")
    focal_point: PointInput | None = strawberry.field(default=None, description=FOCAL_POINT)


@strawberry.input(description="A row: `seatCount` seats numbered 1..n, or explicit `seatNumbers`.")
class RowInput:
    name: str = strawberry.field(description="Row label, unique in the section, e.g. A.")
    seat_count: int | None = strawberry.field(
        default=None, description="Seats numbered 1..n (or give seatNumbers)."
    )
    seat_numbers: list[str] | None = strawberry.field(
        default=None, description="Explicit seat numbers (or give seatCount)."
    )
    positions: list[PointInput] | None = strawberry.field(
        default=None,
        description="Each seat's position, in seat order; otherwise the section's rowLayout "
        "(or the default grid) places the row.",
    )


@strawberry.input(
    description="Positions computed for a section's rows. Straight rows: the first seat of the "
    "first row at `start`, seats along +x every `seatSpacing`, rows along +y every `rowSpacing`, "
    "all turned by `rotation` degrees about `start`. Curved rows (`curveRadius`): row i is an arc "
    "around the venue's focal point of radius `curveRadius + i * rowSpacing`, centred on the "
    "direction of `start`, seats `seatSpacing` apart along it."
)
class RowLayoutInput:
    start: PointInput = strawberry.field(description="Where the first row starts (or points).")
    seat_spacing: float = strawberry.field(
        default=SEAT_SPACING, description="Between two seats of a row."
    )
    row_spacing: float = strawberry.field(default=SEAT_SPACING, description="Between two rows.")
    curve_radius: float | None = strawberry.field(
        default=None, description="Curved rows: the first row's distance to the focal point."
    )
    rotation: float = strawberry.field(default=0.0, description="Straight rows: degrees.")

    def layout(self) -> RowLayout:
        return RowLayout(
            start=self.start.point(),
            seat_spacing=self.seat_spacing,
            row_spacing=self.row_spacing,
            curve_radius=self.curve_radius,
            rotation=self.rotation,
        )


@strawberry.input(description="A seated section (rows) or a general-admission one (capacity).")
class AddSectionInput:
    venue_id: strawberry.ID = strawberry.field(description="The venue.")
    name: str = strawberry.field(description="Unique in the venue, e.g. East Stand.")
    kind: SectionKind = strawberry.field(  # type: ignore[valid-type]
        description="SEATED (rows) or GENERAL_ADMISSION (capacity)."
    )
    rows: list[RowInput] = strawberry.field(
        default_factory=list, description="Seated: the rows, front to back."
    )
    capacity: int = strawberry.field(default=0, description="General admission: places.")
    row_layout: RowLayoutInput | None = strawberry.field(
        default=None, description="Seated: where rows without positions go (default: a grid)."
    )
    outline: list[PointInput] | None = strawberry.field(
        default=None,
        description="The section's shape, a polygon holding its seats (default: a rectangle "
        "around them).",
    )
    label: PointInput | None = strawberry.field(
        default=None, description="Where the name is drawn (default: above the outline)."
    )


@strawberry.input(description="A section of a venue no event uses yet.")
class RemoveSectionInput:
    section_id: strawberry.ID = strawberry.field(description="The venue section to delete.")


@strawberry.input(description="The price of every seat of a section at one price level.")
class SectionPriceInput:
    section_id: strawberry.ID = strawberry.field(
        description="A section of the event (the venue template's id)."
    )
    price_level: str = strawberry.field(description="Price level name, e.g. Adult.")
    amount: Decimal | None = strawberry.field(description="Null withdraws the offer.")


@strawberry.input(description="One seat's own price at a level, overriding its section's.")
class SeatPriceInput:
    seat_id: strawberry.ID = strawberry.field(
        description="A seat of the event (the venue template's id)."
    )
    price_level: str = strawberry.field(description="Price level name; a new name adds the level.")
    amount: Decimal | None = strawberry.field(description="Null withdraws the offer.")


@strawberry.input(description="A draft event at a venue, with its own copy of the seat map.")
class CreateEventInput:
    venue_id: strawberry.ID = strawberry.field(description="Whose seat map the event copies.")
    name: str = strawberry.field(description="Title of the event.")
    starts_at: datetime = strawberry.field(description="Start, with offset.")
    currency: str = strawberry.field(description="ISO 4217, e.g. EUR.")
    price_levels: list[str] = strawberry.field(description="Names in display order.")
    prices: list[SectionPriceInput] = strawberry.field(
        description="Per section and level; sections without a price are not on sale."
    )
    seat_prices: list[SeatPriceInput] = strawberry.field(
        default_factory=list, description="Per seat, overriding its section's price at that level."
    )


@strawberry.input(description="What to change of an event; omitted fields stay.")
class UpdateEventInput:
    event_id: strawberry.ID = strawberry.field(description="The event to change.")
    name: str | None = strawberry.field(default=None, description="New title.")
    starts_at: datetime | None = strawberry.field(
        default=None, description="New start, with offset."
    )


@strawberry.input(description="Prices to set (or withdraw); new level names add levels.")
class SetPricesInput:
    event_id: strawberry.ID = strawberry.field(description="The event.")
    prices: list[SectionPriceInput] = strawberry.field(
        default_factory=list, description="Per section and level."
    )
    seat_prices: list[SeatPriceInput] = strawberry.field(
        default_factory=list, description="Per seat, overriding the section."
    )


@strawberry.input(description="Seats of an event (all of them change, or none).")
class SeatsInput:
    event_id: strawberry.ID = strawberry.field(description="The event.")
    seat_ids: list[strawberry.ID] = strawberry.field(
        description="Seats of the event (the venue template's ids)."
    )


@strawberry.input(description="An event.")
class EventInput:
    event_id: strawberry.ID = strawberry.field(description="The event.")


@strawberry.type(description="The venue, or why nothing changed.")
class VenuePayload:
    venue: Venue | None = strawberry.field(description="The venue after the change; null on error.")
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing changed; empty on success."
    )


@strawberry.type(description="The section, or why nothing changed.")
class SectionPayload:
    section: Section | None = strawberry.field(
        description="The section (as it was, when removed); null on error."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing changed; empty on success."
    )


@strawberry.type(description="The event, or why nothing changed.")
class EventPayload:
    event: Event | None = strawberry.field(description="The event after the change; null on error.")
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing changed; empty on success."
    )


@strawberry.type(description="The seats that changed, or why none did.")
class SeatsPayload:
    seat_ids: list[strawberry.ID] = strawberry.field(
        description="The seats that changed; empty on error."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing changed; empty on success."
    )


def _point(point: PointInput | None) -> Point | None:
    return None if point is None else point.point()


def _section_prices(prices: list[SectionPriceInput]) -> list[SectionPrice]:
    return [
        SectionPrice(
            section_id=parse_id(p.section_id, field="prices"),
            price_level=p.price_level,
            amount=p.amount,
        )
        for p in prices
    ]


def _seat_prices(prices: list[SeatPriceInput]) -> list[SeatPrice]:
    return [
        SeatPrice(
            seat_id=parse_id(p.seat_id, field="seat_prices"),
            price_level=p.price_level,
            amount=p.amount,
        )
        for p in prices
    ]


async def _as_caller(
    info: Info, call: Callable[[Principal | None], Awaitable[T]]
) -> tuple[T | None, list[UserError]]:
    """Run one management command as the viewer; its refusals (FORBIDDEN first) and input
    errors become user errors."""

    async def run() -> T:
        return await call(await info.context.viewer())

    return await attempt(run())


def _venue(view: domain.VenueView | None, errors: list[UserError]) -> VenuePayload:
    return VenuePayload(venue=None if view is None else Venue.of(view), user_errors=errors)


def _section(view: domain.SectionView | None, errors: list[UserError]) -> SectionPayload:
    return SectionPayload(section=None if view is None else Section.of(view), user_errors=errors)


def _event(view: domain.EventView | None, errors: list[UserError]) -> EventPayload:
    return EventPayload(event=None if view is None else Event.of(view), user_errors=errors)


def _seats(seat_ids: list[int] | None, errors: list[UserError]) -> SeatsPayload:
    ids = [strawberry.ID(str(s)) for s in seat_ids or ()]
    return SeatsPayload(seat_ids=ids, user_errors=errors)


WHAT = strawberry.argument(description="What to change.")


async def create_venue(info: Info, input: Annotated[CreateVenueInput, WHAT]) -> VenuePayload:
    call = info.context.call
    return _venue(
        *await _as_caller(
            info,
            lambda caller: call(
                management.create_venue,
                caller=caller,
                name=input.name,
                city=input.city,
                timezone=input.timezone,
                focal_point=_point(input.focal_point),
                now=info.context.now,
            ),
        )
    )


async def update_venue(info: Info, input: Annotated[UpdateVenueInput, WHAT]) -> VenuePayload:
    call = info.context.call
    return _venue(
        *await _as_caller(
            info,
            lambda caller: call(
                management.update_venue,
                caller=caller,
                venue_id=parse_id(input.venue_id, field="venue_id"),
                name=input.name,
                city=input.city,
                timezone=input.timezone,
                focal_point=_point(input.focal_point),
            ),
        )
    )


async def add_section(info: Info, input: Annotated[AddSectionInput, WHAT]) -> SectionPayload:
    call = info.context.call
    rows = [
        RowRequest(
            name=r.name,
            seat_count=r.seat_count,
            seat_numbers=r.seat_numbers,
            positions=None if r.positions is None else [p.point() for p in r.positions],
        )
        for r in input.rows
    ]
    return _section(
        *await _as_caller(
            info,
            lambda caller: call(
                management.add_section,
                caller=caller,
                venue_id=parse_id(input.venue_id, field="venue_id"),
                name=input.name,
                kind=domain.SectionKind(input.kind),
                rows=rows,
                capacity=input.capacity,
                row_layout=None if input.row_layout is None else input.row_layout.layout(),
                outline=None if input.outline is None else [p.point() for p in input.outline],
                label=_point(input.label),
            ),
        )
    )


async def remove_section(info: Info, input: Annotated[RemoveSectionInput, WHAT]) -> SectionPayload:
    call = info.context.call
    return _section(
        *await _as_caller(
            info,
            lambda caller: call(
                management.remove_section,
                caller=caller,
                section_id=parse_id(input.section_id, field="section_id"),
            ),
        )
    )


async def create_event(info: Info, input: Annotated[CreateEventInput, WHAT]) -> EventPayload:
    call = info.context.call
    return _event(
        *await _as_caller(
            info,
            lambda caller: call(
                management.create_event,
                caller=caller,
                venue_id=parse_id(input.venue_id, field="venue_id"),
                name=input.name,
                starts_at=input.starts_at,
                currency=input.currency,
                price_levels=input.price_levels,
                prices=_section_prices(input.prices),
                seat_prices=_seat_prices(input.seat_prices),
                now=info.context.now,
            ),
        )
    )


async def update_event(info: Info, input: Annotated[UpdateEventInput, WHAT]) -> EventPayload:
    call = info.context.call
    return _event(
        *await _as_caller(
            info,
            lambda caller: call(
                management.update_event,
                caller=caller,
                event_id=parse_id(input.event_id, field="event_id"),
                name=input.name,
                starts_at=input.starts_at,
            ),
        )
    )


async def set_prices(info: Info, input: Annotated[SetPricesInput, WHAT]) -> EventPayload:
    call = info.context.call
    return _event(
        *await _as_caller(
            info,
            lambda caller: call(
                management.set_prices,
                caller=caller,
                event_id=parse_id(input.event_id, field="event_id"),
                prices=_section_prices(input.prices),
                seat_prices=_seat_prices(input.seat_prices),
            ),
        )
    )


async def block_seats(info: Info, input: Annotated[SeatsInput, WHAT]) -> SeatsPayload:
    return await _change_seats(info, input, blocked=True)


async def unblock_seats(info: Info, input: Annotated[SeatsInput, WHAT]) -> SeatsPayload:
    return await _change_seats(info, input, blocked=False)


async def _change_seats(info: Info, input: SeatsInput, *, blocked: bool) -> SeatsPayload:
    call = info.context.call
    return _seats(
        *await _as_caller(
            info,
            lambda caller: call(
                management.set_blocked,
                caller=caller,
                event_id=parse_id(input.event_id, field="event_id"),
                seat_ids=[parse_id(s, field="seat_ids") for s in input.seat_ids],
                blocked=blocked,
                now=info.context.now,
            ),
        )
    )


async def publish_event(info: Info, input: Annotated[EventInput, WHAT]) -> EventPayload:
    call = info.context.call
    return _event(
        *await _as_caller(
            info,
            lambda caller: call(
                management.publish_event,
                caller=caller,
                event_id=parse_id(input.event_id, field="event_id"),
            ),
        )
    )


async def cancel_event(info: Info, input: Annotated[EventInput, WHAT]) -> EventPayload:
    call = info.context.call
    return _event(
        *await _as_caller(
            info,
            lambda caller: call(
                management.cancel_event,
                caller=caller,
                event_id=parse_id(input.event_id, field="event_id"),
            ),
        )
    )


@strawberry.type
class ManageMutation:
    create_venue = strawberry.mutation(resolver=create_venue, description="Managers: a venue.")
    update_venue = strawberry.mutation(resolver=update_venue, description="Managers.")
    add_section = strawberry.mutation(
        resolver=add_section,
        description="Managers: a section with its rows and seats in one call (or a capacity).",
    )
    remove_section = strawberry.mutation(
        resolver=remove_section, description="Managers: only while no event uses the section."
    )
    create_event = strawberry.mutation(
        resolver=create_event,
        description="Managers: a DRAFT event with a copy of the venue's seat map and prices.",
    )
    update_event = strawberry.mutation(resolver=update_event, description="Managers.")
    set_prices = strawberry.mutation(
        resolver=set_prices,
        description="Managers: seats already held, booked or sold keep their price.",
    )
    block_seats = strawberry.mutation(
        resolver=block_seats, description="Managers: take available seats off sale."
    )
    unblock_seats = strawberry.mutation(
        resolver=unblock_seats, description="Managers: put blocked seats back on sale."
    )
    publish_event = strawberry.mutation(
        resolver=publish_event, description="Managers: a draft goes on sale, seen by everyone."
    )
    cancel_event = strawberry.mutation(
        resolver=cancel_event, description="Managers: no more holds or bookings."
    )
    grant_scanner_role = strawberry.mutation(
        resolver=grant_scanner_role,
        description="Managers: a customer's account may check tickets in (role SCANNER).",
    )

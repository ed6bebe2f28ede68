"""Wire shapes of the REST URL set (snake_case, amounts as decimal strings)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated

import orjson
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from rest.deps import MAX_ID
from ticketing.domain import (
    CartStatus,
    CartView,
    EventSectionView,
    EventView,
    PaymentStatus,
    PaymentView,
    PriceOptionView,
    SeatMapView,
    SeatStatus,
    SeatType,
    SeatView,
    SectionKind,
    SectionView,
    VenueView,
)

Amount = Annotated[
    Decimal,
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json"),
    Field(description='Exact decimal amount as a string, e.g. "49.50".', examples=["49.50"]),
]
# strict: `true` or "1" is not an id (JSON ids are integers).
BodyId = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class VenueOut(Out):
    id: int
    name: str
    city: str
    timezone: str

    @classmethod
    def of(cls, view: VenueView) -> VenueOut:
        return cls.model_validate(view)


class SectionOut(Out):
    id: int
    venue_id: int
    name: str
    kind: SectionKind
    capacity: int = Field(description="Seats (seated) or places (general admission).")
    position: int

    @classmethod
    def of(cls, view: SectionView) -> SectionOut:
        return cls.model_validate(view)


class EventSectionOut(SectionOut):
    event_id: int
    available_count: int = Field(description="Seats on sale right now.")

    @classmethod
    def of_event(cls, view: EventSectionView) -> EventSectionOut:
        return cls.model_validate(view)


class EventOut(Out):
    id: int
    name: str
    venue_id: int
    venue_name: str
    starts_at: datetime = Field(description="ISO 8601 with offset (UTC).")
    currency: str = Field(description="ISO 4217 code.", examples=["EUR"])

    @classmethod
    def of(cls, view: EventView) -> EventOut:
        return cls.model_validate(view)


class SeatStatusOut(BaseModel):
    id: int = Field(description="1 available, 2 held, 3 booked, 4 sold.")
    name: str


class PriceOptionOut(Out):
    id: int = Field(description="Price level id: pass it as `price_id` to hold the seat.")
    name: str
    amount: Amount


class SeatOut(BaseModel):
    section_id: int
    row_id: int | None
    seat_id: int
    row: str | None
    number: str | None
    type: SeatType
    status: SeatStatusOut
    price_options: list[PriceOptionOut]

    @staticmethod
    def encode_list(views: Sequence[SeatView]) -> bytes:
        """The seat list as JSON bytes, straight from the views (no model object per seat):
        seats of a section mostly share one price offer, encoded once and reused."""
        offers: dict[tuple[PriceOptionView, ...], list[dict[str, object]]] = {}
        seats = []
        for view in views:
            options = offers.get(view.price_options)
            if options is None:
                options = offers[view.price_options] = [
                    {"id": p.id, "name": p.name, "amount": f"{p.amount:.2f}"}
                    for p in view.price_options
                ]
            seats.append(
                {
                    "section_id": view.section_id,
                    "row_id": view.row_id,
                    "seat_id": view.seat_id,
                    "row": view.row,
                    "number": view.number,
                    "type": view.type.value,
                    "status": _STATUS_OUT[view.status],
                    "price_options": options,
                }
            )
        return orjson.dumps(seats)


_STATUS_OUT = {status: {"id": int(status), "name": status.label} for status in SeatStatus}


class AddSeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: BodyId
    seat_id: BodyId = Field(description="Template seat id, as listed by the event's seat routes.")
    price_id: BodyId = Field(description="One of the seat's `price_options[].id`.")


class AddGeneralAdmissionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: BodyId
    section_id: BodyId = Field(description="A general-admission section of the event.")
    price_id: BodyId
    quantity: int = Field(strict=True, ge=1, le=1000, description="Places to hold, all or none.")


class CartItemOut(Out):
    event_id: int
    seat_id: int
    section_id: int
    row_id: int | None
    price_id: int
    price_name: str
    amount: Amount
    hold_expires_at: datetime | None = Field(description="When this seat's hold lapses.")


class CartOut(BaseModel):
    cart_id: uuid.UUID
    status: CartStatus
    items: list[CartItemOut]
    total_amount: Amount
    currency: str | None
    expires_at: datetime | None = Field(
        description="Open cart: its earliest hold's expiry. Booked cart: the payment deadline."
    )
    payment_id: uuid.UUID | None

    @classmethod
    def of(cls, view: CartView) -> CartOut:
        return cls(
            cart_id=view.cart_id,
            status=view.status,
            items=[CartItemOut.model_validate(item) for item in view.items],
            total_amount=view.total_amount,
            currency=view.currency,
            expires_at=view.expires_at,
            payment_id=view.payment_id,
        )


class BookingOut(BaseModel):
    payment_id: uuid.UUID
    cart_id: uuid.UUID
    status: PaymentStatus
    total_amount: Amount
    currency: str
    expires_at: datetime = Field(description="Complete the payment before this instant.")

    @classmethod
    def of(cls, view: PaymentView) -> BookingOut:
        return cls(
            payment_id=view.payment_id,
            cart_id=view.cart_id,
            status=view.status,
            total_amount=view.total_amount,
            currency=view.currency,
            expires_at=view.expires_at,
        )


class TicketOut(BaseModel):
    ticket_id: uuid.UUID
    event_id: int
    event_name: str
    starts_at: datetime
    venue_name: str
    section: str
    row: str | None
    number: str | None
    seat_id: int
    price_name: str
    amount: Amount
    currency: str


class PaymentOut(BookingOut):
    created_at: datetime
    finalized_at: datetime | None
    tickets: list[TicketOut] = Field(description="Issued when the payment completes.")

    @classmethod
    def of(cls, view: PaymentView) -> PaymentOut:
        return cls(
            payment_id=view.payment_id,
            cart_id=view.cart_id,
            status=view.status,
            total_amount=view.total_amount,
            currency=view.currency,
            expires_at=view.expires_at,
            created_at=view.created_at,
            finalized_at=view.finalized_at,
            tickets=[
                TicketOut(
                    ticket_id=t.id,
                    event_id=t.event_id,
                    event_name=t.event_name,
                    starts_at=t.starts_at,
                    venue_name=t.venue_name,
                    section=t.section_name,
                    row=t.row,
                    number=t.number,
                    seat_id=t.seat_id,
                    price_name=t.price_name,
                    amount=t.amount,
                    currency=t.currency,
                )
                for t in view.tickets
            ],
        )


class HealthOut(BaseModel):
    status: str = Field(examples=["ok"])


SEAT_COLUMNS = ("seat_id", "section_id", "row_id", "row", "number", "status", "price_set")


class PriceSetEntry(BaseModel):
    price_id: int
    amount: Amount


class MapSectionOut(BaseModel):
    id: int
    name: str
    kind: SectionKind
    capacity: int
    available_count: int


class SeatMapOut(BaseModel):
    """A whole event in one compact document: one row per seat, prices shared as sets."""

    event_id: int
    currency: str
    price_levels: list[PriceOptionOut] = Field(
        description="The event's price levels (`amount` absent: it is per price set)."
    )
    sections: list[MapSectionOut]
    price_sets: list[list[PriceSetEntry]] = Field(
        description="Distinct price offers; a seat's `price_set` indexes this list (0: no price)."
    )
    seat_columns: list[str] = Field(
        description=f"Names of the values of each `seats` row: {', '.join(SEAT_COLUMNS)}.",
        examples=[list(SEAT_COLUMNS)],
    )
    seats: list[list[int | str | None]] = Field(
        description="One row per seat in map order; `status` is 1 available, 2 held, "
        "3 booked, 4 sold.",
        examples=[[[101, 5, 12, "A", "1", 1, 1]]],
    )

    @staticmethod
    def encode(view: SeatMapView) -> bytes:
        """orjson straight from the view: no model object per seat on this hot path."""
        return orjson.dumps(
            {
                "event_id": view.event.id,
                "currency": view.event.currency,
                "price_levels": [
                    {"id": level.id, "name": level.name} for level in view.price_levels
                ],
                "sections": [
                    {
                        "id": s.id,
                        "name": s.name,
                        "kind": s.kind.value,
                        "capacity": s.capacity,
                        "available_count": s.available_count,
                    }
                    for s in view.sections
                ],
                "price_sets": [
                    [{"price_id": level, "amount": f"{amount:.2f}"} for level, amount in offer]
                    for offer in view.price_sets
                ],
                "seat_columns": SEAT_COLUMNS,
                "seats": [
                    (s.seat_id, s.section_id, s.row_id, s.row, s.number, int(s.status), s.price_set)
                    for s in view.seats
                ],
            }
        )

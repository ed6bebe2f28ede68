"""Wire shapes of the REST URL set (snake_case, amounts as decimal strings)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from rest.seatmaps import SEAT_COLUMNS
from ticketing.accounts import accounts
from ticketing.domain import (
    CartStatus,
    CartView,
    EventSectionView,
    EventStatus,
    EventView,
    PaymentStatus,
    PaymentView,
    Role,
    SeatType,
    SectionKind,
    SectionView,
    TokenView,
    UserView,
    VenueView,
)
from ticketing.inputs import MAX_ID
from ticketing.tickets.checkin import Admission
from ticketing.tickets.payload import MAX_PAYLOAD as MAX_TICKET_PAYLOAD

Amount = Annotated[
    Decimal,
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json"),
    Field(description='Exact decimal amount as a string, e.g. "49.50".', examples=["49.50"]),
]


def _whole_number(value: object) -> object:
    """1.0 is an integer to JSON Schema (and how some JSON encoders write one); 1.5 is not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WholeNumber = BeforeValidator(_whole_number)
# strict: `true` or "1" is not an id (JSON ids are numbers).
BodyId = Annotated[int, Field(strict=True, ge=1, le=MAX_ID), WholeNumber]
# [x, y] in venue units. A list, not a tuple: the published document gave a tuple an `items`
# array, which JSON Schema 2020-12 validators (the fuzz tests') refuse.
Position = Annotated[list[float], Field(min_length=2, max_length=2)]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class VenueOut(Out):
    id: int
    name: str
    city: str
    timezone: str
    focal_point: Position | None = Field(
        description="The stage or pitch as [x, y] in venue units, when given."
    )

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
    status: EventStatus = Field(description="draft (managers only), published, cancelled.")

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
    x: float | None = Field(
        description="Across, in venue units (x to the right); null for general-admission places."
    )
    y: float | None = Field(
        description="Down, in venue units (y downwards); null for general-admission places."
    )
    status: SeatStatusOut
    price_options: list[PriceOptionOut]


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
    quantity: Annotated[int, WholeNumber] = Field(
        strict=True,
        description="Places to hold, all or none (at least 1, at most the seats a cart may hold).",
        json_schema_extra={"minimum": 1},  # the service's rule, stated
    )


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


class CheckInIn(BaseModel):
    payload: str = Field(
        min_length=1,
        max_length=MAX_TICKET_PAYLOAD,
        description="The text of the ticket's QR code, as scanned.",
    )


class AdmissionOut(BaseModel):
    """A ticket admitted by this scan: what the door tells its holder."""

    ticket_id: uuid.UUID
    event_id: int
    event_name: str
    section: str
    row: str | None = Field(description="Null for a general-admission place.")
    seat: str | None = Field(description="The seat number; null for a general-admission place.")
    price_level: str = Field(description='The price level paid, e.g. "Child".')
    checked_in_at: datetime

    @classmethod
    def of(cls, admission: Admission) -> AdmissionOut:
        return cls(
            ticket_id=admission.ticket_id,
            event_id=admission.event_id,
            event_name=admission.event_name,
            section=admission.section,
            row=admission.row,
            seat=admission.seat,
            price_level=admission.price_level,
            checked_in_at=admission.checked_in_at,
        )


class HealthOut(BaseModel):
    status: str = Field(examples=["ok"])
    payments: Literal["test", "signed"] = Field(
        description="`signed`: only the payment provider's signed callbacks finish payments. "
        "`test`: anyone may (no TICKETING_PAYMENTS__SECRET; for demos and tests)."
    )


class PriceLevelOut(BaseModel):
    id: int
    name: str


class PriceSetEntry(BaseModel):
    price_id: int
    amount: Amount


class MapSectionOut(BaseModel):
    id: int
    name: str
    kind: SectionKind
    capacity: int
    outline: list[Position] | None = Field(
        description="The section's shape: a polygon of [x, y] points in venue units (x to the "
        "right, y downwards)."
    )
    label: Position | None = Field(description="Where the section's name is drawn.")
    available_count: int = Field(description="Seats on sale right now.")
    price_sets: list[list[PriceSetEntry]] = Field(
        description="Distinct price offers in this section; a seat's `price_set` indexes this "
        "list (0 is the empty offer: the seat is not on sale)."
    )
    seats: list[list[int | float | str | None]] = Field(
        description="One row per seat in map order, values named by `seat_columns`; `status` is "
        "1 available, 2 held, 3 booked, 4 sold; `x`, `y` place the seat in venue units (null "
        "for general-admission places).",
        examples=[[[101, 12, "A", "1", 1, 1, 10.5, 4.0]]],
    )


class SeatMapOut(BaseModel):
    """A whole event in one compact document: one row of values per seat, grouped by section.

    Served from memory and always fresh; the `ETag` changes with every status change, so a client
    polling with `If-None-Match` gets `304 Not Modified` until something changed.
    """

    event_id: int
    currency: str
    version: str = Field(
        description="Names this state of the map; GraphQL's `seatChanges(since:)` takes it."
    )
    price_levels: list[PriceLevelOut]
    seat_columns: list[str] = Field(
        description=f"Names of the values of each seat row: {', '.join(SEAT_COLUMNS)}.",
        examples=[list(SEAT_COLUMNS)],
    )
    focal_point: Position | None = Field(
        description="The venue's stage or pitch as [x, y], when the venue has one."
    )
    sections: list[MapSectionOut]


class RegisterIn(BaseModel):
    # The rules are the service's; the document states them for clients (and fuzzers).
    email: str = Field(
        max_length=254,
        examples=["fan@example.com"],
        json_schema_extra={"pattern": f"^{accounts.EMAIL_PATTERN}$"},
    )
    password: str = Field(
        max_length=accounts.MAX_PASSWORD,
        description=f"At least {accounts.MIN_PASSWORD} characters.",
        json_schema_extra={"minLength": accounts.MIN_PASSWORD},
    )


class UserOut(Out):
    id: int
    email: str
    role: Role
    created_at: datetime

    @classmethod
    def of(cls, view: UserView) -> UserOut:
        return cls.model_validate(view)


class TokenOut(BaseModel):
    """OAuth 2 token response (RFC 6749 section 5.1)."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth 2 token type, not a secret)
    expires_in: int = Field(description="Seconds until the token expires.")
    expires_at: datetime

    @classmethod
    def of(cls, view: TokenView, *, now: datetime) -> TokenOut:
        return cls(
            access_token=view.access_token,
            expires_in=max(0, int((view.expires_at - now).total_seconds())),
            expires_at=view.expires_at,
        )


class OrdersOut(BaseModel):
    carts: list[CartOut] = Field(description="The customer's carts, newest first.")
    payments: list[PaymentOut] = Field(
        description="The customer's payments, newest first; completed ones list their tickets."
    )

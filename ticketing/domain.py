"""The seat, cart and payment state machines, and the values services hand to the API doors."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ticketing.errors import ErrorCode, TicketingError


class SeatStatus(enum.IntEnum):
    """A seat's place in its life; the ids are part of the public API."""

    AVAILABLE = 1
    HELD = 2
    BOOKED = 3
    SOLD = 4
    BLOCKED = 5
    """Not for sale (a camera position, a broken seat): set and lifted by event managers."""

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def expires(self) -> bool:
        """Held and booked seats fall back to available when their deadline passes."""
        return self in (SeatStatus.HELD, SeatStatus.BOOKED)


_SEAT_STATUS_BY_ID = {int(status): status for status in SeatStatus}


def effective_seat_status(status: int, expires_at: datetime | None, now: datetime) -> SeatStatus:
    """The status a reader must see: a lapsed hold or an expired payment frees the seat."""
    seat_status = _SEAT_STATUS_BY_ID.get(status)  # a dict lookup: this runs once per seat
    if seat_status is None:
        raise ValueError(f"{status!r} is not a seat status")
    if seat_status.expires and expires_at is not None and expires_at <= now:
        return SeatStatus.AVAILABLE
    return seat_status


class SectionKind(enum.StrEnum):
    SEATED = "seated"
    GENERAL_ADMISSION = "general_admission"


class SeatType(enum.StrEnum):
    DESIGNATED = "designated"
    GENERAL_ADMISSION = "general_admission"


class EventStatus(enum.StrEnum):
    """DRAFT events are seen by managers only; PUBLISHED are on sale; CANCELLED are not."""

    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class Role(enum.StrEnum):
    CUSTOMER = "customer"
    MANAGER = "manager"
    SCANNER = "scanner"  # checks tickets in at the door


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a signed-in account. Anonymous callers are `None`."""

    user_id: int
    email: str
    role: Role

    @property
    def is_manager(self) -> bool:
        return self.role is Role.MANAGER

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"user:{self.user_id}"


@dataclass(frozen=True, slots=True)
class ProviderSignature:
    """A request that speaks for the payment provider: its `Ticketing-Signature` header (None
    when the request carries none), checked against the payment and outcome it reports."""

    header: str | None


def sees_drafts(viewer: Principal | None) -> bool:
    """Draft events exist for managers only; to everyone else they do not exist."""
    return viewer is not None and viewer.is_manager


class CartStatus(enum.StrEnum):
    """A cart follows its payment: open -> booked -> paid | failed | expired."""

    OPEN = "open"
    BOOKED = "booked"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self is not PaymentStatus.PENDING

    @property
    def cart_status(self) -> CartStatus:
        return {
            PaymentStatus.PENDING: CartStatus.BOOKED,
            PaymentStatus.COMPLETED: CartStatus.PAID,
            PaymentStatus.FAILED: CartStatus.FAILED,
            PaymentStatus.EXPIRED: CartStatus.EXPIRED,
        }[self]


def effective_payment_status(status: str, expires_at: datetime, now: datetime) -> PaymentStatus:
    """A pending payment past its deadline is expired, whether or not anyone has written so."""
    payment_status = PaymentStatus(status)
    if payment_status is PaymentStatus.PENDING and expires_at <= now:
        return PaymentStatus.EXPIRED
    return payment_status


def check_payment_outcome(
    *, current: PaymentStatus, requested: PaymentStatus, payment_id: uuid.UUID
) -> None:
    """Decide whether `requested` may follow `current`; a repeat of the same outcome is allowed.

    Raises the error a client gets for finishing a payment that is already finished otherwise.
    """
    if current is requested or current is PaymentStatus.PENDING:
        return
    if current is PaymentStatus.EXPIRED:
        raise TicketingError(
            ErrorCode.PAYMENT_EXPIRED,
            f"Payment {payment_id} expired; its seats were released. Start a new cart.",
            context={"payment_id": str(payment_id)},
        )
    raise TicketingError(
        ErrorCode.PAYMENT_FINALIZED,
        f"Payment {payment_id} is already {current.value}.",
        context={"payment_id": str(payment_id), "payment_status": current.value},
    )


CENTS = Decimal("0.01")


def money(amount: Decimal | int | str) -> Decimal:
    """Amounts are exact to the cent."""
    return Decimal(amount).quantize(CENTS)


@dataclass(frozen=True, slots=True)
class VenueView:
    id: int
    name: str
    city: str
    timezone: str
    focal_point: tuple[float, float] | None = None
    """The stage or pitch, in venue units (see ticketing.geometry)."""


@dataclass(frozen=True, slots=True)
class SectionView:
    id: int
    venue_id: int
    name: str
    kind: SectionKind
    capacity: int
    position: int


@dataclass(frozen=True, slots=True)
class EventSectionView:
    id: int
    event_id: int
    venue_id: int
    name: str
    kind: SectionKind
    capacity: int
    position: int
    available_count: int


@dataclass(frozen=True, slots=True)
class RowView:
    id: int
    event_id: int
    section_id: int
    name: str
    position: int


@dataclass(frozen=True, slots=True)
class EventView:
    id: int
    name: str
    venue_id: int
    venue_name: str
    starts_at: datetime
    currency: str
    status: EventStatus = EventStatus.PUBLISHED


@dataclass(frozen=True, slots=True)
class PriceLevelView:
    id: int
    name: str
    position: int


@dataclass(frozen=True, slots=True)
class PriceOptionView:
    id: int
    name: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class SeatView:
    event_id: int
    section_id: int
    row_id: int | None
    seat_id: int
    row: str | None
    number: str | None
    type: SeatType
    status: SeatStatus
    price_options: tuple[PriceOptionView, ...]
    x: float | None
    y: float | None
    """The seat's position in venue units (None for general-admission places)."""


@dataclass(frozen=True, slots=True)
class EventSize:
    """What bounds the seats an event can show, known without loading any: each section's kind
    and capacity (its number of seats, fixed when the event is created) and the number of price
    levels, each of which a seat offers at most once."""

    sections: Mapping[int, tuple[SectionKind, int]]
    """Section id -> (kind, capacity)."""
    price_levels: int


@dataclass(frozen=True, slots=True)
class EventsBound:
    """What any page of a given number of events can show at most: the seats of that many of
    the largest events together, and the most price levels of any event it could hold."""

    seats: int
    price_levels: int


@dataclass(frozen=True, slots=True)
class CartItemView:
    event_id: int
    seat_id: int
    section_id: int
    row_id: int | None
    price_id: int
    price_name: str
    amount: Decimal
    currency: str
    hold_expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class CartView:
    cart_id: uuid.UUID
    status: CartStatus
    items: tuple[CartItemView, ...]
    payment_id: uuid.UUID | None = None
    currency: str | None = None
    total_amount: Decimal = field(default=Decimal("0.00"))
    expires_at: datetime | None = None

    @classmethod
    def of(
        cls,
        *,
        cart_id: uuid.UUID,
        status: CartStatus,
        items: Sequence[CartItemView],
        payment_id: uuid.UUID | None,
        payment_expires_at: datetime | None = None,
    ) -> CartView:
        """Derive total, currency and deadline from the items, so they can never disagree."""
        currencies = {item.currency for item in items}
        if status is CartStatus.OPEN:
            deadlines = [i.hold_expires_at for i in items if i.hold_expires_at is not None]
            expires_at = min(deadlines) if deadlines else None
        elif status is CartStatus.BOOKED:
            expires_at = payment_expires_at
        else:
            expires_at = None
        return cls(
            cart_id=cart_id,
            status=status,
            items=tuple(items),
            payment_id=payment_id,
            currency=next(iter(currencies)) if len(currencies) == 1 else None,
            total_amount=money(sum((item.amount for item in items), Decimal(0))),
            expires_at=expires_at,
        )


@dataclass(frozen=True, slots=True)
class TicketView:
    id: uuid.UUID
    event_id: int
    event_name: str
    starts_at: datetime
    venue_name: str
    section_name: str
    row: str | None
    number: str | None
    seat_id: int
    price_name: str
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class PaymentView:
    payment_id: uuid.UUID
    cart_id: uuid.UUID
    status: PaymentStatus
    total_amount: Decimal
    currency: str
    created_at: datetime
    expires_at: datetime
    finalized_at: datetime | None
    tickets: tuple[TicketView, ...] = ()


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    email: str
    role: Role
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TokenView:
    """A bearer token as issued: the secret itself is shown this once and never stored."""

    access_token: str
    expires_at: datetime
    user: UserView

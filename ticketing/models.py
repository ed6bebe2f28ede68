"""SQLModel tables: the venue template, each event's copy of it, carts, payments, tickets, audit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

# Stable constraint names, so that Alembic migrations (SQLite batch mode included) can address them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timestamps are aware UTC in Python; SQLite, which has no zone, stores naive UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(sa.TypeDecorator[Decimal]):
    """Exact amounts: NUMERIC(12,2) on PostgreSQL, integer cents on SQLite (no decimal type)."""

    impl = sa.Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.Numeric(12, 2, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        cents = Decimal(value).quantize(Decimal("0.01"))
        return int(cents * 100) if dialect.name == "sqlite" else cents

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 100).quantize(Decimal("0.01"))
        return Decimal(value).quantize(Decimal("0.01"))


def _utc_now() -> datetime:
    return datetime.now(UTC)


# --- The venue template -------------------------------------------------------------------


class Venue(SQLModel, table=True):
    __tablename__ = "venue"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    city: str = Field(default="", max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    created_at: datetime = Field(default_factory=_utc_now, sa_type=UTCDateTime)
    focal_x: float | None = Field(default=None, description="The stage or pitch, if given.")
    focal_y: float | None = None


class Section(SQLModel, table=True):
    __tablename__ = "section"
    __table_args__ = (
        sa.UniqueConstraint("venue_id", "name"),
        sa.CheckConstraint("kind IN ('seated', 'general_admission')", name="kind"),
        sa.CheckConstraint("capacity >= 0", name="capacity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", index=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    capacity: int = 0
    position: int = 0
    outline: list[list[float]] | None = Field(
        default=None, sa_type=sa.JSON, description="A polygon: [[x, y], ...] in venue units."
    )
    label_x: float | None = None
    label_y: float | None = None


class Row(SQLModel, table=True):
    __tablename__ = "seat_row"
    __table_args__ = (sa.UniqueConstraint("section_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    section_id: int = Field(foreign_key="section.id", index=True)
    name: str = Field(max_length=50)
    position: int = 0


class Seat(SQLModel, table=True):
    __tablename__ = "seat"
    __table_args__ = (
        sa.CheckConstraint("type IN ('designated', 'general_admission')", name="type"),
        sa.CheckConstraint(
            "(type = 'designated') = (row_id IS NOT NULL AND number IS NOT NULL)",
            name="designated_has_position",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    section_id: int = Field(foreign_key="section.id", index=True)
    row_id: int | None = Field(default=None, foreign_key="seat_row.id", index=True)
    number: str | None = Field(default=None, max_length=20)
    type: str = Field(max_length=20)
    position: int = 0
    x: float | None = Field(default=None, description="Designated seats only, in venue units.")
    y: float | None = None


# --- An event's copy of the manifest --------------------------------------------------------


class Event(SQLModel, table=True):
    __tablename__ = "event"
    __table_args__ = (
        sa.CheckConstraint("status IN ('draft', 'published', 'cancelled')", name="status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", index=True)
    name: str = Field(max_length=200)
    starts_at: datetime = Field(sa_type=UTCDateTime, index=True)
    currency: str = Field(max_length=3)
    created_at: datetime = Field(default_factory=_utc_now, sa_type=UTCDateTime)
    status: str = Field(
        default="draft",
        max_length=10,
        sa_column_kwargs={"server_default": "published"},
        description="draft (managers only) -> published (on sale) -> cancelled (not on sale).",
    )
    revision: int = Field(
        default=0,
        sa_type=sa.BigInteger(),
        sa_column_kwargs={"server_default": "0"},
        description="Bumped by every manager change to the event (name, date, prices, blocked "
        "seats, status): cached layouts compare it to stay fresh in every worker.",
    )


class PriceLevel(SQLModel, table=True):
    __tablename__ = "price_level"
    __table_args__ = (sa.UniqueConstraint("event_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    name: str = Field(max_length=100)
    position: int = 0


class EventSection(SQLModel, table=True):
    """Keyed by the template's section id, so clients use one id for a section in every event."""

    __tablename__ = "event_section"

    event_id: int = Field(foreign_key="event.id", primary_key=True)
    section_id: int = Field(foreign_key="section.id", primary_key=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    capacity: int = 0
    position: int = 0
    outline: list[list[float]] | None = Field(default=None, sa_type=sa.JSON)
    label_x: float | None = None
    label_y: float | None = None


class EventRow(SQLModel, table=True):
    __tablename__ = "event_row"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["event_id", "section_id"], ["event_section.event_id", "event_section.section_id"]
        ),
    )

    event_id: int = Field(foreign_key="event.id", primary_key=True)
    row_id: int = Field(foreign_key="seat_row.id", primary_key=True)
    section_id: int
    name: str = Field(max_length=50)
    position: int = 0


class SeatStatusName(SQLModel, table=True):
    """Lookup table of seat statuses (1 available, 2 held, 3 booked, 4 sold, 5 blocked)."""

    __tablename__ = "seat_status"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    name: str = Field(max_length=20, unique=True)


class EventSeat(SQLModel, table=True):
    """One seat (or general-admission place) of one event, carrying its live status.

    Invariants the database enforces: a free seat belongs to no cart; a held or booked seat has a
    deadline (hold expiry or payment expiry), after which readers and claimers treat it as free.
    """

    __tablename__ = "event_seat"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["event_id", "section_id"], ["event_section.event_id", "event_section.section_id"]
        ),
        sa.Index("ix_event_seat_event_section", "event_id", "section_id"),
        sa.Index("ix_event_seat_event_changed_in", "event_id", "changed_in"),
        sa.CheckConstraint("(status IN (1, 5)) = (cart_id IS NULL)", name="cart_iff_taken"),
        sa.CheckConstraint("(status IN (2, 3)) = (expires_at IS NOT NULL)", name="deadline"),
    )

    event_id: int = Field(foreign_key="event.id", primary_key=True)
    seat_id: int = Field(foreign_key="seat.id", primary_key=True)
    section_id: int
    row_id: int | None = Field(default=None, foreign_key="seat_row.id")
    row_name: str | None = Field(default=None, max_length=50)
    number: str | None = Field(default=None, max_length=20)
    type: str = Field(max_length=20)
    position: int = 0
    x: float | None = None
    y: float | None = None
    status: int = Field(default=1, foreign_key="seat_status.id")
    cart_id: uuid.UUID | None = Field(default=None, index=True)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    changed_in: int = Field(
        default=0,
        sa_type=sa.BigInteger(),
        sa_column_kwargs={"server_default": "0"},
        description="Stamp of the transaction that last changed the status "
        "(ticketing.inventory.stamps): seat-map caches find what changed since they read.",
    )


class EventSeatPrice(SQLModel, table=True):
    __tablename__ = "event_seat_price"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["event_id", "seat_id"], ["event_seat.event_id", "event_seat.seat_id"]
        ),
        sa.CheckConstraint("amount >= 0", name="amount"),
    )

    event_id: int = Field(primary_key=True)
    seat_id: int = Field(primary_key=True)
    price_level_id: int = Field(foreign_key="price_level.id", primary_key=True)
    amount: Decimal = Field(sa_type=Money)


# --- People -------------------------------------------------------------------------------


class UserAccount(SQLModel, table=True):
    __tablename__ = "user_account"
    __table_args__ = (
        sa.CheckConstraint("role IN ('customer', 'manager', 'scanner')", name="role"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, description="Stored lower-cased.")
    password_hash: str = Field(max_length=255)
    role: str = Field(default="customer", max_length=10)
    created_at: datetime = Field(sa_type=UTCDateTime)


class AuthToken(SQLModel, table=True):
    """A bearer token; only its SHA-256 is stored, so a leaked table signs nobody in."""

    __tablename__ = "auth_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# --- Orders -------------------------------------------------------------------------------


class Cart(SQLModel, table=True):
    __tablename__ = "cart"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('open', 'booked', 'paid', 'failed', 'expired')", name="status"
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    status: str = Field(default="open", max_length=10)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    # Set when a signed-in customer first uses the cart; from then on it is theirs alone.
    owner_id: int | None = Field(default=None, foreign_key="user_account.id", index=True)


class CartItem(SQLModel, table=True):
    """A seat in a cart. `active` items are the cart's claim; a unique index makes it exclusive."""

    __tablename__ = "cart_item"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["event_id", "seat_id"], ["event_seat.event_id", "event_seat.seat_id"]
        ),
        sa.Index(
            "uq_cart_item_active_seat",
            "event_id",
            "seat_id",
            unique=True,
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    cart_id: uuid.UUID = Field(foreign_key="cart.id", index=True)
    event_id: int
    seat_id: int
    section_id: int
    row_id: int | None = None
    price_level_id: int = Field(foreign_key="price_level.id")
    amount: Decimal = Field(sa_type=Money)
    # Set when the cart is booked: the payment covers exactly the items that carry its id.
    payment_id: uuid.UUID | None = Field(default=None, foreign_key="payment.id", index=True)
    held_at: datetime = Field(sa_type=UTCDateTime)
    hold_expires_at: datetime = Field(sa_type=UTCDateTime)
    active: bool = True
    released_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    release_reason: str | None = Field(default=None, max_length=20)


class Payment(SQLModel, table=True):
    __tablename__ = "payment"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('pending', 'completed', 'failed', 'expired')", name="status"
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    cart_id: uuid.UUID = Field(foreign_key="cart.id", unique=True)
    status: str = Field(default="pending", max_length=10)
    total_amount: Decimal = Field(sa_type=Money)
    currency: str = Field(max_length=3)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    finalized_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Ticket(SQLModel, table=True):
    """Issued when a payment completes. One ticket per event seat, ever: the last guard against
    selling a seat twice. Checked in once, by one conditional UPDATE; a void one admits nobody."""

    __tablename__ = "ticket"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "seat_id"),
        sa.ForeignKeyConstraint(
            ["event_id", "seat_id"], ["event_seat.event_id", "event_seat.seat_id"]
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    payment_id: uuid.UUID = Field(foreign_key="payment.id", index=True)
    event_id: int
    seat_id: int
    price_level_id: int = Field(foreign_key="price_level.id")
    amount: Decimal = Field(sa_type=Money)
    issued_at: datetime = Field(sa_type=UTCDateTime)
    code: str = Field(
        max_length=32,
        unique=True,
        description="Random, printed in the QR payload: what a scanner looks the ticket up by.",
    )
    checked_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    checked_in_by: int | None = Field(default=None, foreign_key="user_account.id")
    voided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditEntry(SQLModel, table=True):
    """Every state change that matters for money: who, what, when."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=30)
    cart_id: uuid.UUID | None = Field(default=None, index=True)
    payment_id: uuid.UUID | None = Field(default=None, index=True)
    event_id: int | None = None
    seat_id: int | None = None
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str | None = Field(default=None, max_length=20)
    amount: Decimal | None = Field(default=None, sa_type=Money)


class IdempotencyKey(SQLModel, table=True):
    """A client's Idempotency-Key and the answer its command gave (kept for a day)."""

    __tablename__ = "idempotency_key"
    __table_args__ = (sa.UniqueConstraint("scope", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=40, description="Whose key: anonymous, or user:<id>.")
    key: str = Field(max_length=255)
    fingerprint: str = Field(max_length=64, description="SHA-256 of the command and arguments.")
    answer: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)


def _table(model: type[SQLModel]) -> sa.Table:
    table = model.__dict__["__table__"]
    assert isinstance(table, sa.Table)
    return table


# Core handles on the tables, for set-based statements where no ORM object is wanted.
venue_t = _table(Venue)
section_t = _table(Section)
row_t = _table(Row)
seat_t = _table(Seat)
event_t = _table(Event)
price_level_t = _table(PriceLevel)
event_section_t = _table(EventSection)
event_row_t = _table(EventRow)
event_seat_t = _table(EventSeat)
price_t = _table(EventSeatPrice)
cart_t = _table(Cart)
item_t = _table(CartItem)
payment_t = _table(Payment)
ticket_t = _table(Ticket)
audit_t = _table(AuditEntry)
user_t = _table(UserAccount)
token_t = _table(AuthToken)
idempotency_t = _table(IdempotencyKey)

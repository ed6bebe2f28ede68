"""Types every feature shares: money, enums mirrored from the domain, user errors, ids."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable
from decimal import Decimal
from typing import TypeVar

import strawberry
from strawberry.schema.types.base_scalars import UUIDDefinition

from ticketing import domain, inputs
from ticketing.errors import ErrorCode as DomainErrorCode
from ticketing.errors import TicketingError

ErrorCode = strawberry.enum(
    DomainErrorCode,
    name="ErrorCode",
    description="Stable error codes, the same as the `code` of REST problem documents.",
)
SeatStatus = strawberry.enum(
    domain.SeatStatus,
    name="SeatStatus",
    description="A seat's life: AVAILABLE -> HELD (in a cart) -> BOOKED (payment pending) -> SOLD.",
)
SectionKind = strawberry.enum(
    domain.SectionKind,
    name="SectionKind",
    description="SEATED sections have designated seats in rows; GENERAL_ADMISSION a capacity.",
)
SeatType = strawberry.enum(
    domain.SeatType,
    name="SeatType",
    description="DESIGNATED: a row and number. GENERAL_ADMISSION: a place with no position.",
)
EventStatus = strawberry.enum(
    domain.EventStatus,
    name="EventStatus",
    description="DRAFT (managers only) -> PUBLISHED (on sale) -> CANCELLED (not on sale).",
)
Role = strawberry.enum(
    domain.Role,
    name="Role",
    description="CUSTOMER buys tickets; MANAGER also builds venues, events and prices; SCANNER "
    "also checks tickets in at the door.",
)
CartStatus = strawberry.enum(
    domain.CartStatus,
    name="CartStatus",
    description="A cart follows its payment: OPEN -> BOOKED -> PAID | FAILED | EXPIRED.",
)
PaymentStatus = strawberry.enum(
    domain.PaymentStatus,
    name="PaymentStatus",
    description="PENDING until completed, failed, or past its deadline (EXPIRED).",
)

T = TypeVar("T")


def _parse_uuid(value: object) -> uuid.UUID:
    if not isinstance(value, str):
        raise TypeError("a UUID is sent as a string")
    try:
        return inputs.parse_uuid(value, field="UUID")
    except TicketingError as exc:
        raise ValueError(exc.message) from None


# Strawberry's own UUID scalar (same serialization), parsing the canonical form only.
UUID = dataclasses.replace(
    UUIDDefinition,
    description="A UUID in canonical text form, e.g. 6b1f3c1e-8a43-4b7e-9a51-2f7c1d0e9a11.",
    specified_by_url="https://www.rfc-editor.org/rfc/rfc9562",
    parse_value=_parse_uuid,
)
NO_CURRENCY = "XXX"  # ISO 4217's code for "no currency is involved"


@strawberry.type(description="An exact amount of money in one currency.")
class Money:
    amount: Decimal = strawberry.field(
        description='Exact decimal amount, as a string on the wire (e.g. "49.50").'
    )
    currency: str = strawberry.field(
        description="ISO 4217 code, e.g. EUR; XXX for the total of an empty cart."
    )


@strawberry.type(description="An expected failure: nothing was changed.")
class UserError:
    code: ErrorCode = strawberry.field(description="What went wrong, as a stable code.")  # type: ignore[valid-type]
    message: str = strawberry.field(description="A sentence for people.")
    field: list[str] | None = strawberry.field(
        description='Path to the offending input field, e.g. ["input", "seatId"].'
    )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def user_error(exc: TicketingError) -> UserError:
    field = ["input", *(_camel(part) for part in exc.field)] if exc.field else None
    return UserError(code=exc.code, message=exc.message, field=field)


def lookup_id(value: strawberry.ID) -> int | None:
    """Ids are positive integers sent as GraphQL IDs; None for anything that cannot be one."""
    return inputs.lookup_id(str(value))


def parse_id(value: strawberry.ID, *, field: str) -> int:
    """For mutation input: an id that cannot exist is a validation error on that field."""
    return inputs.parse_id(str(value), field=field)


async def attempt(call: Awaitable[T]) -> tuple[T | None, list[UserError]]:
    """Await a service call; an expected failure becomes a user error (nothing was changed)."""
    try:
        return await call, []
    except TicketingError as exc:
        return None, [user_error(exc)]

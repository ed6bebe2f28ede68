"""checkIn: a scanner admits a ticket to an event, once."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry

from schema.common import UserError, parse_id, user_error
from schema.context import Info
from ticketing.errors import ErrorCode, TicketingError
from ticketing.tickets import checkin


@strawberry.input(description="A scanned ticket and the event whose door scans it.")
class CheckInInput:
    event_id: strawberry.ID = strawberry.field(description="The event being checked in.")
    payload: str = strawberry.field(description="The text of the ticket's QR code, as scanned.")


@strawberry.type(description="A ticket admitted by this scan: what the door tells its holder.")
class Admission:
    ticket_id: uuid.UUID = strawberry.field(description="The ticket's id.")
    event_id: strawberry.ID = strawberry.field(description="The event it admits to.")
    event_name: str = strawberry.field(description="The event's name.")
    section: str = strawberry.field(description="The seat's section.")
    row: str | None = strawberry.field(description="Row label; null for a GA place.")
    seat: str | None = strawberry.field(description="Seat number; null for a GA place.")
    price_level: str = strawberry.field(description='The price level paid, e.g. "Child".')


@strawberry.type(description="The admission, or why not.")
class CheckInPayload:
    admission: Admission | None = strawberry.field(
        description="The ticket admitted by this scan; null when refused."
    )
    checked_in_at: datetime | None = strawberry.field(
        description="When the ticket was checked in: now when admitted, the first scan's time "
        "when ALREADY_CHECKED_IN; null otherwise."
    )
    user_errors: list[UserError] = strawberry.field(description="Why not; empty when admitted.")


async def check_in(
    info: Info, input: Annotated[CheckInInput, strawberry.argument(description="The scan.")]
) -> CheckInPayload:
    context = info.context
    assert context.ticket_keys is not None
    try:
        admission = await context.call(
            checkin.check_in,
            event_id=parse_id(input.event_id, field="event_id"),
            ticket_payload=input.payload,
            public_key=context.ticket_keys.public_key,
            caller=await context.viewer(),
            now=context.now,
        )
    except TicketingError as exc:
        first = exc.context.get("checked_in_at")
        already = exc.code is ErrorCode.ALREADY_CHECKED_IN and isinstance(first, str)
        return CheckInPayload(
            admission=None,
            checked_in_at=datetime.fromisoformat(first) if already and first else None,
            user_errors=[user_error(exc)],
        )
    return CheckInPayload(
        admission=Admission(
            ticket_id=admission.ticket_id,
            event_id=strawberry.ID(str(admission.event_id)),
            event_name=admission.event_name,
            section=admission.section,
            row=admission.row,
            seat=admission.seat,
            price_level=admission.price_level,
        ),
        checked_in_at=admission.checked_in_at,
        user_errors=[],
    )

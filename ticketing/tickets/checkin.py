"""Check-in at the door: a scanner's first scan of a valid ticket admits, any later one is
refused. One conditional UPDATE decides, so two scanners at once cannot both admit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.accounts.accounts import auth_required
from ticketing.db import command
from ticketing.domain import Principal, Role
from ticketing.errors import ErrorCode, TicketingError
from ticketing.inventory import audit
from ticketing.models import ticket_t
from ticketing.payments.payments import tickets_select
from ticketing.tickets import payload

_B = sa.bindparam
_CHECK_IN = (
    sa.update(ticket_t)
    .where(
        ticket_t.c.code == _B("ticket_code", type_=sa.String()),
        ticket_t.c.event_id == _B("event", type_=sa.Integer()),
        ticket_t.c.checked_in_at.is_(None),
        ticket_t.c.voided_at.is_(None),
    )
    .values(checked_in_at=_B("now", type_=ticket_t.c.checked_in_at.type), checked_in_by=_B("by"))
    .returning(ticket_t.c.id, ticket_t.c.payment_id, ticket_t.c.seat_id, ticket_t.c.amount)
)
_SCANNERS = (Role.SCANNER, Role.MANAGER)


@dataclass(frozen=True, slots=True)
class Admission:
    """A ticket just checked in: what the door tells the holder."""

    ticket_id: uuid.UUID
    event_id: int
    event_name: str
    section: str
    row: str | None  # None, with seat, for a general-admission place
    seat: str | None
    price_level: str
    checked_in_at: datetime


def require_scanner(caller: Principal | None) -> Principal:
    if caller is None:
        raise auth_required()
    if caller.role not in _SCANNERS:
        raise TicketingError(
            ErrorCode.FORBIDDEN,
            "Only scanners and event managers may check tickets in.",
            context={"action": "check tickets in"},
        )
    return caller


@command
async def check_in(
    conn: AsyncConnection,
    *,
    event_id: int,
    ticket_payload: str,
    public_key: Ed25519PublicKey,
    caller: Principal | None,
    now: datetime,
) -> Admission:
    """Admit the ticket of a scanned payload to `event_id`. Refused: FORGED_TICKET (not signed
    by this service), WRONG_EVENT, TICKET_VOID, ALREADY_CHECKED_IN (with the first scan's time),
    NOT_FOUND (signed, yet no such ticket here)."""
    scanner = require_scanner(caller)
    facts = payload.verify(ticket_payload, public_key)
    if facts.event_id != event_id:
        raise _wrong_event(facts.event_id, event_id)
    admitted = (
        await conn.execute(
            _CHECK_IN,
            {"ticket_code": facts.code, "event": event_id, "now": now, "by": scanner.user_id},
        )
    ).one_or_none()
    if admitted is None:
        raise await _refusal(conn, code=facts.code, event_id=event_id)
    await audit.record(
        conn,
        [
            {
                "action": "ticket_checked_in",
                "payment_id": admitted.payment_id,
                "event_id": event_id,
                "seat_id": admitted.seat_id,
                "from_status": "issued",
                "to_status": "checked_in",
                "amount": admitted.amount,
            }
        ],
        at=now,
        actor=scanner.actor,
        seat_status_changed=False,
    )
    ticket = (
        await conn.execute(tickets_select(ticket_t).where(ticket_t.c.id == admitted.id))
    ).one()
    return Admission(
        ticket_id=admitted.id,
        event_id=event_id,
        event_name=ticket.event_name,
        section=ticket.section_name,
        row=ticket.row_name,
        seat=ticket.number,
        price_level=ticket.price_name,
        checked_in_at=now,
    )


def _wrong_event(ticket_event: int, event_id: int) -> TicketingError:
    return TicketingError(
        ErrorCode.WRONG_EVENT,
        f"This ticket is for event {ticket_event}, not event {event_id}.",
        context={"event_id": event_id},
    )


async def _refusal(conn: AsyncConnection, *, code: str, event_id: int) -> TicketingError:
    """Why the check-in's UPDATE found nothing to admit (read after it, so it sees the row as
    the UPDATE left it)."""
    row = (
        await conn.execute(
            sa.select(ticket_t.c.event_id, ticket_t.c.checked_in_at, ticket_t.c.voided_at).where(
                ticket_t.c.code == code
            )
        )
    ).one_or_none()
    if row is None:
        return TicketingError(
            ErrorCode.NOT_FOUND, "The payload is signed, yet no ticket here has its code."
        )
    if row.event_id != event_id:
        return _wrong_event(row.event_id, event_id)
    if row.voided_at is not None:
        return TicketingError(
            ErrorCode.TICKET_VOID,
            f"This ticket was voided at {row.voided_at.isoformat()}: it admits nobody.",
        )
    return TicketingError(
        ErrorCode.ALREADY_CHECKED_IN,
        f"This ticket was checked in at {row.checked_in_at.isoformat()}.",
        context={"checked_in_at": row.checked_in_at.isoformat()},
    )

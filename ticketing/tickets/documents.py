"""A completed order's tickets as documents: each with its signed QR payload, and the PDF."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.db import Database, query
from ticketing.domain import PaymentStatus, PaymentView, Principal, TicketView
from ticketing.errors import ErrorCode, TicketingError
from ticketing.models import event_t, ticket_t, venue_t
from ticketing.payments.payments import load_payment
from ticketing.tickets import payload
from ticketing.tickets.keys import TicketKeys
from ticketing.tickets.pdf import render


@dataclass(frozen=True, slots=True)
class TicketDocument:
    ticket: TicketView
    facts: payload.TicketFacts
    payload: str
    timezone: str  # the venue's IANA zone, in which `facts.starts_at` is written


@dataclass(frozen=True, slots=True)
class OrderTickets:
    payment: PaymentView
    tickets: tuple[TicketDocument, ...]


def ticket_facts(ticket: TicketView, *, code: str, timezone: str) -> payload.TicketFacts:
    return payload.TicketFacts(
        code=code,
        event_id=ticket.event_id,
        event_name=ticket.event_name,
        starts_at=payload.local_start(ticket.starts_at, timezone),
        venue=ticket.venue_name,
        section=ticket.section_name,
        row=ticket.row,
        seat=ticket.number,
        price_level=ticket.price_name,
    )


@query
async def order_tickets(
    conn: AsyncConnection,
    *,
    payment_id: uuid.UUID,
    now: datetime,
    caller: Principal | None,
    keys: TicketKeys,
) -> OrderTickets:
    """The tickets of a completed payment, as its cart's owner sees the payment (NOT_FOUND for
    anyone else); PAYMENT_NOT_COMPLETED before it completed, or after it failed or expired."""
    payment = await load_payment(conn, payment_id=payment_id, now=now, caller=caller)
    if payment.status is not PaymentStatus.COMPLETED:
        raise TicketingError(
            ErrorCode.PAYMENT_NOT_COMPLETED,
            f"Payment {payment_id} is {payment.status.value}: tickets exist once it completed.",
            context={"payment_id": str(payment_id), "payment_status": payment.status.value},
        )
    rows = await conn.execute(
        sa.select(ticket_t.c.id, ticket_t.c.code, venue_t.c.timezone)
        .join(event_t, event_t.c.id == ticket_t.c.event_id)
        .join(venue_t, venue_t.c.id == event_t.c.venue_id)
        .where(ticket_t.c.payment_id == payment_id)
    )
    found = {row.id: (row.code, row.timezone) for row in rows}
    documents = []
    for ticket in payment.tickets:
        code, timezone = found[ticket.id]
        facts = ticket_facts(ticket, code=code, timezone=timezone)
        signed = payload.sign(facts, keys.private_key)
        documents.append(TicketDocument(ticket, facts, signed, timezone))
    return OrderTickets(payment, tuple(documents))


async def order_pdf(
    db: Database,
    *,
    payment_id: uuid.UUID,
    now: datetime,
    caller: Principal | None,
    keys: TicketKeys,
) -> bytes:
    """The order's PDF, one page per ticket (rendered off the event loop)."""
    order = await order_tickets(db, payment_id=payment_id, now=now, caller=caller, keys=keys)
    return await asyncio.to_thread(render, order)

"""What an outbox message says: an e-mail (subject, text, attachments) or a webhook's JSON body,
composed at delivery from the committed facts the message names."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.db import Database, query
from ticketing.domain import Principal, Role, TicketView
from ticketing.errors import ErrorCode, TicketingError
from ticketing.models import cart_t, event_seat_t, event_t, payment_t, ticket_t, venue_t
from ticketing.notifications.outbox import Kind
from ticketing.payments.payments import ticket_views, tickets_select
from ticketing.tickets.documents import order_pdf
from ticketing.tickets.keys import TicketKeys


@dataclasses.dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str  # e.g. application/pdf
    data: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class Mail:
    subject: str
    text: str
    attachments: tuple[Attachment, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Outgoing:
    """A claimed outbox row, as the worker delivers it."""

    id: int
    kind: str
    channel: str
    recipient: str
    webhook_id: int | None
    event_id: int | None
    payload: str
    created_at: datetime
    attempts: int

    @property
    def facts(self) -> dict[str, Any]:
        facts: dict[str, Any] = json.loads(self.payload)
        return facts


def message_id(message: Outgoing, mail_from: str) -> str:
    """One Message-ID per outbox message, the same at every attempt: a receiver that gets a
    message twice (a worker died between sending and recording it) can drop the copy."""
    domain = mail_from.rpartition("@")[2].strip("> ") or "localhost"
    return f"<outbox-{message.id}.{int(message.created_at.timestamp())}@{domain}>"


@query
async def _owner_of(conn: AsyncConnection, *, payment_id: uuid.UUID) -> int | None:
    owner: int | None = await conn.scalar(
        sa.select(cart_t.c.owner_id)
        .join(payment_t, payment_t.c.cart_id == cart_t.c.id)
        .where(payment_t.c.id == payment_id)
    )
    return owner


async def confirmation_attachments(
    db: Database, *, payment_id: uuid.UUID, keys: TicketKeys, now: datetime
) -> tuple[Attachment, ...]:
    """The order confirmation carries the tickets' PDF, made as its owner gets it from the API
    (none when the order was refunded before the e-mail went)."""
    owner = await _owner_of(db, payment_id=payment_id)
    if owner is None:  # anonymous checkout: no e-mail is written for it
        return ()
    viewer = Principal(user_id=owner, email="", role=Role.CUSTOMER)
    try:
        pdf = await order_pdf(db, payment_id=payment_id, now=now, caller=viewer, keys=keys)
    except TicketingError as exc:
        if exc.code is not ErrorCode.PAYMENT_NOT_COMPLETED:
            raise
        return ()
    return (Attachment(f"tickets-{payment_id}.pdf", "application/pdf", pdf),)


@query
async def compose_mail(conn: AsyncConnection, *, message: Outgoing) -> Mail:
    """The e-mail of an outbox message, from the facts it names as they are now (a completed
    payment's tickets, an event's name)."""
    facts = message.facts
    if message.kind == Kind.ORDER_CONFIRMED:
        payment_id = uuid.UUID(facts["payment_id"])
        rows = await conn.execute(
            tickets_select(ticket_t).where(ticket_t.c.payment_id == payment_id)
        )
        tickets = ticket_views(rows).get(payment_id, ())
        names = _names(ticket.event_name for ticket in tickets)
        zones = await _venue_zones(conn, {ticket.event_id for ticket in tickets})
        lines = [
            f"- {ticket.event_name}, {_local(ticket.starts_at, zones[ticket.event_id])}, "
            f"{ticket.venue_name}: {_place(ticket)}, {ticket.price_name} {ticket.amount} "
            f"{ticket.currency}"
            for ticket in tickets
        ]
        return Mail(
            subject=f"Your tickets: {names}",
            text="Thank you for your order. Your tickets:\n\n" + "\n".join(lines) + "\n\n"
            f"Order (payment) {payment_id}.\n",
        )
    if message.kind in (Kind.PAYMENT_FAILED, Kind.PAYMENT_EXPIRED):
        payment_id = uuid.UUID(facts["payment_id"])
        row = (
            await conn.execute(
                sa.select(payment_t.c.total_amount, payment_t.c.currency).where(
                    payment_t.c.id == payment_id
                )
            )
        ).one()
        why = (
            "did not go through" if message.kind == Kind.PAYMENT_FAILED else "was not made in time"
        )
        return Mail(
            subject=f"Your payment {why}",
            text=f"Your payment of {row.total_amount} {row.currency} {why}: nothing was charged, "
            f"and the seats you had booked are on sale again.\n\nPayment {payment_id}.\n",
        )
    if message.kind == Kind.HOLD_EXPIRED:
        seats = [(int(event_id), int(seat_id)) for event_id, seat_id in facts["seats"]]
        rows = (
            await conn.execute(
                sa.select(event_t.c.name, event_seat_t.c.row_name, event_seat_t.c.number)
                .join(event_t, event_t.c.id == event_seat_t.c.event_id)
                .where(sa.tuple_(event_seat_t.c.event_id, event_seat_t.c.seat_id).in_(seats))
                .order_by(event_seat_t.c.event_id, event_seat_t.c.position)
            )
        ).all()
        lines = [f"- {row.name}: {_seat(row.row_name, row.number)}" for row in rows]
        return Mail(
            subject="Your held seats were released",
            text="You held these seats but did not book them in time; they are on sale again:"
            "\n\n" + "\n".join(lines) + "\n",
        )
    if message.kind == Kind.EVENT_CANCELLED:
        event_id = int(facts["event_id"])
        event = (
            await conn.execute(
                sa.select(event_t.c.name, event_t.c.starts_at).where(event_t.c.id == event_id)
            )
        ).one()
        zones = await _venue_zones(conn, {event_id})
        return Mail(
            subject=f"Cancelled: {event.name}",
            text=f"We are sorry: {event.name}, planned for "
            f"{_local(event.starts_at, zones[event_id])}, is cancelled. Paid tickets are "
            "refunded; we write to you about each refund.\n",
        )
    if message.kind == Kind.ORDER_REFUNDED:
        payment_id = uuid.UUID(facts["payment_id"])
        currency = await conn.scalar(
            sa.select(payment_t.c.currency).where(payment_t.c.id == payment_id)
        )
        return Mail(
            subject="Your refund",
            text=f"{facts['amount']} {currency} of your order are refunded to you; the "
            f"tickets refunded ({facts['tickets']}) admit nobody any more.\n\n"
            f"Order (payment) {payment_id}.\n",
        )
    raise ValueError(f"no e-mail for messages of kind {message.kind!r}")


def email_message(message: Outgoing, mail: Mail, *, mail_from: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = mail_from
    email["To"] = message.recipient
    email["Subject"] = mail.subject
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = message_id(message, mail_from)
    email.set_content(mail.text)
    for attachment in mail.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        email.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return email


def webhook_body(message: Outgoing) -> bytes:
    """What an integrator receives: the message's id (to drop a repeated delivery), its type,
    when the change committed, the event and the facts."""
    return json.dumps(
        {
            "id": message.id,
            "type": message.kind,
            "created_at": message.created_at.isoformat(),
            "event_id": message.event_id,
            "data": message.facts,
        },
        sort_keys=True,
    ).encode()


async def _venue_zones(conn: AsyncConnection, event_ids: set[int]) -> dict[int, str]:
    rows = await conn.execute(
        sa.select(event_t.c.id, venue_t.c.timezone)
        .join(venue_t, venue_t.c.id == event_t.c.venue_id)
        .where(event_t.c.id.in_(event_ids))
    )
    return {row.id: row.timezone for row in rows}


def _local(starts_at: datetime, timezone: str) -> str:
    """As the tickets print it: the venue's local time, and its zone."""
    return f"{starts_at.astimezone(ZoneInfo(timezone)):%Y-%m-%d %H:%M} ({timezone})"


def _names(names: Any) -> str:
    return ", ".join(dict.fromkeys(names))


def _place(ticket: TicketView) -> str:
    return f"{ticket.section_name}, {_seat(ticket.row, ticket.number)}"


def _seat(row: str | None, number: str | None) -> str:
    return f"row {row} seat {number}" if row is not None else "standing"

"""The PDF of an order: one page per ticket, with what the door and the holder need to read,
and the QR code of the ticket's signed payload."""

from __future__ import annotations

import io
from datetime import datetime
from typing import TYPE_CHECKING

import segno
from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

if TYPE_CHECKING:
    from ticketing.tickets.documents import OrderTickets, TicketDocument

QR_SIZE = 80 * mm
MARGIN = 14 * mm


def render(order: OrderTickets) -> bytes:
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A5, invariant=True)
    canvas.setTitle(f"Tickets of order {order.payment.payment_id}")
    count = len(order.tickets)
    for index, document in enumerate(order.tickets, start=1):
        _page(canvas, document, f"Ticket {index} of {count} · order {order.payment.payment_id}")
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def _when(document: TicketDocument) -> str:
    local = datetime.fromisoformat(document.facts.starts_at)
    return f"{local:%A %d %B %Y, %H:%M} ({document.timezone})"


def _page(canvas: Canvas, document: TicketDocument, footer: str) -> None:
    width, height = A5
    facts, ticket = document.facts, document.ticket
    y = height - MARGIN - 6 * mm
    canvas.setFont("Helvetica-Bold", 16)
    canvas.drawString(MARGIN, y, facts.event_name)
    lines = [
        ("When", _when(document)),
        ("Venue", facts.venue),
        ("Section", facts.section),
        ("Row", facts.row or "-"),
        ("Seat", facts.seat or "General admission"),
        ("Price", f"{facts.price_level}, {ticket.amount} {ticket.currency}"),
    ]
    for label, value in lines:
        y -= 7 * mm
        canvas.setFont("Helvetica-Bold", 10)
        canvas.drawString(MARGIN, y, label)
        canvas.setFont("Helvetica", 10)
        canvas.drawString(MARGIN + 22 * mm, y, value)
    _qr(canvas, document.payload, x=(width - QR_SIZE) / 2, y=y - 8 * mm - QR_SIZE)
    canvas.setFont("Helvetica", 8)
    canvas.drawCentredString(width / 2, y - 12 * mm - QR_SIZE, f"Code {facts.code}")
    canvas.drawCentredString(width / 2, MARGIN, footer)


def _qr(canvas: Canvas, text: str, *, x: float, y: float) -> None:
    """The code's dark modules as squares: sharp at any zoom and at any printer's resolution."""
    matrix = [list(row) for row in segno.make(text, error="m", micro=False).matrix_iter(border=4)]
    module = QR_SIZE / len(matrix)
    canvas.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                canvas.rect(
                    x + c * module, y + QR_SIZE - (r + 1) * module, module, module, stroke=0, fill=1
                )

"""Refunds: a manager refunds an order; a cancelled event is settled in bounded transactions
(holds released, pending payments failed, paid tickets voided and refunded) that the sweep resumes
when a crash interrupted them."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.db import Database, command, query
from ticketing.domain import (
    EventStatus,
    EventView,
    PaymentStatus,
    PaymentView,
    Principal,
    SeatStatus,
)
from ticketing.errors import ErrorCode, TicketingError, not_found
from ticketing.inventory import audit
from ticketing.inventory.stamps import stamped
from ticketing.management import commands as management
from ticketing.models import event_seat_t, event_t, item_t, payment_t, ticket_t
from ticketing.notifications import outbox
from ticketing.notifications.outbox import Kind
from ticketing.orders.carts import lock_cart
from ticketing.payments.payments import load_payment, release_pending_payment

_REFUND_MESSAGES = outbox.payment_messages(
    Kind.ORDER_REFUNDED,
    payment=sa.bindparam("refunded", type_=payment_t.c.id.type),
    now=sa.bindparam("at", type_=payment_t.c.created_at.type),
)
"""The customer's e-mail and the webhooks' deliveries for a refund."""
_FACTS = outbox.PAYLOAD.key

log = logging.getLogger(__name__)

SETTLE_BATCH = 50
"""Orders of a cancelled event settled per transaction: short transactions, each a step that a
crash loses nothing of."""


async def _lock_cart_of(conn: AsyncConnection, payment_id: uuid.UUID) -> tuple[uuid.UUID, str]:
    """The payment's cart, locked as every command on a cart or its payment locks it; then the
    payment's status as it is under that lock."""
    cart_id = await conn.scalar(sa.select(payment_t.c.cart_id).where(payment_t.c.id == payment_id))
    if cart_id is None:
        raise not_found("Payment", payment_id, field="payment_id")
    await lock_cart(conn, cart_id=cart_id)
    status = await conn.scalar(sa.select(payment_t.c.status).where(payment_t.c.id == payment_id))
    return cart_id, str(status)


async def _refund_tickets(
    conn: AsyncConnection,
    *,
    payment_id: uuid.UUID,
    cart_id: uuid.UUID,
    event_id: int | None,
    now: datetime,
    actor: str,
) -> Decimal:
    """Void the payment's valid tickets (of `event_id` only, when given) and put their seats
    back on sale; the payment is refunded once none of its tickets is valid. Returns the amount
    refunded (the caller holds the cart's lock)."""
    which = [ticket_t.c.payment_id == payment_id, ticket_t.c.voided_at.is_(None)]
    if event_id is not None:
        which.append(ticket_t.c.event_id == event_id)
    voided = (
        await conn.execute(
            sa.update(ticket_t)
            .where(*which)
            .values(voided_at=now)
            .returning(ticket_t.c.event_id, ticket_t.c.seat_id, ticket_t.c.amount)
        )
    ).all()
    if not voided:
        return Decimal(0)
    for event in {ticket.event_id for ticket in voided}:
        seats = [ticket.seat_id for ticket in voided if ticket.event_id == event]
        await conn.execute(
            sa.update(event_seat_t)
            .where(
                event_seat_t.c.event_id == event,
                event_seat_t.c.seat_id.in_(seats),
                event_seat_t.c.status == SeatStatus.SOLD,
                event_seat_t.c.cart_id == cart_id,
            )
            .values(status=SeatStatus.AVAILABLE, cart_id=None, expires_at=None, **stamped())
        )
        # the sold seats' items were the cart's claim on them: a new cart may claim them now
        await conn.execute(
            sa.update(item_t)
            .where(
                item_t.c.cart_id == cart_id,
                item_t.c.event_id == event,
                item_t.c.seat_id.in_(seats),
                item_t.c.active,
            )
            .values(active=False, released_at=now, release_reason="refunded")
        )
    still_valid = sa.exists(
        sa.select(ticket_t.c.id).where(
            ticket_t.c.payment_id == payment_id, ticket_t.c.voided_at.is_(None)
        )
    )
    refunded = await conn.scalar(
        sa.update(payment_t)
        .where(
            payment_t.c.id == payment_id,
            payment_t.c.status == PaymentStatus.COMPLETED.value,
            ~still_valid,
        )
        .values(status=PaymentStatus.REFUNDED.value, refunded_at=now)
        .returning(payment_t.c.id)
    )
    amount = sum((ticket.amount for ticket in voided), Decimal(0))
    entries = [
        audit.seat_entry(
            action="ticket_refunded",
            event_id=ticket.event_id,
            seat_id=ticket.seat_id,
            from_status=SeatStatus.SOLD,
            to_status=SeatStatus.AVAILABLE,
            cart_id=cart_id,
            payment_id=payment_id,
            amount=ticket.amount,
        )
        for ticket in voided
    ]
    if refunded is not None:
        entries.append(
            {
                "action": "payment_refunded",
                "from_status": PaymentStatus.COMPLETED.value,
                "to_status": PaymentStatus.REFUNDED.value,
                "cart_id": cart_id,
                "payment_id": payment_id,
            }
        )
    await audit.record(conn, entries, at=now, actor=actor)
    facts = outbox.payload_of(payment_id=payment_id, amount=amount, tickets=len(voided))
    await conn.execute(_REFUND_MESSAGES, {"refunded": payment_id, "at": now, _FACTS: facts})
    return amount


@command
async def refund_payment(
    conn: AsyncConnection, *, caller: Principal | None, payment_id: uuid.UUID, now: datetime
) -> PaymentView:
    """A manager refunds a completed order: its tickets are void (check-in refuses them), its
    seats on sale again, the payment REFUNDED. Refunding a refunded payment changes nothing."""
    manager = management.require_manager(caller, "refund payments")
    cart_id, status = await _lock_cart_of(conn, payment_id)
    if status not in (PaymentStatus.COMPLETED.value, PaymentStatus.REFUNDED.value):
        raise TicketingError(
            ErrorCode.PAYMENT_NOT_COMPLETED,
            f"Payment {payment_id} is {status}: only a completed payment is refunded.",
            field=("payment_id",),
            context={"payment_id": str(payment_id)},
        )
    await _refund_tickets(
        conn, payment_id=payment_id, cart_id=cart_id, event_id=None, now=now, actor=manager.actor
    )
    return await load_payment(conn, payment_id=payment_id, now=now, caller=manager)


# --- cancelled events ---------------------------------------------------------------------------


@command
async def settle_cancelled_batch(
    conn: AsyncConnection, *, event_id: int, now: datetime
) -> list[uuid.UUID]:
    """One step of settling a cancelled event: up to SETTLE_BATCH of its carts with live holds
    released, pending payments failed or paid tickets refunded. Returns the carts settled
    (none: nothing is left)."""
    hold = sa.and_(item_t.c.event_id == event_id, item_t.c.active)
    carts = (
        await conn.execute(
            sa.select(item_t.c.cart_id, item_t.c.payment_id)
            .where(hold, item_t.c.payment_id.is_(None))
            .union(
                sa.select(payment_t.c.cart_id, payment_t.c.id)
                .join(item_t, item_t.c.payment_id == payment_t.c.id)
                .where(hold, payment_t.c.status == PaymentStatus.PENDING.value),
                sa.select(payment_t.c.cart_id, payment_t.c.id)
                .join(ticket_t, ticket_t.c.payment_id == payment_t.c.id)
                .where(ticket_t.c.event_id == event_id, ticket_t.c.voided_at.is_(None)),
            )
            .order_by("cart_id")
            .limit(SETTLE_BATCH)
        )
    ).all()
    for cart_id, payment_id in carts:
        if payment_id is None:
            await _release_holds(conn, cart_id=cart_id, event_id=event_id, now=now)
            continue
        _, status = await _lock_cart_of(conn, payment_id)
        if status == PaymentStatus.PENDING.value:
            await release_pending_payment(
                conn, payment_id=payment_id, outcome=PaymentStatus.FAILED, now=now
            )
        elif status == PaymentStatus.COMPLETED.value:
            await _refund_tickets(
                conn,
                payment_id=payment_id,
                cart_id=cart_id,
                event_id=event_id,
                now=now,
                actor="system",
            )
    return [cart_id for cart_id, _ in carts]


async def _release_holds(
    conn: AsyncConnection, *, cart_id: uuid.UUID, event_id: int, now: datetime
) -> None:
    """An open cart's holds of the cancelled event end (its other events' holds stay)."""
    await lock_cart(conn, cart_id=cart_id)
    released = (
        await conn.execute(
            sa.update(item_t)
            .where(
                item_t.c.cart_id == cart_id,
                item_t.c.event_id == event_id,
                item_t.c.active,
                item_t.c.payment_id.is_(None),
            )
            .values(active=False, released_at=now, release_reason="event_cancelled")
            .returning(item_t.c.seat_id)
        )
    ).all()
    seats = [item.seat_id for item in released]
    if not seats:
        return
    await conn.execute(
        sa.update(event_seat_t)
        .where(
            event_seat_t.c.event_id == event_id,
            event_seat_t.c.seat_id.in_(seats),
            event_seat_t.c.cart_id == cart_id,
            event_seat_t.c.status == SeatStatus.HELD,
        )
        .values(status=SeatStatus.AVAILABLE, cart_id=None, expires_at=None, **stamped())
    )
    await audit.record(
        conn,
        [
            audit.seat_entry(
                action="hold_released",
                event_id=event_id,
                seat_id=seat,
                from_status=SeatStatus.HELD,
                to_status=SeatStatus.AVAILABLE,
                cart_id=cart_id,
            )
            for seat in seats
        ],
        at=now,
        actor="system",
    )


async def settle_cancellation(db: Database, *, event_id: int, now: datetime) -> int:
    """Settle a cancelled event to the end, a batch (one transaction) at a time; returns the
    carts settled. Run again, it goes on where it stopped."""
    settled, previous = 0, None
    while batch := await settle_cancelled_batch(db, event_id=event_id, now=now):
        if batch == previous:  # a batch that settled nothing would come back for ever
            log.error("settling event %s makes no progress with carts %s", event_id, batch)
            break
        settled, previous = settled + len(batch), batch
    return settled


async def cancel_event(
    db: Database, *, caller: Principal | None, event_id: int, now: datetime
) -> EventView:
    """Cancel an event: first the event goes off sale (one transaction), then its orders are
    settled in batches (see `settle_cancellation`). A crash in between loses nothing: the sweep
    settles what is left."""
    event = await management.cancel_event(db, caller=caller, event_id=event_id, now=now)
    await settle_cancellation(db, event_id=event_id, now=now)
    return event


@query
async def _unsettled_events(conn: AsyncConnection) -> list[int]:
    """Cancelled events with a live item (held, booked or sold) or a valid ticket left."""
    live_item = sa.select(item_t.c.id).where(item_t.c.event_id == event_t.c.id, item_t.c.active)
    valid_ticket = sa.select(ticket_t.c.id).where(
        ticket_t.c.event_id == event_t.c.id, ticket_t.c.voided_at.is_(None)
    )
    return list(
        (
            await conn.scalars(
                sa.select(event_t.c.id).where(
                    event_t.c.status == EventStatus.CANCELLED.value,
                    sa.or_(sa.exists(live_item), sa.exists(valid_ticket)),
                )
            )
        ).all()
    )


async def settle_cancelled_events(db: Database, *, now: datetime) -> int:
    """The sweep's part: settle every cancelled event that still has orders to settle."""
    settled = 0
    for event_id in await _unsettled_events(db):
        settled += await settle_cancellation(db, event_id=event_id, now=now)
    return settled

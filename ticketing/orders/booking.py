"""Booking a cart: its held seats become booked under one new pending payment."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing import idempotency
from ticketing.db import command
from ticketing.domain import CartStatus, PaymentStatus, PaymentView, Principal, SeatStatus, money
from ticketing.errors import ErrorCode, TicketingError
from ticketing.inputs import check_cart_id
from ticketing.inventory import audit
from ticketing.inventory.seats import on_sale
from ticketing.inventory.stamps import seats_changed, stamped
from ticketing.models import cart_t, event_seat_t, event_t, item_t, payment_t
from ticketing.orders.carts import lock_visible_cart, set_status
from ticketing.payments.payments import PAYMENT_VIEW, PaymentRow, load_payment, payment_view
from ticketing.settings import CartPolicy

_B = sa.bindparam
CART = _B("cart", type_=item_t.c.cart_id.type)
PAYMENT = _B("payment", type_=payment_t.c.id.type)
NOW = _B("now", type_=item_t.c.hold_expires_at.type)
UNTIL = _B("until", type_=payment_t.c.expires_at.type)
ACTOR = _B("actor", type_=sa.String())

_UNBOOKED = (
    sa.select(
        item_t.c.id,
        item_t.c.event_id,
        item_t.c.seat_id,
        item_t.c.amount,
        item_t.c.hold_expires_at,
        event_t.c.currency,
    )
    .join(event_t, event_t.c.id == item_t.c.event_id)
    .where(item_t.c.cart_id == CART, item_t.c.active, item_t.c.payment_id.is_(None))
)
_BOOK = (
    sa.update(event_seat_t)
    .where(
        event_seat_t.c.cart_id == CART,
        event_seat_t.c.status == SeatStatus.HELD,
        event_seat_t.c.expires_at > NOW,
        on_sale(event_seat_t.c.event_id),
    )
    .values(status=SeatStatus.BOOKED, expires_at=UNTIL, **stamped())
    .returning(event_seat_t.c.event_id, event_seat_t.c.seat_id)
)
_LAPSED_SEATS = (
    # lapsed holds leave the cart for good (readers already see their seats as free)
    sa.update(event_seat_t)
    .where(
        event_seat_t.c.cart_id == CART,
        event_seat_t.c.status == SeatStatus.HELD,
        event_seat_t.c.expires_at <= NOW,
    )
    .values(status=SeatStatus.AVAILABLE, cart_id=None, expires_at=None, **stamped())
)
_PAYMENT_COLUMNS = [
    "id",
    "cart_id",
    "status",
    "total_amount",
    "currency",
    "created_at",
    "expires_at",
]


def _postgres_book() -> sa.Select[Any]:
    """Book a cart in one statement (run after the cart's lock): book its live holds, make the
    payment, attach the items to it, let lapsed holds go, close the cart, log it; answer the
    live items and which of them were booked."""
    items = _UNBOOKED.cte("items")
    live = sa.select(items).where(items.c.hold_expires_at > NOW).cte("live")
    booked = _BOOK.cte("booked")
    payment = (
        payment_t.insert()
        .from_select(
            _PAYMENT_COLUMNS,
            sa.select(
                PAYMENT,
                CART,
                sa.literal(PaymentStatus.PENDING.value),
                sa.func.sum(live.c.amount),
                sa.func.min(live.c.currency),
                NOW,
                UNTIL,
            ).having(sa.func.count() > 0),
        )
        .returning(payment_t.c.id, payment_t.c.total_amount)
        .cte("payment")
    )
    made = sa.exists(sa.select(payment.c.id))
    attached = (
        sa.update(item_t)
        .where(item_t.c.id.in_(sa.select(live.c.id)), made)
        .values(payment_id=PAYMENT)
    )
    lapsed_items = (
        sa.update(item_t)
        .where(item_t.c.id.in_(sa.select(items.c.id).where(items.c.hold_expires_at <= NOW)))
        .values(active=False, released_at=NOW, release_reason="lapsed")
    )
    closed = (
        sa.update(cart_t)
        .where(cart_t.c.id == CART, made)
        .values(status=CartStatus.BOOKED.value, updated_at=NOW)
    )
    logged = audit.insert_from(
        sa.select(
            NOW.label("at"),
            ACTOR.label("actor"),
            audit.literal("seat_booked", "action"),
            CART.label("cart_id"),
            PAYMENT.label("payment_id"),
            booked.c.event_id,
            booked.c.seat_id,
            audit.literal(SeatStatus.HELD.label, "from_status"),
            audit.literal(SeatStatus.BOOKED.label, "to_status"),
            live.c.amount,
        ).join(
            live, sa.and_(live.c.event_id == booked.c.event_id, live.c.seat_id == booked.c.seat_id)
        ),
        sa.select(
            NOW.label("at"),
            ACTOR.label("actor"),
            audit.literal("payment_created", "action"),
            CART.label("cart_id"),
            payment.c.id.label("payment_id"),
            audit.literal(PaymentStatus.PENDING.value, "to_status"),
            payment.c.total_amount.label("amount"),
        ),
    )
    return (
        sa.select(
            live.c.event_id,
            live.c.seat_id,
            live.c.amount,
            live.c.currency,
            booked.c.seat_id.label("booked"),
        )
        .select_from(
            live.outerjoin(
                booked,
                sa.and_(booked.c.event_id == live.c.event_id, booked.c.seat_id == live.c.seat_id),
            )
        )
        .add_cte(
            attached.cte("attached"),
            _LAPSED_SEATS.cte("lapsed_seats"),
            lapsed_items.cte("lapsed_items"),
            closed.cte("closed"),
            logged.cte("logged"),
        )
    )


_PG_BOOK = _postgres_book()


@command
async def book_cart(
    conn: AsyncConnection,
    *,
    cart_id: uuid.UUID,
    now: datetime,
    policy: CartPolicy,
    caller: Principal | None = None,
    idempotency_key: str | None = None,
) -> PaymentView:
    """Turn every held seat of the cart into a booked seat under one new pending payment.

    Idempotent: booking a cart that already has a payment returns that payment. When the policy
    refuses anonymous checkout, only a signed-in customer may book (AUTH_REQUIRED).
    """
    check_cart_id(cart_id)
    if caller is None and not policy.anonymous_checkout:
        raise TicketingError(
            ErrorCode.AUTH_REQUIRED, "Sign in to book: this service sells to customers only."
        )
    once = idempotency.once(
        idempotency_key, caller=caller, command="book_cart", arguments={"cart_id": cart_id}
    )
    return await idempotency.within(
        conn,
        once,
        PAYMENT_VIEW,
        lambda: _book(conn, cart_id=cart_id, now=now, policy=policy, caller=caller),
        now=now,
    )


async def _book(
    conn: AsyncConnection,
    *,
    cart_id: uuid.UUID,
    now: datetime,
    policy: CartPolicy,
    caller: Principal | None,
) -> PaymentView:
    status = await lock_visible_cart(conn, cart_id=cart_id, caller=caller)
    if status is None:
        raise _cart_empty(cart_id)
    if status is not CartStatus.OPEN:  # booked before: its payment, as it is now
        payment_id = await conn.scalar(
            sa.select(payment_t.c.id).where(payment_t.c.cart_id == cart_id)
        )
        assert payment_id is not None, "a cart leaves `open` only by being booked"
        return await load_payment(conn, payment_id=payment_id, now=now, caller=caller)
    payment_id = uuid.uuid4()
    until = now + timedelta(seconds=policy.payment_timeout_seconds)
    params: dict[str, Any] = {
        "cart": cart_id,
        "payment": payment_id,
        "now": now,
        "until": until,
        "actor": audit.actor_of(caller),
    }
    if conn.dialect.name == "postgresql":
        live = (await conn.execute(_PG_BOOK, params)).all()
        booked = {(row.event_id, row.seat_id) for row in live if row.booked is not None}
        seats_changed(conn, {event for event, _ in booked})
    else:
        live, booked = await _book_step_by_step(conn, params)
    if not live:
        raise _cart_empty(cart_id)
    if booked != {(item.event_id, item.seat_id) for item in live}:
        # the held seats and live items agree (one cart lock); what differs is off sale now:
        # raising rolls the whole booking back
        off_sale = sorted({item.event_id for item in live} - {event for event, _ in booked})
        raise TicketingError(
            ErrorCode.EVENT_NOT_ON_SALE,
            f"Event {off_sale[0] if off_sale else ''} is not on sale any more; remove its seats.",
            context={"event_id": off_sale[0]} if off_sale else None,
        )
    total = money(sum((item.amount for item in live), Decimal(0)))
    payment = PaymentRow(
        id=payment_id,
        cart_id=cart_id,
        status=PaymentStatus.PENDING.value,
        total_amount=total,
        currency=live[0].currency,
        created_at=now,
        expires_at=until,
        finalized_at=None,
    )
    return payment_view(payment, now, ())  # as written above: no need to read it back


async def _book_step_by_step(
    conn: AsyncConnection, params: dict[str, Any]
) -> tuple[list[Any], set[tuple[int, int]]]:
    """SQLite has one writer at a time: the statements of `_postgres_book`, one by one."""
    now, cart_id, payment_id = params["now"], params["cart"], params["payment"]
    items = (await conn.execute(_UNBOOKED, params)).all()
    live = [item for item in items if item.hold_expires_at > now]
    if not live:
        return [], set()
    booked = {(row.event_id, row.seat_id) for row in await conn.execute(_BOOK, params)}
    if booked != {(item.event_id, item.seat_id) for item in live}:
        return live, booked  # refused by the caller, which rolls this back
    total = money(sum((item.amount for item in live), Decimal(0)))
    await conn.execute(
        payment_t.insert().values(
            id=payment_id,
            cart_id=cart_id,
            status=PaymentStatus.PENDING.value,
            total_amount=total,
            currency=live[0].currency,
            created_at=now,
            expires_at=params["until"],
        )
    )
    await conn.execute(
        sa.update(item_t)
        .where(item_t.c.id.in_([item.id for item in live]))
        .values(payment_id=payment_id)
    )
    if len(live) < len(items):
        await conn.execute(_LAPSED_SEATS, params)
        await conn.execute(
            sa.update(item_t)
            .where(item_t.c.id.in_([item.id for item in items if item.hold_expires_at <= now]))
            .values(active=False, released_at=now, release_reason="lapsed")
        )
    await set_status(conn, cart_id=cart_id, status=CartStatus.BOOKED, now=now)
    await audit.record(
        conn,
        [
            audit.seat_entry(
                action="seat_booked",
                event_id=item.event_id,
                seat_id=item.seat_id,
                from_status=SeatStatus.HELD,
                to_status=SeatStatus.BOOKED,
                cart_id=cart_id,
                payment_id=payment_id,
                amount=item.amount,
            )
            for item in live
        ]
        + [
            {
                "action": "payment_created",
                "cart_id": cart_id,
                "payment_id": payment_id,
                "to_status": PaymentStatus.PENDING.value,
                "amount": total,
            }
        ],
        at=now,
        actor=params["actor"],
    )
    return live, booked


def _cart_empty(cart_id: uuid.UUID) -> TicketingError:
    return TicketingError(
        ErrorCode.CART_EMPTY,
        f"Cart {cart_id} holds no seats to book.",
        field=("cart_id",),
        context={"cart_id": str(cart_id)},
    )

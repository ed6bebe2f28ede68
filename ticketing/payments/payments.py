"""Payments: read one, and finish it: completed (seats sold, tickets issued) or failed (seats
back on sale). A payment's status changes once, under its cart's lock, by a conditional UPDATE."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing import idempotency
from ticketing.db import command, query
from ticketing.domain import (
    PaymentStatus,
    PaymentView,
    Principal,
    ProviderSignature,
    SeatStatus,
    TicketView,
    check_payment_outcome,
    effective_payment_status,
)
from ticketing.errors import ErrorCode, TicketingError, not_found
from ticketing.inventory import audit
from ticketing.inventory.stamps import seats_changed, stamped
from ticketing.models import (
    cart_t,
    event_seat_t,
    event_section_t,
    event_t,
    item_t,
    payment_t,
    price_level_t,
    ticket_t,
    venue_t,
)
from ticketing.notifications.outbox import Kind, payload_of, payment_messages
from ticketing.orders.carts import cart_visible, me
from ticketing.payments import signatures
from ticketing.settings import PaymentPolicy
from ticketing.tickets.codes import new_code, postgres_code

PAYMENT_VIEW = TypeAdapter(PaymentView)
"""A payment as an idempotency key keeps it."""

_B = sa.bindparam
PAYMENT = _B("payment", type_=payment_t.c.id.type)
NOW = _B("now", type_=payment_t.c.finalized_at.type)
ACTOR = _B("actor", type_=sa.String())


# --- reading ------------------------------------------------------------------------------


def tickets_select(tickets: sa.FromClause) -> sa.Select[Any]:
    """Tickets (rows of `ticket`, or like them) with what a ticket shows."""
    return (
        sa.select(
            tickets.c.id,
            tickets.c.payment_id,
            tickets.c.event_id,
            event_t.c.name.label("event_name"),
            event_t.c.starts_at,
            event_t.c.currency,
            venue_t.c.name.label("venue_name"),
            event_section_t.c.name.label("section_name"),
            event_seat_t.c.row_name,
            event_seat_t.c.number,
            tickets.c.seat_id,
            price_level_t.c.name.label("price_name"),
            tickets.c.amount,
            event_section_t.c.position.label("section_position"),
            event_seat_t.c.position.label("seat_position"),
        )
        .join(event_t, event_t.c.id == tickets.c.event_id)
        .join(venue_t, venue_t.c.id == event_t.c.venue_id)
        .join(
            event_seat_t,
            sa.and_(
                event_seat_t.c.event_id == tickets.c.event_id,
                event_seat_t.c.seat_id == tickets.c.seat_id,
            ),
        )
        .join(
            event_section_t,
            sa.and_(
                event_section_t.c.event_id == event_seat_t.c.event_id,
                event_section_t.c.section_id == event_seat_t.c.section_id,
            ),
        )
        .join(price_level_t, price_level_t.c.id == tickets.c.price_level_id)
    )


def in_ticket_order(rows: Iterable[Any], prefix: str = "") -> list[Any]:
    """Tickets as they print: by the event's start, then the section's and the seat's place."""

    def key(row: Any) -> tuple[Any, ...]:
        return tuple(getattr(row, prefix + name) for name in _ORDER)

    return sorted((row for row in rows if getattr(row, prefix + "id") is not None), key=key)


_ORDER = ("starts_at", "section_position", "seat_position")


def ticket_views(rows: Iterable[Any], prefix: str = "") -> dict[uuid.UUID, tuple[TicketView, ...]]:
    """TicketViews by payment, from rows of `tickets_select` (columns named `prefix` + ...)."""
    tickets: dict[uuid.UUID, list[TicketView]] = {}
    for row in in_ticket_order(rows, prefix):
        value = {name: getattr(row, prefix + name) for name in _TICKET_COLUMNS}
        tickets.setdefault(value.pop("payment_id"), []).append(
            TicketView(row=value.pop("row_name"), **value)
        )
    return {payment_id: tuple(found) for payment_id, found in tickets.items()}


_ISSUED = ("id", "payment_id", "event_id", "seat_id", "price_level_id", "amount")
_TICKET_COLUMNS = (
    "id",
    "payment_id",
    "event_id",
    "event_name",
    "starts_at",
    "venue_name",
    "section_name",
    "row_name",
    "number",
    "seat_id",
    "price_name",
    "amount",
    "currency",
)


async def _tickets_of(
    conn: AsyncConnection, payment_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[TicketView, ...]]:
    if not payment_ids:
        return {}
    # a void ticket (refunded) admits nobody: it is no longer one of the order's tickets
    rows = await conn.execute(
        tickets_select(ticket_t).where(
            ticket_t.c.payment_id.in_(payment_ids), ticket_t.c.voided_at.is_(None)
        )
    )
    return ticket_views(rows)


@dataclasses.dataclass(frozen=True, slots=True)
class PaymentRow:
    """A payment row's columns, as `payment_view` reads them."""

    id: uuid.UUID
    cart_id: uuid.UUID
    status: str
    total_amount: Decimal
    currency: str
    created_at: datetime
    expires_at: datetime
    finalized_at: datetime | None


_PAYMENT_FIELDS = tuple(field.name for field in dataclasses.fields(PaymentRow))
PAYMENT_COLUMNS = tuple(payment_t.c[name] for name in _PAYMENT_FIELDS)


def payment_row(row: Any) -> PaymentRow:
    """A payment from a row that has (at least) the payment's columns."""
    return PaymentRow(*(getattr(row, name) for name in _PAYMENT_FIELDS))


def payment_view(row: Any, now: datetime, tickets: tuple[TicketView, ...]) -> PaymentView:
    status = effective_payment_status(row.status, row.expires_at, now)
    return PaymentView(
        payment_id=row.id,
        cart_id=row.cart_id,
        status=status,
        total_amount=row.total_amount,
        currency=row.currency,
        created_at=row.created_at,
        expires_at=row.expires_at,
        # An overdue payment ended at its deadline, whether or not the sweep has written it down.
        finalized_at=row.finalized_at
        or (row.expires_at if status is PaymentStatus.EXPIRED else None),
        tickets=tickets if status is PaymentStatus.COMPLETED else (),
    )


async def load_payment(
    conn: AsyncConnection, *, payment_id: uuid.UUID, now: datetime, caller: Principal | None
) -> PaymentView:
    """The payment as its cart's owner sees it; NOT_FOUND for anyone else when the cart is
    bound to a customer."""
    row = (
        await conn.execute(
            sa.select(*PAYMENT_COLUMNS)
            .join(cart_t, cart_t.c.id == payment_t.c.cart_id)
            .where(payment_t.c.id == payment_id, cart_visible()),
            {"me": me(caller)},
        )
    ).one_or_none()
    if row is None:
        raise not_found("Payment", payment_id, field="payment_id")
    completed = effective_payment_status(row.status, row.expires_at, now) is PaymentStatus.COMPLETED
    tickets = (await _tickets_of(conn, [payment_id])).get(payment_id, ()) if completed else ()
    return payment_view(row, now, tickets)


@query
async def get_payment(
    conn: AsyncConnection, *, payment_id: uuid.UUID, now: datetime, caller: Principal | None = None
) -> PaymentView:
    return await load_payment(conn, payment_id=payment_id, now=now, caller=caller)


@query
async def get_payments(
    conn: AsyncConnection,
    *,
    payment_ids: Sequence[uuid.UUID],
    now: datetime,
    caller: Principal | None = None,
) -> dict[uuid.UUID, PaymentView]:
    """Many payments in two statements, as `get_payment` sees each; those the caller may not
    see (or that do not exist) are left out."""
    if not payment_ids:
        return {}
    rows = (
        await conn.execute(
            sa.select(*PAYMENT_COLUMNS)
            .join(cart_t, cart_t.c.id == payment_t.c.cart_id)
            .where(payment_t.c.id.in_(payment_ids), cart_visible()),
            {"me": me(caller)},
        )
    ).all()
    completed = [
        row.id
        for row in rows
        if effective_payment_status(row.status, row.expires_at, now) is PaymentStatus.COMPLETED
    ]
    tickets = await _tickets_of(conn, completed)
    return {row.id: payment_view(row, now, tickets.get(row.id, ())) for row in rows}


@query
async def list_payments(
    conn: AsyncConnection, *, owner: Principal, now: datetime, limit: int = 100
) -> list[PaymentView]:
    """A customer's payments, newest first, with the tickets of the completed ones."""
    rows = (
        await conn.execute(
            sa.select(*PAYMENT_COLUMNS)
            .join(cart_t, cart_t.c.id == payment_t.c.cart_id)
            .where(cart_t.c.owner_id == owner.user_id)
            .order_by(payment_t.c.created_at.desc(), payment_t.c.id)
            .limit(limit)
        )
    ).all()
    completed = [row.id for row in rows if row.status == PaymentStatus.COMPLETED.value]
    tickets = await _tickets_of(conn, completed)
    return [payment_view(row, now, tickets.get(row.id, ())) for row in rows]


# --- who may finish a payment -----------------------------------------------------------


class Finisher(NamedTuple):
    """Who reports a payment's outcome, as `authorize` found."""

    caller: Principal | None
    actor: str  # for the audit log
    provider: bool  # the provider's signed callback: it may finish any payment
    owner_only: bool  # a customer abandoning his payment: his own cart's only


def authorize(
    policy: PaymentPolicy,
    *,
    payment_id: uuid.UUID,
    outcome: PaymentStatus,
    signature: ProviderSignature | None,
    caller: Principal | None,
    now: datetime,
) -> Finisher:
    """With a secret, only the provider's signed callback finishes a payment; a signed-in
    customer may still abandon (fail) his own. Without one (test payments), anyone may."""
    if policy.secret_value is None:
        return Finisher(caller, audit.actor_of(caller), provider=False, owner_only=False)
    if signature is not None:
        signatures.verify(
            policy.secret_value,
            signature.header,
            payment_id=payment_id,
            outcome=_CALLBACK_OUTCOME[outcome],
            now=now,
            tolerance_seconds=policy.signature_tolerance_seconds,
        )
        return Finisher(None, "provider", provider=True, owner_only=False)
    if outcome is PaymentStatus.FAILED and caller is not None:
        return Finisher(caller, audit.actor_of(caller), provider=False, owner_only=True)
    raise TicketingError(
        ErrorCode.FORBIDDEN,
        "Payments are finished by the payment provider's signed callback; a signed-in customer "
        "may abandon (fail) his own pending payment.",
        context={"payment_id": str(payment_id)},
    )


_CALLBACK_OUTCOME = {PaymentStatus.COMPLETED: "complete", PaymentStatus.FAILED: "failed"}

# Lock the payment's cart (the lock every change of a cart or its payment takes first, so that
# they run one after another): the statement after it reads what committed before the lock.
_LOCK_CART_OF_PAYMENT = (
    sa.select(cart_t.c.id, cart_t.c.owner_id, cart_visible().label("visible"))
    .where(
        cart_t.c.id
        == sa.select(payment_t.c.cart_id).where(payment_t.c.id == PAYMENT).scalar_subquery()
    )
    .with_for_update()
)


async def _lock(conn: AsyncConnection, *, payment_id: uuid.UUID, finisher: Finisher) -> uuid.UUID:
    """Lock the payment's cart; NOT_FOUND for another customer's payment (but to the provider),
    FORBIDDEN for a customer abandoning a payment not booked by a signed-in customer. An
    unbound cart stays unbound: a payment operation never makes a customer its owner."""
    row = (
        await conn.execute(
            _LOCK_CART_OF_PAYMENT, {"payment": payment_id, "me": me(finisher.caller)}
        )
    ).one_or_none()
    if row is None or not (row.visible or finisher.provider):
        raise not_found("Payment", payment_id, field="payment_id")
    if finisher.owner_only and row.owner_id is None:
        raise TicketingError(
            ErrorCode.FORBIDDEN,
            f"Payment {payment_id} was not booked by a signed-in customer: only the payment "
            "provider finishes it.",
            context={"payment_id": str(payment_id)},
        )
    cart_id: uuid.UUID = row.id
    return cart_id


# --- the statements of finishing a payment ---------------------------------------------------

_PAYMENT_NOW = sa.select(*PAYMENT_COLUMNS).where(payment_t.c.id == PAYMENT)
_OPEN = sa.and_(
    payment_t.c.id == PAYMENT,
    payment_t.c.status == PaymentStatus.PENDING.value,
    payment_t.c.expires_at > NOW,
)
_CART_OF_OPEN_PAYMENT = sa.select(payment_t.c.cart_id).where(_OPEN).scalar_subquery()
_ITEMS = sa.select(
    item_t.c.event_id, item_t.c.seat_id, item_t.c.price_level_id, item_t.c.amount
).where(item_t.c.payment_id == PAYMENT, item_t.c.active)

_SELL = (
    sa.update(event_seat_t)
    .where(
        event_seat_t.c.cart_id == _CART_OF_OPEN_PAYMENT,
        event_seat_t.c.status == SeatStatus.BOOKED,
        event_seat_t.c.expires_at > NOW,
    )
    .values(status=SeatStatus.SOLD, expires_at=None, **stamped())
    .returning(event_seat_t.c.event_id, event_seat_t.c.seat_id)
)


def _release(payment_cart: sa.ScalarSelect[Any]) -> sa.Update:
    return (
        sa.update(event_seat_t)
        .where(event_seat_t.c.cart_id == payment_cart, event_seat_t.c.status == SeatStatus.BOOKED)
        .values(status=SeatStatus.AVAILABLE, cart_id=None, expires_at=None, **stamped())
        .returning(event_seat_t.c.event_id, event_seat_t.c.seat_id)
    )


_RELEASE = _release(_CART_OF_OPEN_PAYMENT)
# the sweep's: a payment pending past its deadline
_RELEASE_PENDING = _release(
    sa.select(payment_t.c.cart_id)
    .where(payment_t.c.id == PAYMENT, payment_t.c.status == PaymentStatus.PENDING.value)
    .scalar_subquery()
)


def _finish(outcome: PaymentStatus) -> sa.Update:
    return (
        sa.update(payment_t)
        .where(_OPEN)
        .values(status=outcome.value, finalized_at=NOW)
        .returning(payment_t.c.cart_id)
    )


def _close_cart(outcome: PaymentStatus, finished: sa.FromClause | None = None) -> sa.Update:
    which = (
        sa.select(finished.c.cart_id).scalar_subquery()
        if finished is not None
        else sa.select(payment_t.c.cart_id).where(payment_t.c.id == PAYMENT).scalar_subquery()
    )
    return (
        sa.update(cart_t)
        .where(cart_t.c.id == which)
        .values(status=outcome.cart_status.value, updated_at=NOW)
    )


_RELEASE_ITEMS = (
    sa.update(item_t)
    .where(item_t.c.payment_id == PAYMENT, item_t.c.active)
    .values(active=False, released_at=NOW, release_reason=_B("reason", type_=sa.String()))
)


def _payment_entry(outcome: PaymentStatus) -> dict[str, Any]:
    return {
        "action": f"payment_{outcome.value}",
        "from_status": PaymentStatus.PENDING.value,
        "to_status": outcome.value,
    }


_KIND = {
    PaymentStatus.COMPLETED: Kind.ORDER_CONFIRMED,
    PaymentStatus.FAILED: Kind.PAYMENT_FAILED,
    PaymentStatus.EXPIRED: Kind.PAYMENT_EXPIRED,
}


def _announce(outcome: PaymentStatus, only_if: sa.FromClause | None = None) -> sa.Insert:
    """The outbox rows of a payment's end, in its transaction (`only_if`: a CTE that has a row
    only when the statement ended the payment)."""
    finished = sa.exists(sa.select(only_if.c.cart_id)) if only_if is not None else None
    return payment_messages(_KIND[outcome], payment=PAYMENT, now=NOW, only_if=finished)


_ANNOUNCE = {outcome: _announce(outcome) for outcome in _KIND}


def _postgres_complete() -> sa.Select[Any]:
    """Complete a payment in one statement (run after the cart's lock): sell its seats, close
    it and its cart, issue the tickets, log it; answer the payment and its tickets."""
    items = _ITEMS.cte("items")
    sold = _SELL.cte("sold")
    finished = (
        _finish(PaymentStatus.COMPLETED).where(sa.exists(sa.select(sold.c.seat_id))).cte("finished")
    )
    matched = (
        sa.select(items)
        .join(sold, sa.and_(sold.c.event_id == items.c.event_id, sold.c.seat_id == items.c.seat_id))
        .where(sa.exists(sa.select(finished.c.cart_id)))
        .subquery("matched")
    )
    issued = (
        ticket_t.insert()
        .from_select(
            [
                "id",
                "payment_id",
                "event_id",
                "seat_id",
                "price_level_id",
                "amount",
                "issued_at",
                "code",
            ],
            sa.select(
                sa.func.gen_random_uuid(),
                PAYMENT,
                matched.c.event_id,
                matched.c.seat_id,
                matched.c.price_level_id,
                matched.c.amount,
                NOW,
                postgres_code(),
            ),
        )
        .returning(*(ticket_t.c[name] for name in _ISSUED))
        .cte("issued")
    )
    seat_rows = sa.select(
        NOW.label("at"),
        ACTOR.label("actor"),
        audit.literal("seat_sold", "action"),
        sa.select(finished.c.cart_id).scalar_subquery().label("cart_id"),
        PAYMENT.label("payment_id"),
        matched.c.event_id,
        matched.c.seat_id,
        audit.literal(SeatStatus.BOOKED.label, "from_status"),
        audit.literal(SeatStatus.SOLD.label, "to_status"),
        matched.c.amount,
    )
    entry = _payment_entry(PaymentStatus.COMPLETED)
    payment_row = sa.select(
        NOW.label("at"),
        ACTOR.label("actor"),
        audit.literal(entry["action"], "action"),
        finished.c.cart_id,
        PAYMENT.label("payment_id"),
        audit.literal(entry["from_status"], "from_status"),
        audit.literal(entry["to_status"], "to_status"),
    )
    existing = sa.select(*(ticket_t.c[name] for name in _ISSUED)).where(
        ticket_t.c.payment_id == PAYMENT
    )
    tickets = tickets_select(
        sa.union_all(sa.select(issued), existing).subquery("tickets")
    ).subquery("named")
    payment = _PAYMENT_NOW.subquery("payment_now")
    return (
        sa.select(
            *payment.c,
            sa.select(sa.func.count()).select_from(items).scalar_subquery().label("items"),
            sa.select(sa.func.count()).select_from(sold).scalar_subquery().label("sold"),
            sa.select(finished.c.cart_id).scalar_subquery().label("finished"),
            *(column.label(TICKET + column.name) for column in tickets.c),
        )
        .select_from(payment.outerjoin(tickets, sa.true()))
        .add_cte(
            _close_cart(PaymentStatus.COMPLETED, finished).cte("closed"),
            audit.insert_from(seat_rows, payment_row).cte("logged"),
            _announce(PaymentStatus.COMPLETED, only_if=finished).cte("announced"),
        )
    )


TICKET = "ticket_"  # the prefix of the ticket columns in the answer of _PG_COMPLETE
_PG_COMPLETE = _postgres_complete()


def _postgres_fail() -> sa.Select[Any]:
    """Fail a payment in one statement (run after the cart's lock): put its seats back on sale,
    close it, its items and its cart, log it; answer the payment as it was."""
    released = _RELEASE.cte("released")
    finished = _finish(PaymentStatus.FAILED).cte("finished")
    entry = _payment_entry(PaymentStatus.FAILED)
    seat_rows = sa.select(
        NOW.label("at"),
        ACTOR.label("actor"),
        audit.literal("seat_released", "action"),
        sa.select(finished.c.cart_id).scalar_subquery().label("cart_id"),
        PAYMENT.label("payment_id"),
        released.c.event_id,
        released.c.seat_id,
        audit.literal(SeatStatus.BOOKED.label, "from_status"),
        audit.literal(SeatStatus.AVAILABLE.label, "to_status"),
    )
    payment_row = sa.select(
        NOW.label("at"),
        ACTOR.label("actor"),
        audit.literal(entry["action"], "action"),
        finished.c.cart_id,
        PAYMENT.label("payment_id"),
        audit.literal(entry["from_status"], "from_status"),
        audit.literal(entry["to_status"], "to_status"),
    )
    items_released = _RELEASE_ITEMS.where(sa.exists(sa.select(finished.c.cart_id)))
    payment = _PAYMENT_NOW.subquery("payment_now")
    return sa.select(
        *payment.c,
        sa.select(finished.c.cart_id).scalar_subquery().label("finished"),
        sa.select(sa.func.array_agg(sa.distinct(released.c.event_id)))
        .scalar_subquery()
        .label("released_events"),
    ).add_cte(
        released,
        items_released.cte("items_released"),
        _close_cart(PaymentStatus.FAILED, finished).cte("closed"),
        audit.insert_from(seat_rows, payment_row).cte("logged"),
        _announce(PaymentStatus.FAILED, only_if=finished).cte("announced"),
    )


_PG_FAIL = _postgres_fail()


# --- finishing a payment -------------------------------------------------------------------


@command
async def complete_payment(
    conn: AsyncConnection,
    *,
    payment_id: uuid.UUID,
    now: datetime,
    policy: PaymentPolicy,
    signature: ProviderSignature | None = None,
    caller: Principal | None = None,
    idempotency_key: str | None = None,
) -> PaymentView:
    """The payment went through: its seats are sold and a ticket is issued for each."""
    finisher = authorize(
        policy,
        payment_id=payment_id,
        outcome=PaymentStatus.COMPLETED,
        signature=signature,
        caller=caller,
        now=now,
    )
    once = idempotency.once(
        idempotency_key,
        caller=finisher.caller,
        command="complete_payment",
        arguments={"payment_id": payment_id},
    )
    return await idempotency.within(
        conn,
        once,
        PAYMENT_VIEW,
        lambda: _complete(conn, payment_id=payment_id, now=now, finisher=finisher),
        now=now,
    )


async def _complete(
    conn: AsyncConnection, *, payment_id: uuid.UUID, now: datetime, finisher: Finisher
) -> PaymentView:
    await _lock(conn, payment_id=payment_id, finisher=finisher)
    params = {
        "payment": payment_id,
        "now": now,
        "actor": finisher.actor,
        "outbox_payload": payload_of(payment_id=payment_id),
    }
    if conn.dialect.name == "postgresql":
        rows = (await conn.execute(_PG_COMPLETE, params)).all()
        row = payment_row(rows[0])
        items, sold, finished = rows[0].items, rows[0].sold, rows[0].finished is not None
        tickets = ticket_views(rows, TICKET).get(payment_id, ())
        if finished:
            seats_changed(conn, {ticket.event_id for ticket in tickets})
    else:
        row, items, sold, finished, tickets = await _complete_step_by_step(conn, params)
    status = effective_payment_status(row.status, row.expires_at, now)
    if finished:
        return payment_view(
            dataclasses.replace(row, status=PaymentStatus.COMPLETED.value, finalized_at=now),
            now,
            tickets,
        )
    check_payment_outcome(current=status, requested=PaymentStatus.COMPLETED, payment_id=payment_id)
    if status is PaymentStatus.COMPLETED:
        return payment_view(row, now, tickets)
    # Pending, yet not every seat could be sold: a worker whose clock ran ahead treated the
    # payment as expired and resold a seat. Rolling back leaves every seat where it is.
    assert items != sold or not items
    raise TicketingError(
        ErrorCode.PAYMENT_EXPIRED,
        f"Payment {payment_id} expired; its seats were released. Start a new cart.",
        context={"payment_id": str(payment_id)},
    )


async def _complete_step_by_step(
    conn: AsyncConnection, params: dict[str, Any]
) -> tuple[PaymentRow, int, int, bool, tuple[TicketView, ...]]:
    """SQLite has one writer at a time: the statements of `_postgres_complete`, one by one."""
    payment_id, now = params["payment"], params["now"]
    row = payment_row((await conn.execute(_PAYMENT_NOW, params)).one())
    items = (await conn.execute(_ITEMS, params)).all()
    status = effective_payment_status(row.status, row.expires_at, now)
    if status is not PaymentStatus.PENDING:
        tickets = (await _tickets_of(conn, [payment_id])).get(payment_id, ())
        return row, len(items), 0, False, tickets
    sold = {(seat.event_id, seat.seat_id) for seat in await conn.execute(_SELL, params)}
    if not items or sold != {(item.event_id, item.seat_id) for item in items}:
        return row, len(items), len(sold), False, ()
    await conn.execute(_finish(PaymentStatus.COMPLETED), params)
    await conn.execute(_close_cart(PaymentStatus.COMPLETED), params)
    await conn.execute(
        ticket_t.insert(),
        [
            {
                "id": uuid.uuid4(),
                "payment_id": payment_id,
                "event_id": item.event_id,
                "seat_id": item.seat_id,
                "price_level_id": item.price_level_id,
                "amount": item.amount,
                "issued_at": now,
                "code": new_code(),
            }
            for item in items
        ],
    )
    await audit.record(
        conn,
        [
            audit.seat_entry(
                action="seat_sold",
                event_id=item.event_id,
                seat_id=item.seat_id,
                from_status=SeatStatus.BOOKED,
                to_status=SeatStatus.SOLD,
                cart_id=row.cart_id,
                payment_id=payment_id,
                amount=item.amount,
            )
            for item in items
        ]
        + [
            {
                **_payment_entry(PaymentStatus.COMPLETED),
                "cart_id": row.cart_id,
                "payment_id": payment_id,
            }
        ],
        at=now,
        actor=params["actor"],
    )
    await conn.execute(_ANNOUNCE[PaymentStatus.COMPLETED], params)
    tickets = (await _tickets_of(conn, [payment_id])).get(payment_id, ())
    return row, len(items), len(sold), True, tickets


@command
async def fail_payment(
    conn: AsyncConnection,
    *,
    payment_id: uuid.UUID,
    now: datetime,
    policy: PaymentPolicy,
    signature: ProviderSignature | None = None,
    caller: Principal | None = None,
    idempotency_key: str | None = None,
) -> PaymentView:
    """The payment did not go through (or its customer abandoned it): its seats are on sale
    again and the cart is closed."""
    finisher = authorize(
        policy,
        payment_id=payment_id,
        outcome=PaymentStatus.FAILED,
        signature=signature,
        caller=caller,
        now=now,
    )
    once = idempotency.once(
        idempotency_key,
        caller=finisher.caller,
        command="fail_payment",
        arguments={"payment_id": payment_id},
    )
    return await idempotency.within(
        conn,
        once,
        PAYMENT_VIEW,
        lambda: _fail(conn, payment_id=payment_id, now=now, finisher=finisher),
        now=now,
    )


async def _fail(
    conn: AsyncConnection, *, payment_id: uuid.UUID, now: datetime, finisher: Finisher
) -> PaymentView:
    await _lock(conn, payment_id=payment_id, finisher=finisher)
    params = {
        "payment": payment_id,
        "now": now,
        "actor": finisher.actor,
        "reason": "payment_failed",
        "outbox_payload": payload_of(payment_id=payment_id),
    }
    if conn.dialect.name == "postgresql":
        answer = (await conn.execute(_PG_FAIL, params)).one()
        row = payment_row(answer)
        finished = answer.finished is not None
        seats_changed(conn, answer.released_events or ())
    else:
        row = payment_row((await conn.execute(_PAYMENT_NOW, params)).one())
        finished = False
        if effective_payment_status(row.status, row.expires_at, now) is PaymentStatus.PENDING:
            await release_payment(conn, row=row, outcome=PaymentStatus.FAILED, params=params)
            finished = True
    if finished:
        failed = dataclasses.replace(row, status=PaymentStatus.FAILED.value, finalized_at=now)
        return payment_view(failed, now, ())
    status = effective_payment_status(row.status, row.expires_at, now)
    check_payment_outcome(current=status, requested=PaymentStatus.FAILED, payment_id=payment_id)
    return payment_view(row, now, ())  # failed before: no tickets


async def release_pending_payment(
    conn: AsyncConnection, *, payment_id: uuid.UUID, outcome: PaymentStatus, now: datetime
) -> None:
    """`release_payment` for the system (the sweep, a cancellation), by the payment's id."""
    found = sa.select(*PAYMENT_COLUMNS).where(payment_t.c.id == payment_id)
    row = payment_row((await conn.execute(found)).one())
    params = {"payment": payment_id, "now": now, "actor": "system"}
    await release_payment(conn, row=row, outcome=outcome, params=params)


async def release_payment(
    conn: AsyncConnection, *, row: PaymentRow, outcome: PaymentStatus, params: dict[str, Any]
) -> None:
    """Put a pending payment's seats back on sale and close it, its items and its cart as
    `outcome` (the caller holds the cart's lock)."""
    released = (await conn.execute(_RELEASE_PENDING, params)).all()
    await conn.execute(_RELEASE_ITEMS, {**params, "reason": f"payment_{outcome.value}"})
    await conn.execute(
        sa.update(payment_t)
        .where(payment_t.c.id == PAYMENT, payment_t.c.status == PaymentStatus.PENDING.value)
        .values(status=outcome.value, finalized_at=NOW),
        params,
    )
    await conn.execute(_close_cart(outcome), params)
    await audit.record(
        conn,
        [
            audit.seat_entry(
                action="seat_released",
                event_id=seat.event_id,
                seat_id=seat.seat_id,
                from_status=SeatStatus.BOOKED,
                to_status=SeatStatus.AVAILABLE,
                cart_id=row.cart_id,
                payment_id=row.id,
            )
            for seat in released
        ]
        + [{**_payment_entry(outcome), "cart_id": row.cart_id, "payment_id": row.id}],
        at=params["now"],
        actor=params["actor"],
    )
    await conn.execute(
        _ANNOUNCE[outcome], {**params, "outbox_payload": payload_of(payment_id=row.id)}
    )

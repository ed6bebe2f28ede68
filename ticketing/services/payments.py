"""Payment commands: complete (seats sold, tickets issued), fail or expire (seats back on sale).

A payment's status changes once, by a conditional UPDATE on `status = 'pending'`, so that of two
concurrent outcomes exactly one wins; repeating the winning call returns the same payment.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing import direct, idempotency, signatures
from ticketing.db import command, query, short_command, short_query
from ticketing.domain import (
    CartStatus,
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
from ticketing.services._sql import (
    actor_of,
    audit_seat,
    cart_visible,
    lock_cart,
    lock_cart_of_payment_later,
    me,
    note_seat_changes,
    record_audit,
)
from ticketing.settings import PaymentPolicy

# Prebuilt (see ticketing.services._sql): the statements of booking and paying.
_TICKETS = (
    sa.select(
        ticket_t.c.id,
        ticket_t.c.payment_id,
        ticket_t.c.event_id,
        event_t.c.name.label("event_name"),
        event_t.c.starts_at,
        event_t.c.currency,
        venue_t.c.name.label("venue_name"),
        event_section_t.c.name.label("section_name"),
        event_seat_t.c.row_name,
        event_seat_t.c.number,
        ticket_t.c.seat_id,
        price_level_t.c.name.label("price_name"),
        ticket_t.c.amount,
    )
    .join(event_t, event_t.c.id == ticket_t.c.event_id)
    .join(venue_t, venue_t.c.id == event_t.c.venue_id)
    .join(
        event_seat_t,
        sa.and_(
            event_seat_t.c.event_id == ticket_t.c.event_id,
            event_seat_t.c.seat_id == ticket_t.c.seat_id,
        ),
    )
    .join(
        event_section_t,
        sa.and_(
            event_section_t.c.event_id == event_seat_t.c.event_id,
            event_section_t.c.section_id == event_seat_t.c.section_id,
        ),
    )
    .join(price_level_t, price_level_t.c.id == ticket_t.c.price_level_id)
    .order_by(event_t.c.starts_at, event_section_t.c.position, event_seat_t.c.position)
)


_TICKETS_OF_ONE = direct.Direct(
    _TICKETS.where(
        ticket_t.c.payment_id == sa.bindparam("payment_id", type_=ticket_t.c.payment_id.type)
    )
)
_TICKETS = _TICKETS.where(ticket_t.c.payment_id.in_(sa.bindparam("payment_ids", expanding=True)))


async def _tickets(session: AsyncSession, payment_id: uuid.UUID) -> tuple[TicketView, ...]:
    rows = await direct.rows(session, _TICKETS_OF_ONE, {"payment_id": payment_id})
    return _ticket_views(rows).get(payment_id, ())


async def _tickets_of(
    session: AsyncSession, payment_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[TicketView, ...]]:
    return _ticket_views(await session.execute(_TICKETS, {"payment_ids": list(payment_ids)}))


def _ticket_views(rows: Iterable[Any]) -> dict[uuid.UUID, tuple[TicketView, ...]]:
    tickets: dict[uuid.UUID, list[TicketView]] = {}
    for row in rows:
        tickets.setdefault(row.payment_id, []).append(
            TicketView(
                id=row.id,
                event_id=row.event_id,
                event_name=row.event_name,
                starts_at=row.starts_at,
                venue_name=row.venue_name,
                section_name=row.section_name,
                row=row.row_name,
                number=row.number,
                seat_id=row.seat_id,
                price_name=row.price_name,
                amount=row.amount,
                currency=row.currency,
            )
        )
    return {payment_id: tuple(found) for payment_id, found in tickets.items()}


_B = sa.bindparam
PAYMENT_VIEW = TypeAdapter(PaymentView)
"""A payment as an idempotency key keeps it."""
# (see ticketing.services._sql on prebuilt statements)
_PAYMENT = direct.Direct(
    sa.select(payment_t)
    .join(cart_t, cart_t.c.id == payment_t.c.cart_id)
    .where(payment_t.c.id == _B("payment_id", type_=payment_t.c.id.type), cart_visible())
)


# a payment row's columns, in `PaymentRow`'s order
PAYMENT_ROW_COLUMNS = (
    "id",
    "cart_id",
    "status",
    "total_amount",
    "currency",
    "created_at",
    "expires_at",
    "finalized_at",
)
_LOCK_PAYMENT = direct.Direct(
    sa.select(payment_t.c.status, payment_t.c.expires_at)
    .where(payment_t.c.id == _B("payment_id", type_=payment_t.c.id.type))
    .with_for_update(),
    waits=True,  # its answer is read by `_PAYMENT_AND_ITEMS`, in the next round trip
)
# The payment (as `PaymentRow`), whether the caller may see it, and its active items: read
# right after the statements that lock its cart and then it.
_PAYMENT_AND_ITEMS = direct.Direct(
    sa.select(
        *(payment_t.c[name] for name in PAYMENT_ROW_COLUMNS),
        cart_visible().label("visible"),
        cart_t.c.owner_id,
        item_t.c.event_id,
        item_t.c.seat_id,
        item_t.c.price_level_id,
        item_t.c.amount,
    )
    .select_from(
        payment_t.join(cart_t, cart_t.c.id == payment_t.c.cart_id).outerjoin(
            item_t, sa.and_(item_t.c.payment_id == payment_t.c.id, item_t.c.active)
        )
    )
    .where(payment_t.c.id == _B("payment_id", type_=payment_t.c.id.type))
    .order_by(item_t.c.id)
)
# (an UPDATE's parameters may not be named like its table's columns)
_FINISH_PAYMENT = direct.Direct(
    sa.update(payment_t)
    .where(
        payment_t.c.id == _B("payment", type_=payment_t.c.id.type),
        payment_t.c.status == PaymentStatus.PENDING.value,
    )
    .values(
        status=_B("new_status", type_=payment_t.c.status.type),
        finalized_at=_B("at", type_=payment_t.c.finalized_at.type),
    ),
    waits=True,
)
SET_CART_STATUS = direct.Direct(
    sa.update(cart_t)
    .where(cart_t.c.id == _B("cart", type_=cart_t.c.id.type))
    .values(
        status=_B("new_status", type_=cart_t.c.status.type),
        updated_at=_B("now", type_=cart_t.c.updated_at.type),
    ),
    waits=True,
)
_SELL_SEATS = direct.Direct(
    sa.update(event_seat_t)
    .where(
        event_seat_t.c.cart_id == _B("holder", type_=event_seat_t.c.cart_id.type),
        event_seat_t.c.status == SeatStatus.BOOKED,
        event_seat_t.c.expires_at > _B("now", type_=event_seat_t.c.expires_at.type),
    )
    .values(status=SeatStatus.SOLD, expires_at=None)
    .returning(event_seat_t.c.event_id, event_seat_t.c.seat_id, event_seat_t.c.section_id)
)
_TICKET_COLUMNS = (
    "id",
    "payment_id",
    "event_id",
    "seat_id",
    "price_level_id",
    "amount",
    "issued_at",
)
_INSERT_TICKET = direct.Direct(
    sa.insert(ticket_t).values(
        {name: _B(name, type_=ticket_t.c[name].type) for name in _TICKET_COLUMNS}
    ),
    waits=True,
)
_RELEASE_BOOKED_SEATS = direct.Direct(
    sa.update(event_seat_t)
    .where(
        event_seat_t.c.cart_id == _B("holder", type_=event_seat_t.c.cart_id.type),
        event_seat_t.c.status == SeatStatus.BOOKED,
    )
    .values(status=SeatStatus.AVAILABLE, cart_id=None, expires_at=None)
    .returning(event_seat_t.c.event_id, event_seat_t.c.seat_id, event_seat_t.c.section_id)
)
_RELEASE_PAID_ITEMS = direct.Direct(
    sa.update(item_t)
    .where(item_t.c.payment_id == _B("payment", type_=item_t.c.payment_id.type), item_t.c.active)
    .values(
        active=False,
        released_at=_B("at", type_=item_t.c.released_at.type),
        release_reason=_B("reason", type_=item_t.c.release_reason.type),
    ),
    waits=True,
)


async def load_payment(
    session: AsyncSession,
    *,
    payment_id: uuid.UUID,
    now: datetime,
    caller: Principal | None = None,
) -> PaymentView:
    """The payment as its cart's owner sees it; NOT_FOUND for anyone else when the cart is
    bound to a customer."""
    row = await direct.one_or_none(session, _PAYMENT, {"payment_id": payment_id, "me": me(caller)})
    if row is None:
        raise not_found("Payment", payment_id, field="payment_id")
    status = effective_payment_status(row.status, row.expires_at, now)
    tickets = await _tickets(session, payment_id) if status is PaymentStatus.COMPLETED else ()
    return payment_view(row, now, tickets)


class PaymentRow(NamedTuple):
    """A payment row's columns, as `payment_view` reads them."""

    id: uuid.UUID
    cart_id: uuid.UUID
    status: str
    total_amount: Decimal
    currency: str
    created_at: datetime
    expires_at: datetime
    finalized_at: datetime | None


assert PaymentRow._fields == PAYMENT_ROW_COLUMNS


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


@query
async def list_payments(
    session: AsyncSession, *, owner: Principal, now: datetime, limit: int = 100
) -> list[PaymentView]:
    """A customer's payments, newest first, with the tickets of the completed ones."""
    rows = (
        await session.execute(
            sa.select(payment_t)
            .join(cart_t, cart_t.c.id == payment_t.c.cart_id)
            .where(cart_t.c.owner_id == owner.user_id)
            .order_by(payment_t.c.created_at.desc(), payment_t.c.id)
            .limit(limit)
        )
    ).all()
    completed = [row.id for row in rows if row.status == PaymentStatus.COMPLETED.value]
    tickets = await _tickets_of(session, completed) if completed else {}
    return [payment_view(row, now, tickets.get(row.id, ())) for row in rows]


@short_query
async def get_payment(
    session: AsyncSession,
    *,
    payment_id: uuid.UUID,
    now: datetime,
    caller: Principal | None = None,
) -> PaymentView:
    return await load_payment(session, payment_id=payment_id, now=now, caller=caller)


class _LockedPayment(NamedTuple):
    row: PaymentRow
    status: PaymentStatus  # as of `now`
    items: list[Any]  # its active cart items: event_id, seat_id, price_level_id, amount


class _Finisher(NamedTuple):
    """Who reports a payment's outcome, as `_authorize` found."""

    caller: Principal | None
    actor: str  # for the audit log
    provider: bool  # the provider's signed callback: it may finish any payment
    owner_only: bool  # a customer abandoning his payment: his own cart's only


def _authorize(
    policy: PaymentPolicy,
    *,
    payment_id: uuid.UUID,
    outcome: PaymentStatus,
    signature: ProviderSignature | None,
    caller: Principal | None,
    now: datetime,
) -> _Finisher:
    """With a secret, only the provider's signed callback finishes a payment; a signed-in
    customer may still abandon (fail) his own. Without one (test payments), anyone may."""
    if policy.secret is None:
        return _Finisher(caller, actor_of(caller), provider=False, owner_only=False)
    if signature is not None:
        signatures.verify(
            policy.secret,
            signature.header,
            payment_id=payment_id,
            outcome=_CALLBACK_OUTCOME[outcome],
            now=now,
            tolerance_seconds=policy.signature_tolerance_seconds,
        )
        return _Finisher(None, "provider", provider=True, owner_only=False)
    if outcome is PaymentStatus.FAILED and caller is not None:
        return _Finisher(caller, actor_of(caller), provider=False, owner_only=True)
    raise TicketingError(
        ErrorCode.FORBIDDEN,
        "Payments are finished by the payment provider's signed callback; a signed-in customer "
        "may abandon (fail) his own pending payment.",
        context={"payment_id": str(payment_id)},
    )


_CALLBACK_OUTCOME = {PaymentStatus.COMPLETED: "complete", PaymentStatus.FAILED: "failed"}


async def _lock_payment(
    session: AsyncSession, *, payment_id: uuid.UUID, now: datetime, finisher: _Finisher
) -> _LockedPayment:
    """Lock the payment's cart, then the payment (the global lock order), and read it with its
    items: one round trip on PostgreSQL (the locks wait for the read).

    Another customer's payment is NOT_FOUND (but to the provider); an unbound cart stays
    unbound."""
    # The cart is found through the payment (a payment's cart never changes).
    await lock_cart_of_payment_later(session, payment_id=payment_id)
    await direct.later(session, _LOCK_PAYMENT, {"payment_id": payment_id})
    rows = await direct.rows(
        session, _PAYMENT_AND_ITEMS, {"payment_id": payment_id, "me": me(finisher.caller)}
    )
    if not rows or not (rows[0].visible or finisher.provider):
        raise not_found("Payment", payment_id, field="payment_id")
    if finisher.owner_only and rows[0].owner_id is None:
        raise TicketingError(
            ErrorCode.FORBIDDEN,
            f"Payment {payment_id} was not booked by a signed-in customer: only the payment "
            "provider finishes it.",
            context={"payment_id": str(payment_id)},
        )
    row = PaymentRow(*rows[0][: len(PAYMENT_ROW_COLUMNS)])
    return _LockedPayment(
        row,
        effective_payment_status(row.status, row.expires_at, now),
        [item for item in rows if item.event_id is not None],
    )


async def _finish(
    session: AsyncSession,
    *,
    payment_id: uuid.UUID,
    cart_id: uuid.UUID,
    outcome: PaymentStatus,
    now: datetime,
) -> None:
    """Close the pending payment and its cart (the caller holds the cart's lock, under which
    a booked cart's payment stays pending)."""
    await direct.later(
        session, _FINISH_PAYMENT, {"payment": payment_id, "new_status": outcome.value, "at": now}
    )
    await direct.later(
        session,
        SET_CART_STATUS,
        {"cart": cart_id, "new_status": outcome.cart_status.value, "now": now},
    )


async def complete_payment(
    session: AsyncSession,
    *,
    payment_id: uuid.UUID,
    now: datetime,
    policy: PaymentPolicy,
    signature: ProviderSignature | None = None,
    caller: Principal | None = None,
    idempotency_key: str | None = None,
) -> PaymentView:
    """The payment went through: its seats are sold and a ticket is issued for each."""
    finisher = _authorize(
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
    return await idempotency.run_once(
        session,
        once,
        PAYMENT_VIEW,
        lambda: _complete(session, payment_id=payment_id, now=now, finisher=finisher, once=once),
        now=now,
    )


@short_command
async def _complete(
    session: AsyncSession,
    *,
    payment_id: uuid.UUID,
    now: datetime,
    finisher: _Finisher,
    once: idempotency.Once | None,
) -> PaymentView:
    await idempotency.claim(session, once, now=now)
    locked = await _lock_payment(session, payment_id=payment_id, now=now, finisher=finisher)
    cart_id, status, items = locked.row.cart_id, locked.status, locked.items
    check_payment_outcome(current=status, requested=PaymentStatus.COMPLETED, payment_id=payment_id)
    if status is PaymentStatus.COMPLETED:
        completed = payment_view(locked.row, now, await _tickets(session, payment_id))
        return await idempotency.keep(session, once, completed, PAYMENT_VIEW)

    sold = await direct.rows(session, _SELL_SEATS, {"holder": cart_id, "now": now})
    note_seat_changes(session, sold)
    if len(sold) != len(items) or not items:
        # A worker whose clock ran ahead treated the payment as expired and resold a seat: the
        # payment cannot be honoured any more. Rolling back leaves every seat where it is.
        raise TicketingError(
            ErrorCode.PAYMENT_EXPIRED,
            f"Payment {payment_id} expired; its seats were released. Start a new cart.",
            context={"payment_id": str(payment_id)},
        )
    await _finish(
        session, payment_id=payment_id, cart_id=cart_id, outcome=PaymentStatus.COMPLETED, now=now
    )
    await direct.later_many(
        session,
        _INSERT_TICKET,
        [
            {
                "id": uuid.uuid4(),
                "payment_id": payment_id,
                "event_id": item.event_id,
                "seat_id": item.seat_id,
                "price_level_id": item.price_level_id,
                "amount": item.amount,
                "issued_at": now,
            }
            for item in items
        ],
    )
    await record_audit(
        session,
        [
            audit_seat(
                action="seat_sold",
                event_id=item.event_id,
                seat_id=item.seat_id,
                from_status=SeatStatus.BOOKED,
                to_status=SeatStatus.SOLD,
                cart_id=cart_id,
                payment_id=payment_id,
                amount=item.amount,
            )
            for item in items
        ]
        + [_payment_audit(payment_id, cart_id, PaymentStatus.COMPLETED)],
        at=now,
        actor=finisher.actor,
    )
    # the payment as it is now, and the tickets as issued above (with what they print)
    row = locked.row._replace(status=PaymentStatus.COMPLETED.value, finalized_at=now)
    completed = payment_view(row, now, await _tickets(session, payment_id))
    return await idempotency.keep(session, once, completed, PAYMENT_VIEW)


def _payment_audit(
    payment_id: uuid.UUID, cart_id: uuid.UUID, outcome: PaymentStatus
) -> dict[str, object]:
    return {
        "action": f"payment_{outcome.value}",
        "cart_id": cart_id,
        "payment_id": payment_id,
        "from_status": PaymentStatus.PENDING.value,
        "to_status": outcome.value,
    }


async def _release_payment_seats(
    session: AsyncSession,
    *,
    payment_id: uuid.UUID,
    cart_id: uuid.UUID,
    outcome: PaymentStatus,
    now: datetime,
    actor: str,
) -> None:
    """Return the seats a payment still books to sale and close the payment as `outcome`."""
    released = await direct.rows(session, _RELEASE_BOOKED_SEATS, {"holder": cart_id})
    note_seat_changes(session, released)
    await direct.later(
        session,
        _RELEASE_PAID_ITEMS,
        {"payment": payment_id, "at": now, "reason": f"payment_{outcome.value}"},
    )
    await _finish(session, payment_id=payment_id, cart_id=cart_id, outcome=outcome, now=now)
    await record_audit(
        session,
        [
            audit_seat(
                action="seat_released",
                event_id=seat.event_id,
                seat_id=seat.seat_id,
                from_status=SeatStatus.BOOKED,
                to_status=SeatStatus.AVAILABLE,
                cart_id=cart_id,
                payment_id=payment_id,
            )
            for seat in released
        ]
        + [_payment_audit(payment_id, cart_id, outcome)],
        at=now,
        actor=actor,
    )


async def fail_payment(
    session: AsyncSession,
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
    finisher = _authorize(
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
    return await idempotency.run_once(
        session,
        once,
        PAYMENT_VIEW,
        lambda: _fail(session, payment_id=payment_id, now=now, finisher=finisher, once=once),
        now=now,
    )


@short_command
async def _fail(
    session: AsyncSession,
    *,
    payment_id: uuid.UUID,
    now: datetime,
    finisher: _Finisher,
    once: idempotency.Once | None,
) -> PaymentView:
    await idempotency.claim(session, once, now=now)
    locked = await _lock_payment(session, payment_id=payment_id, now=now, finisher=finisher)
    status, row = locked.status, locked.row
    check_payment_outcome(current=status, requested=PaymentStatus.FAILED, payment_id=payment_id)
    if status is PaymentStatus.PENDING:
        await _release_payment_seats(
            session,
            payment_id=payment_id,
            cart_id=row.cart_id,
            outcome=PaymentStatus.FAILED,
            now=now,
            actor=finisher.actor,
        )
        row = row._replace(status=PaymentStatus.FAILED.value, finalized_at=now)
    failed = payment_view(row, now, ())  # a failed or expired payment has no tickets
    return await idempotency.keep(session, once, failed, PAYMENT_VIEW)


@command
async def release_lapsed_holds(session: AsyncSession, *, now: datetime) -> int:
    """Write down lapsed holds: their seats become available and their cart items inactive."""
    # Lock the lapsed holds first: an UPDATE's RETURNING shows new values, and we need the
    # cart each hold belonged to. Rows a claimer is taking right now are skipped, not awaited.
    lapsed = (
        await session.execute(
            sa.select(event_seat_t.c.event_id, event_seat_t.c.seat_id, event_seat_t.c.cart_id)
            .where(event_seat_t.c.status == SeatStatus.HELD, event_seat_t.c.expires_at <= now)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not lapsed:
        return 0
    for event_id in {seat.event_id for seat in lapsed}:
        await session.execute(
            sa.update(event_seat_t)
            .where(
                event_seat_t.c.event_id == event_id,
                event_seat_t.c.seat_id.in_([s.seat_id for s in lapsed if s.event_id == event_id]),
                event_seat_t.c.status == SeatStatus.HELD,
                event_seat_t.c.expires_at <= now,
            )
            .values(status=SeatStatus.AVAILABLE, cart_id=None, expires_at=None)
        )
    for seat in lapsed:
        await session.execute(
            sa.update(item_t)
            .where(
                item_t.c.event_id == seat.event_id,
                item_t.c.seat_id == seat.seat_id,
                item_t.c.cart_id == seat.cart_id,
                item_t.c.active,
            )
            .values(active=False, released_at=now, release_reason="lapsed")
        )
    await record_audit(
        session,
        [
            audit_seat(
                action="hold_lapsed",
                event_id=seat.event_id,
                seat_id=seat.seat_id,
                from_status=SeatStatus.HELD,
                to_status=SeatStatus.AVAILABLE,
                cart_id=seat.cart_id,
            )
            for seat in lapsed
        ],
        at=now,
        actor="system",
    )
    return len(lapsed)


@command
async def expire_overdue_payments(session: AsyncSession, *, now: datetime) -> int:
    """Write down overdue payments: expired, their carts expired, their seats available."""
    overdue = (
        await session.execute(
            sa.select(payment_t.c.id, payment_t.c.cart_id)
            .where(payment_t.c.status == PaymentStatus.PENDING.value, payment_t.c.expires_at <= now)
            .order_by(payment_t.c.cart_id)
        )
    ).all()
    expired = 0
    for payment_id, cart_id in overdue:
        if await lock_cart(session, cart_id) is not CartStatus.BOOKED:
            continue  # finished by a concurrent command while we waited for the lock
        await _release_payment_seats(
            session,
            payment_id=payment_id,
            cart_id=cart_id,
            outcome=PaymentStatus.EXPIRED,
            now=now,
            actor="system",
        )
        expired += 1
    return expired


async def release_lapsed(session: AsyncSession, *, now: datetime) -> tuple[int, int]:
    """Write down what every reader already sees: lapsed holds and overdue payments free seats.

    Correctness never waits for this sweep (reads and claims apply the deadlines themselves); it
    keeps the tables and the audit log true. Two short transactions; returns (holds, payments).
    """
    holds = await release_lapsed_holds(session, now=now)
    payments = await expire_overdue_payments(session, now=now)
    return holds, payments

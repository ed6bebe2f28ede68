"""Holding seats in a cart, and releasing them: one transaction per command.

A seat is taken only by one conditional UPDATE whose WHERE clause is the rule: the database decides.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing import idempotency
from ticketing.db import command
from ticketing.domain import (
    CartItemView,
    CartStatus,
    CartView,
    EventStatus,
    Principal,
    SeatStatus,
    SectionKind,
    sees_drafts,
)
from ticketing.errors import ErrorCode, TicketingError, not_found
from ticketing.inputs import check_cart_id
from ticketing.inventory import audit
from ticketing.inventory.seats import offered, on_sale, price_of, seat_is_free
from ticketing.inventory.stamps import seats_changed, stamped
from ticketing.models import (
    event_seat_t,
    event_section_t,
    event_t,
    item_t,
    price_level_t,
    price_t,
)
from ticketing.orders.carts import (
    CART_VIEW,
    UPSERT_CART,
    check_cart,
    check_open,
    live_items,
    load_cart,
    lock_new_or_open_cart,
    lock_visible_cart,
    me,
)
from ticketing.settings import CartPolicy

_B = sa.bindparam
# Parameters of the hold's statements (an UPDATE's may not be named like its table's columns).
CART = _B("cart", type_=item_t.c.cart_id.type)
EVENT = _B("event", type_=sa.Integer())
SEAT = _B("seat", type_=sa.Integer())
PRICE = _B("price", type_=sa.Integer())
NOW = _B("now", type_=item_t.c.hold_expires_at.type)
UNTIL = _B("until", type_=item_t.c.hold_expires_at.type)
ROOM = _B("room", type_=sa.Integer())
ACTOR = _B("actor", type_=sa.String())


# --- the statements of a hold -------------------------------------------------------------


def _live() -> sa.Select[Any]:
    return sa.select(item_t.c.id).where(live_items(CART, NOW))


_RETIRE_STALE = (
    # A lapsed claim on the seat (another cart's, or an old one of ours) stops being an item.
    sa.update(item_t)
    .where(
        item_t.c.event_id == EVENT,
        item_t.c.seat_id == SEAT,
        item_t.c.active,
        sa.exists().where(
            event_seat_t.c.event_id == EVENT, event_seat_t.c.seat_id == SEAT, seat_is_free(NOW)
        ),
    )
    .values(active=False, released_at=NOW, release_reason="lapsed")
)

_CLAIM = (
    sa.update(event_seat_t)
    .where(
        event_seat_t.c.event_id == EVENT,
        event_seat_t.c.seat_id == SEAT,
        seat_is_free(NOW),
        on_sale(event_seat_t.c.event_id),
        offered(event_seat_t.c.event_id, event_seat_t.c.seat_id, PRICE),
        # the cart has room, and holds seats of this event's currency only
        _live().with_only_columns(sa.func.count()).scalar_subquery() < ROOM,
        sa.not_(
            sa.exists()
            .where(live_items(CART, NOW), event_t.c.id == item_t.c.event_id)
            .where(
                event_t.c.currency
                != sa.select(event_t.c.currency).where(event_t.c.id == EVENT).scalar_subquery()
            )
        ),
    )
    .values(status=SeatStatus.HELD, cart_id=CART, expires_at=UNTIL, **stamped())
    .returning(
        event_seat_t.c.seat_id,
        event_seat_t.c.section_id,
        event_seat_t.c.row_id,
        # the price as this statement sees it, not as an earlier read did
        price_of(EVENT, SEAT, PRICE).label("amount"),
    )
)

_REPRICE = (
    # Already ours: choosing another price level changes the price, not the hold's deadline.
    sa.update(item_t)
    .where(
        live_items(CART, NOW),
        item_t.c.event_id == EVENT,
        item_t.c.seat_id == SEAT,
        offered(item_t.c.event_id, item_t.c.seat_id, PRICE),
    )
    .values(price_level_id=PRICE, amount=price_of(item_t.c.event_id, item_t.c.seat_id, PRICE))
    .returning(item_t.c.amount)
)

_ITEM_COLUMNS = ("cart_id", "event_id", "seat_id", "section_id", "row_id", "price_level_id")


def _diagnosis(claimed: sa.FromClause | None) -> sa.Select[Any]:
    """What the hold's answer needs, and why it was refused if it was: the offer (the event's
    status and currency, the seat, whether it is free and whose, the price level), and the
    cart's live items as they were before the hold. One row per live item (at least one)."""
    items = (
        sa.select(
            item_t.c.cart_id,
            item_t.c.event_id.label("item_event"),
            item_t.c.seat_id.label("item_seat"),
            item_t.c.section_id,
            item_t.c.row_id,
            item_t.c.price_level_id,
            price_level_t.c.name.label("price_name"),
            item_t.c.amount,
            event_t.c.currency.label("item_currency"),
            item_t.c.hold_expires_at,
            item_t.c.id.label("item_id"),
        )
        .join(price_level_t, price_level_t.c.id == item_t.c.price_level_id)
        .join(event_t, event_t.c.id == item_t.c.event_id)
        .where(live_items(CART, NOW))
        .subquery("live")
    )
    offer_level = price_level_t.alias("offer_level")
    offer_price = price_t.alias("offer_price")
    columns: list[Any] = [
        event_t.c.status.label("event_status"),
        event_t.c.currency,
        event_seat_t.c.seat_id.label("known_seat"),
        seat_is_free(NOW).label("free"),
        offer_price.c.amount.label("offer_amount"),
        offer_level.c.name.label("offer_name"),
        *items.c,
    ]
    joined = (
        event_t.outerjoin(
            event_seat_t,
            sa.and_(event_seat_t.c.event_id == event_t.c.id, event_seat_t.c.seat_id == SEAT),
        )
        .outerjoin(
            offer_price,
            sa.and_(
                offer_price.c.event_id == event_t.c.id,
                offer_price.c.seat_id == SEAT,
                offer_price.c.price_level_id == PRICE,
            ),
        )
        .outerjoin(offer_level, offer_level.c.id == offer_price.c.price_level_id)
        .outerjoin(items, sa.true())
    )
    if claimed is not None:
        columns += [
            claimed.c.seat_id.label("claimed_seat"),
            claimed.c.section_id.label("claimed_section"),
            claimed.c.row_id.label("claimed_row"),
            claimed.c.amount.label("claimed"),
        ]
        joined = joined.outerjoin(claimed, sa.true())
    return (
        sa.select(*columns)
        .select_from(joined)
        .where(event_t.c.id == EVENT)
        .order_by(items.c.item_id)
    )


def _postgres_hold() -> tuple[Any, sa.Select[Any]]:
    """On PostgreSQL the hold is two statements: one locks (or makes) the cart and retires what
    lapsed on the seat; the other, which must see what committed before that lock was granted,
    claims the seat (or re-prices it), writes the item and the audit row, and answers."""
    lock = UPSERT_CART["postgresql"].add_cte(_RETIRE_STALE.cte("retired"))
    claimed = _CLAIM.cte("claimed")
    repriced = _REPRICE.cte("repriced")
    item = item_t.insert().from_select(
        [*_ITEM_COLUMNS, "amount", "held_at", "hold_expires_at", "active"],
        sa.select(
            CART,
            EVENT,
            claimed.c.seat_id,
            claimed.c.section_id,
            claimed.c.row_id,
            PRICE,
            claimed.c.amount,
            NOW,
            UNTIL,
            sa.true(),
        ),
    )
    logged = audit.insert_from(
        sa.select(
            NOW.label("at"),
            ACTOR.label("actor"),
            audit.literal("seat_held", "action"),
            CART.label("cart_id"),
            EVENT.label("event_id"),
            claimed.c.seat_id,
            audit.literal(SeatStatus.AVAILABLE.label, "from_status"),
            audit.literal(SeatStatus.HELD.label, "to_status"),
            claimed.c.amount,
        )
    )
    answer = (
        _diagnosis(claimed)
        .add_cte(repriced, item.cte("item"), logged.cte("logged"))
        .add_columns(sa.select(repriced.c.amount).scalar_subquery().label("repriced"))
    )
    return lock, answer


_PG_LOCK, _PG_HOLD = _postgres_hold()
_SQLITE_DIAGNOSIS = _diagnosis(None)


# --- holding a seat -----------------------------------------------------------------------


@command
async def add_seat_to_cart(
    conn: AsyncConnection,
    *,
    cart_id: uuid.UUID,
    event_id: int,
    seat_id: int,
    price_id: int,
    now: datetime,
    policy: CartPolicy,
    caller: Principal | None = None,
    idempotency_key: str | None = None,
) -> CartView:
    """Hold one seat for this cart at the chosen price level, until the hold lapses; choosing
    another level for a seat the cart holds changes its price."""
    check_cart_id(cart_id)
    once = idempotency.once(
        idempotency_key,
        caller=caller,
        command="add_seat_to_cart",
        arguments={
            "cart_id": cart_id,
            "event_id": event_id,
            "seat_id": seat_id,
            "price_id": price_id,
        },
    )
    return await idempotency.within(
        conn,
        once,
        CART_VIEW,
        lambda: _hold_seat(
            conn,
            cart_id=cart_id,
            event_id=event_id,
            seat_id=seat_id,
            price_id=price_id,
            now=now,
            policy=policy,
            caller=caller,
        ),
        now=now,
    )


async def _hold_seat(
    conn: AsyncConnection,
    *,
    cart_id: uuid.UUID,
    event_id: int,
    seat_id: int,
    price_id: int,
    now: datetime,
    policy: CartPolicy,
    caller: Principal | None,
) -> CartView:
    actor = audit.actor_of(caller)
    params: dict[str, Any] = {
        "cart": cart_id,
        "event": event_id,
        "seat": seat_id,
        "price": price_id,
        "now": now,
        "until": now + timedelta(seconds=policy.hold_seconds),
        "room": policy.max_seats_per_cart,
        "actor": actor,
        "me": me(caller),
    }
    if conn.dialect.name == "postgresql":
        status, owner = (await conn.execute(_PG_LOCK, params)).one()
        check_cart(cart_id, CartStatus(status), owner, caller)
        rows = (await conn.execute(_PG_HOLD, params)).all()
        head = rows[0] if rows else None
        claim = None
        if head is not None and head.claimed_seat is not None:
            claim = _Claim(head.claimed_section, head.claimed_row, head.claimed)
            seats_changed(conn, [event_id])
        return _outcome(rows, params, caller=caller, claim=claim, repriced=head and head.repriced)
    # SQLite has one writer at a time: the statements run one by one, and only those needed
    await lock_new_or_open_cart(conn, cart_id=cart_id, now=now, caller=caller)
    rows = (await conn.execute(_SQLITE_DIAGNOSIS, params)).all()
    claim, repriced = None, None
    if any((row.item_event, row.item_seat) == (event_id, seat_id) for row in rows):
        repriced = (await conn.execute(_REPRICE, params)).scalar()
    elif rows and rows[0].known_seat is not None and rows[0].free:
        await conn.execute(_RETIRE_STALE, params)
        claimed = (await conn.execute(_CLAIM, params)).one_or_none()
        if claimed is not None:
            claim = _Claim(claimed.section_id, claimed.row_id, claimed.amount)
            await conn.execute(item_t.insert(), _item_row(params, price_id, claim))
            await audit.record(
                conn,
                [
                    audit.seat_entry(
                        action="seat_held",
                        event_id=event_id,
                        seat_id=seat_id,
                        from_status=SeatStatus.AVAILABLE,
                        to_status=SeatStatus.HELD,
                        cart_id=cart_id,
                        amount=claim.amount,
                    )
                ],
                at=now,
                actor=actor,
            )
    return _outcome(rows, params, caller=caller, claim=claim, repriced=repriced)


@dataclasses.dataclass(frozen=True, slots=True)
class _Claim:
    """The seat a hold took: where it is, and the price its claiming statement read."""

    section_id: int
    row_id: int | None
    amount: Decimal


def _item_row(params: dict[str, Any], price_id: int, claim: _Claim) -> dict[str, Any]:
    return {
        "cart_id": params["cart"],
        "event_id": params["event"],
        "seat_id": params["seat"],
        "section_id": claim.section_id,
        "row_id": claim.row_id,
        "price_level_id": price_id,
        "amount": claim.amount,
        "held_at": params["now"],
        "hold_expires_at": params["until"],
        "active": True,
    }


def _outcome(
    rows: list[Any],
    params: dict[str, Any],
    *,
    caller: Principal | None,
    claim: _Claim | None,
    repriced: Decimal | None,
) -> CartView:
    """The cart after the hold, or why the hold was refused (nothing changed then: raising
    rolls the transaction back)."""
    event_id, seat_id, price_id = params["event"], params["seat"], params["price"]
    if not rows:
        raise not_found("Event", event_id, field="event_id")
    head = rows[0]
    check_on_sale(EventStatus(head.event_status), event_id=event_id, caller=caller)
    if head.known_seat is None:
        raise not_found(f"Seat {seat_id} of event", event_id, field="seat_id")
    if head.offer_amount is None:
        raise price_not_offered(event_id=event_id, seat_id=seat_id, price_id=price_id)
    items = [
        CartItemView(
            event_id=row.item_event,
            seat_id=row.item_seat,
            section_id=row.section_id,
            row_id=row.row_id,
            price_id=row.price_level_id,
            price_name=row.price_name,
            amount=row.amount,
            currency=row.item_currency,
            hold_expires_at=row.hold_expires_at,
        )
        for row in rows
        if row.item_id is not None
    ]
    mine = [
        i for i, item in enumerate(items) if (item.event_id, item.seat_id) == (event_id, seat_id)
    ]
    if mine:
        if repriced is None:  # the offer was withdrawn since the read above
            raise price_not_offered(event_id=event_id, seat_id=seat_id, price_id=price_id)
        (index,) = mine
        items[index] = dataclasses.replace(
            items[index], price_id=price_id, price_name=head.offer_name, amount=repriced
        )
        return CartView.of(
            cart_id=params["cart"], status=CartStatus.OPEN, items=items, payment_id=None
        )
    if claim is None:
        if head.free:
            check_room(
                {(i.event_id, i.seat_id): i.currency for i in items},
                cart_id=params["cart"],
                event_id=event_id,
                currency=head.currency,
                adding=1,
                room=params["room"],
            )
        raise seat_not_available(event_id, seat_id)
    held = CartItemView(
        event_id=event_id,
        seat_id=seat_id,
        section_id=claim.section_id,
        row_id=claim.row_id,
        price_id=price_id,
        price_name=head.offer_name,
        amount=claim.amount,
        currency=head.currency,
        hold_expires_at=params["until"],
    )
    return CartView.of(
        cart_id=params["cart"], status=CartStatus.OPEN, items=[*items, held], payment_id=None
    )


def check_on_sale(status: EventStatus, *, event_id: int, caller: Principal | None) -> None:
    if status is EventStatus.DRAFT and not sees_drafts(caller):
        raise not_found("Event", event_id, field="event_id")
    if status is not EventStatus.PUBLISHED:
        raise TicketingError(
            ErrorCode.EVENT_NOT_ON_SALE,
            f"Event {event_id} is {status.value}: it is not on sale.",
            field=("event_id",),
            context={"event_id": event_id},
        )


def check_room(
    held: dict[tuple[int, int], str],
    *,
    cart_id: uuid.UUID,
    event_id: int,
    currency: str,
    adding: int,
    room: int,
) -> None:
    """One cart, one currency; at most `room` seats (the claims check it again in SQL)."""
    if any(held_in != currency for held_in in held.values()):
        raise TicketingError(
            ErrorCode.CURRENCY_MISMATCH,
            f"Cart {cart_id} is in another currency than event {event_id} ({currency}).",
            field=("event_id",),
            context={"event_id": event_id},
        )
    if len(held) + adding > room:
        raise cart_limit(room)


def cart_limit(room: int) -> TicketingError:
    return TicketingError(
        ErrorCode.CART_LIMIT, f"A cart holds at most {room} seats.", context={"limit": room}
    )


def price_not_offered(*, event_id: int, seat_id: int, price_id: int) -> TicketingError:
    return TicketingError(
        ErrorCode.PRICE_NOT_OFFERED,
        f"Price {price_id} is not offered for seat {seat_id} of event {event_id}.",
        field=("price_id",),
        context={"event_id": event_id, "seat_id": seat_id, "price_id": price_id},
    )


def seat_not_available(event_id: int, seat_id: int) -> TicketingError:
    return TicketingError(
        ErrorCode.SEAT_NOT_AVAILABLE,
        f"Seat {seat_id} of event {event_id} is not available.",
        field=("seat_id",),
        context={"event_id": event_id, "seat_id": seat_id},
    )


# --- general admission ---------------------------------------------------------------------


@command
async def add_general_admission_to_cart(
    conn: AsyncConnection,
    *,
    cart_id: uuid.UUID,
    event_id: int,
    section_id: int,
    price_id: int,
    quantity: int,
    now: datetime,
    policy: CartPolicy,
    caller: Principal | None = None,
    idempotency_key: str | None = None,
) -> CartView:
    """Hold `quantity` places of a general-admission section at once: all of them or none."""
    check_cart_id(cart_id)
    if quantity < 1:
        raise TicketingError(
            ErrorCode.VALIDATION_ERROR, "Quantity must be at least 1.", field=("quantity",)
        )
    if quantity > policy.max_seats_per_cart:
        raise cart_limit(policy.max_seats_per_cart)
    once = idempotency.once(
        idempotency_key,
        caller=caller,
        command="add_general_admission_to_cart",
        arguments={
            "cart_id": cart_id,
            "event_id": event_id,
            "section_id": section_id,
            "price_id": price_id,
            "quantity": quantity,
        },
    )
    return await idempotency.within(
        conn,
        once,
        CART_VIEW,
        lambda: _hold_places(
            conn,
            cart_id=cart_id,
            event_id=event_id,
            section_id=section_id,
            price_id=price_id,
            quantity=quantity,
            now=now,
            policy=policy,
            caller=caller,
        ),
        now=now,
    )


async def _hold_places(
    conn: AsyncConnection,
    *,
    cart_id: uuid.UUID,
    event_id: int,
    section_id: int,
    price_id: int,
    quantity: int,
    now: datetime,
    policy: CartPolicy,
    caller: Principal | None,
) -> CartView:
    await lock_new_or_open_cart(conn, cart_id=cart_id, now=now, caller=caller)
    found = (
        await conn.execute(
            sa.select(event_t.c.currency, event_section_t.c.kind, event_t.c.status)
            .select_from(event_t)
            .outerjoin(
                event_section_t,
                sa.and_(
                    event_section_t.c.event_id == event_t.c.id,
                    event_section_t.c.section_id == section_id,
                ),
            )
            .where(event_t.c.id == event_id)
        )
    ).one_or_none()
    if found is None:
        raise not_found("Event", event_id, field="event_id")
    currency, kind, event_status = found
    check_on_sale(EventStatus(event_status), event_id=event_id, caller=caller)
    if kind is None:
        raise not_found(f"Section {section_id} of event", event_id, field="section_id")
    if kind != SectionKind.GENERAL_ADMISSION:
        raise TicketingError(
            ErrorCode.VALIDATION_ERROR,
            f"Section {section_id} has designated seats; hold them one by one.",
            field=("section_id",),
        )
    price_offered = offered(event_seat_t.c.event_id, event_seat_t.c.seat_id, price_id)
    if not await conn.scalar(
        sa.select(
            sa.exists().where(
                event_seat_t.c.event_id == event_id,
                event_seat_t.c.section_id == section_id,
                price_offered,
            )
        )
    ):
        raise _places_not_offered(event_id=event_id, section_id=section_id, price_id=price_id)
    held = await conn.execute(
        sa.select(item_t.c.event_id, item_t.c.seat_id, event_t.c.currency)
        .join(event_t, event_t.c.id == item_t.c.event_id)
        .where(live_items(cart_id, now))
    )
    check_room(
        {(row.event_id, row.seat_id): row.currency for row in held},
        cart_id=cart_id,
        event_id=event_id,
        currency=currency,
        adding=quantity,
        room=policy.max_seats_per_cart,
    )
    until = now + timedelta(seconds=policy.hold_seconds)
    # Concurrent claimers skip each other's rows instead of queueing behind them (PostgreSQL);
    # the outer WHERE re-checks every row, so a place is still claimed only once.
    candidates = (
        sa.select(event_seat_t.c.seat_id)
        .where(
            event_seat_t.c.event_id == event_id,
            event_seat_t.c.section_id == section_id,
            seat_is_free(now),
            price_offered,
        )
        .order_by(event_seat_t.c.position)
        .limit(quantity)
        .with_for_update(skip_locked=True)
    )
    claimed = (
        await conn.execute(
            sa.update(event_seat_t)
            .where(
                event_seat_t.c.event_id == event_id,
                event_seat_t.c.seat_id.in_(candidates.scalar_subquery()),
                seat_is_free(now),
                on_sale(event_seat_t.c.event_id),
                price_offered,
            )
            .values(status=SeatStatus.HELD, cart_id=cart_id, expires_at=until, **stamped())
            .returning(event_seat_t.c.seat_id, event_seat_t.c.section_id, event_seat_t.c.row_id)
        )
    ).all()
    if len(claimed) < quantity:
        raise TicketingError(
            ErrorCode.SEAT_NOT_AVAILABLE,
            f"Fewer than {quantity} places are available in section {section_id}.",
            field=("quantity",),
            context={"event_id": event_id},
        )
    # Read in the claim's transaction, right after it: never a price older than the claim.
    # (In the claim's RETURNING, SQLAlchemy renders SQLite's correlated subquery without its
    # table names, which would compare the price table with itself.)
    amounts = dict(
        (
            await conn.execute(
                sa.select(price_t.c.seat_id, price_t.c.amount).where(
                    price_t.c.event_id == event_id,
                    price_t.c.price_level_id == price_id,
                    price_t.c.seat_id.in_([seat.seat_id for seat in claimed]),
                )
            )
        ).all()
    )
    if len(amounts) < len(claimed):  # the offer was withdrawn after the claim (READ COMMITTED)
        raise _places_not_offered(event_id=event_id, section_id=section_id, price_id=price_id)
    seat_ids = [seat.seat_id for seat in claimed]
    await conn.execute(
        sa.update(item_t)
        .where(item_t.c.event_id == event_id, item_t.c.seat_id.in_(seat_ids), item_t.c.active)
        .values(active=False, released_at=now, release_reason="lapsed")
    )
    await conn.execute(
        item_t.insert(),
        [
            {
                "cart_id": cart_id,
                "event_id": event_id,
                "seat_id": seat.seat_id,
                "section_id": seat.section_id,
                "row_id": seat.row_id,
                "price_level_id": price_id,
                "amount": amounts[seat.seat_id],
                "held_at": now,
                "hold_expires_at": until,
                "active": True,
            }
            for seat in claimed
        ],
    )
    await audit.record(
        conn,
        [
            audit.seat_entry(
                action="seat_held",
                event_id=event_id,
                seat_id=seat.seat_id,
                from_status=SeatStatus.AVAILABLE,
                to_status=SeatStatus.HELD,
                cart_id=cart_id,
                amount=amounts[seat.seat_id],
            )
            for seat in claimed
        ],
        at=now,
        actor=audit.actor_of(caller),
    )
    return await load_cart(conn, cart_id=cart_id, now=now, caller=caller)


def _places_not_offered(*, event_id: int, section_id: int, price_id: int) -> TicketingError:
    return TicketingError(
        ErrorCode.PRICE_NOT_OFFERED,
        f"Price {price_id} is not offered in section {section_id} of event {event_id}.",
        field=("price_id",),
        context={"event_id": event_id, "price_id": price_id},
    )


# --- releasing a seat -------------------------------------------------------------------------


@command
async def remove_seat_from_cart(
    conn: AsyncConnection,
    *,
    cart_id: uuid.UUID,
    event_id: int,
    seat_id: int,
    now: datetime,
    caller: Principal | None = None,
    idempotency_key: str | None = None,
) -> CartView:
    """Release one held seat of this cart back to sale."""
    check_cart_id(cart_id)
    once = idempotency.once(
        idempotency_key,
        caller=caller,
        command="remove_seat_from_cart",
        arguments={"cart_id": cart_id, "event_id": event_id, "seat_id": seat_id},
    )
    return await idempotency.within(
        conn,
        once,
        CART_VIEW,
        lambda: _release_seat(
            conn, cart_id=cart_id, event_id=event_id, seat_id=seat_id, now=now, caller=caller
        ),
        now=now,
    )


async def _release_seat(
    conn: AsyncConnection,
    *,
    cart_id: uuid.UUID,
    event_id: int,
    seat_id: int,
    now: datetime,
    caller: Principal | None,
) -> CartView:
    status = await lock_visible_cart(conn, cart_id=cart_id, caller=caller)
    if status is None:
        raise not_found("Cart", cart_id, field="cart_id")
    check_open(cart_id, status)
    released = (
        await conn.execute(
            sa.update(event_seat_t)
            .where(
                event_seat_t.c.event_id == event_id,
                event_seat_t.c.seat_id == seat_id,
                event_seat_t.c.cart_id == cart_id,
                event_seat_t.c.status == SeatStatus.HELD,
                event_seat_t.c.expires_at > now,
            )
            .values(status=SeatStatus.AVAILABLE, cart_id=None, expires_at=None, **stamped())
            .returning(event_seat_t.c.seat_id)
        )
    ).one_or_none()
    if released is None:
        raise TicketingError(
            ErrorCode.NOT_FOUND,
            f"Seat {seat_id} of event {event_id} is not in cart {cart_id}.",
            field=("seat_id",),
            context={"event_id": event_id, "seat_id": seat_id},
        )
    await conn.execute(
        sa.update(item_t)
        .where(live_items(cart_id, now), item_t.c.event_id == event_id, item_t.c.seat_id == seat_id)
        .values(active=False, released_at=now, release_reason="removed")
    )
    await audit.record(
        conn,
        [
            audit.seat_entry(
                action="seat_released",
                event_id=event_id,
                seat_id=seat_id,
                from_status=SeatStatus.HELD,
                to_status=SeatStatus.AVAILABLE,
                cart_id=cart_id,
            )
        ],
        at=now,
        actor=audit.actor_of(caller),
    )
    return await load_cart(conn, cart_id=cart_id, now=now, caller=caller)

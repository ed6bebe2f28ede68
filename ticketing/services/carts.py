"""Cart commands: hold a seat, release it, book the cart into a payment.

Every command locks the cart row first, then seats, then cart items (a fixed order, so that
concurrent commands cannot deadlock), and claims seats only through one conditional UPDATE whose
WHERE clause is the rule: the database, not Python, decides who gets a seat.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing import direct, idempotency
from ticketing.db import command, query, sections_changed, short_command, short_query
from ticketing.domain import (
    CartItemView,
    CartStatus,
    CartView,
    EventStatus,
    PaymentStatus,
    PaymentView,
    Principal,
    SeatStatus,
    SectionKind,
    effective_payment_status,
    money,
    sees_drafts,
)
from ticketing.errors import ErrorCode, TicketingError, not_found
from ticketing.inputs import check_cart_id
from ticketing.models import (
    cart_t,
    event_seat_t,
    event_section_t,
    event_t,
    item_t,
    payment_t,
    price_level_t,
    price_t,
)
from ticketing.services._sql import (
    actor_of,
    audit_seat,
    cart_visible,
    lock_visible_cart_later,
    me,
    note_seat_changes,
    on_sale,
    owner_after_use,
    record_audit,
    seat_is_free,
    upsert_and_lock_cart,
    upsert_cart_later,
)
from ticketing.services.payments import (
    PAYMENT_VIEW,
    SET_CART_STATUS,
    PaymentRow,
    load_payment,
    payment_view,
)
from ticketing.settings import CartPolicy

_B = sa.bindparam
CART_VIEW = TypeAdapter(CartView)
"""A cart as an idempotency key keeps it."""


def _live_items(
    cart_id: uuid.UUID | sa.BindParameter[Any], now: datetime | sa.BindParameter[Any]
) -> sa.ColumnElement[bool]:
    return sa.and_(item_t.c.cart_id == cart_id, item_t.c.active, item_t.c.hold_expires_at > now)


def _items_select(which: sa.ColumnElement[bool]) -> sa.Select[Any]:
    return (
        sa.select(
            item_t.c.cart_id,
            item_t.c.event_id,
            item_t.c.seat_id,
            item_t.c.section_id,
            item_t.c.row_id,
            item_t.c.price_level_id,
            price_level_t.c.name,
            item_t.c.amount,
            event_t.c.currency,
            item_t.c.hold_expires_at,
        )
        .join(price_level_t, price_level_t.c.id == item_t.c.price_level_id)
        .join(event_t, event_t.c.id == item_t.c.event_id)
        .where(which)
        .order_by(item_t.c.id)
    )


# Prebuilt (see ticketing.services._sql): the statements of holding and booking.
_LIVE_ITEMS_OF_CART = direct.Direct(
    _items_select(
        _live_items(
            _B("cart_id", type_=item_t.c.cart_id.type),
            _B("now", type_=item_t.c.hold_expires_at.type),
        )
    )
)
# The cart's head (status, owner) and its live holds, in one statement run right after the
# statement that locks (or creates) the cart, so that it sees every hold committed before.
_CART_WITH_LIVE_ITEMS = direct.Direct(
    sa.select(
        cart_t.c.status.label("cart_status"),
        cart_t.c.owner_id.label("cart_owner"),
        *_items_select(sa.true()).selected_columns,
    )
    .select_from(
        # flat outer joins (an item always has its price level and event): SQLite materialised
        # a nested `cart LEFT JOIN (item JOIN ...)` by scanning every cart item
        cart_t.outerjoin(
            item_t,
            sa.and_(
                item_t.c.cart_id == cart_t.c.id,
                item_t.c.active,
                item_t.c.hold_expires_at > _B("now", type_=item_t.c.hold_expires_at.type),
            ),
        )
        .outerjoin(price_level_t, price_level_t.c.id == item_t.c.price_level_id)
        .outerjoin(event_t, event_t.c.id == item_t.c.event_id)
    )
    .where(cart_t.c.id == _B("cart_id", type_=cart_t.c.id.type))
    .order_by(item_t.c.id)
)
_ITEMS_OF_PAYMENT = direct.Direct(
    _items_select(item_t.c.payment_id == _B("payment_id", type_=item_t.c.payment_id.type))
)
_CART_HEAD = direct.Direct(
    sa.select(
        cart_t.c.status,
        payment_t.c.id,
        payment_t.c.status,
        payment_t.c.expires_at,
        cart_visible(),
    )
    .select_from(cart_t.outerjoin(payment_t, payment_t.c.cart_id == cart_t.c.id))
    .where(cart_t.c.id == _B("cart_id", type_=cart_t.c.id.type))
)


async def load_cart(
    session: AsyncSession,
    *,
    cart_id: uuid.UUID,
    now: datetime,
    open_cart: bool = False,
    caller: Principal | None = None,
) -> CartView:
    """The cart as a client sees it at `now` (lapsed holds are gone, an overdue payment expired).

    `open_cart`: the caller holds the cart's lock and knows it is open (no payment): one
    statement fewer.
    """
    live = {"cart_id": cart_id, "now": now}
    if open_cart:
        return CartView.of(
            cart_id=cart_id,
            status=CartStatus.OPEN,
            items=await _cart_items(session, _LIVE_ITEMS_OF_CART, live, open_cart=True),
            payment_id=None,
        )
    head = await direct.one_or_none(session, _CART_HEAD, {"cart_id": cart_id, "me": me(caller)})
    if head is None:
        return CartView.of(cart_id=cart_id, status=CartStatus.OPEN, items=(), payment_id=None)
    cart_status, payment_id, payment_status, payment_expires_at, visible = head
    if not visible:
        raise not_found("Cart", cart_id, field="cart_id")
    status = CartStatus(cart_status)
    items_stmt, params = _LIVE_ITEMS_OF_CART, live
    if payment_id is not None:
        status = effective_payment_status(payment_status, payment_expires_at, now).cart_status
        items_stmt, params = _ITEMS_OF_PAYMENT, {"payment_id": payment_id}
    return CartView.of(
        cart_id=cart_id,
        status=status,
        items=await _cart_items(session, items_stmt, params, open_cart=status is CartStatus.OPEN),
        payment_id=payment_id,
        payment_expires_at=payment_expires_at,
    )


async def _cart_items(
    session: AsyncSession, stmt: direct.Direct, params: dict[str, Any], *, open_cart: bool
) -> list[CartItemView]:
    return [
        item if open_cart else dataclasses.replace(item, hold_expires_at=None)
        for _, item in _item_views(await direct.rows(session, stmt, params))
    ]


@query
async def list_carts(
    session: AsyncSession, *, owner: Principal, now: datetime, limit: int = 100
) -> list[CartView]:
    """A customer's carts, newest first: open ones with their live holds, the others with the
    seats their payment covers. Three statements, whatever the number of carts."""
    heads = (
        await session.execute(
            sa.select(
                cart_t.c.id,
                cart_t.c.status,
                payment_t.c.id.label("payment_id"),
                payment_t.c.status.label("payment_status"),
                payment_t.c.expires_at,
            )
            .select_from(cart_t.outerjoin(payment_t, payment_t.c.cart_id == cart_t.c.id))
            .where(cart_t.c.owner_id == owner.user_id)
            .order_by(cart_t.c.created_at.desc(), cart_t.c.id)
            .limit(limit)
        )
    ).all()
    if not heads:
        return []
    open_ids = [h.id for h in heads if h.payment_id is None]
    payment_ids = [h.payment_id for h in heads if h.payment_id is not None]
    which = sa.or_(
        sa.and_(item_t.c.cart_id.in_(open_ids), item_t.c.active, item_t.c.hold_expires_at > now),
        item_t.c.payment_id.in_(payment_ids),
    )
    items: dict[uuid.UUID, list[CartItemView]] = {}
    for cart_id, item in _item_views(await session.execute(_items_select(which))):
        items.setdefault(cart_id, []).append(item)
    carts = []
    for head in heads:
        status = CartStatus(head.status)
        if head.payment_id is not None:
            status = effective_payment_status(head.payment_status, head.expires_at, now).cart_status
        open_cart = status is CartStatus.OPEN
        carts.append(
            CartView.of(
                cart_id=head.id,
                status=status,
                items=[
                    item if open_cart else dataclasses.replace(item, hold_expires_at=None)
                    for item in items.get(head.id, [])
                ],
                payment_id=head.payment_id,
                payment_expires_at=head.expires_at,
            )
        )
    return carts


def _item_views(rows: Iterable[Any]) -> list[tuple[uuid.UUID, CartItemView]]:
    return [
        (
            row.cart_id,
            CartItemView(
                event_id=row.event_id,
                seat_id=row.seat_id,
                section_id=row.section_id,
                row_id=row.row_id,
                price_id=row.price_level_id,
                price_name=row.name,
                amount=row.amount,
                currency=row.currency,
                hold_expires_at=row.hold_expires_at,
            ),
        )
        for row in rows
    ]


@short_query
async def get_cart(
    session: AsyncSession, *, cart_id: uuid.UUID, now: datetime, caller: Principal | None = None
) -> CartView:
    """The cart (an unused id is an empty open cart); NOT_FOUND when another customer's."""
    check_cart_id(cart_id)
    return await load_cart(session, cart_id=cart_id, now=now, caller=caller)


async def _lock_open_cart_items(
    session: AsyncSession, *, cart_id: uuid.UUID, now: datetime, caller: Principal | None
) -> list[CartItemView]:
    """Create or lock the cart, check that it is open and the caller's, and read its live
    holds: two statements in one round trip on PostgreSQL (the upsert waits for the read)."""
    await upsert_cart_later(session, cart_id, now=now, caller=caller)
    rows = await direct.rows(session, _CART_WITH_LIVE_ITEMS, {"cart_id": cart_id, "now": now})
    if not rows:  # pragma: no cover - the upsert just made or locked it
        raise not_found("Cart", cart_id, field="cart_id")
    head = rows[0]
    if head.cart_owner is not None and head.cart_owner != me(caller):
        raise not_found("Cart", cart_id, field="cart_id")
    _check_open(cart_id, CartStatus(head.cart_status))
    return [item for _, item in _item_views(row for row in rows if row.cart_id is not None)]


def _check_open(cart_id: uuid.UUID, status: CartStatus) -> None:
    if status is not CartStatus.OPEN:
        raise TicketingError(
            ErrorCode.CART_NOT_OPEN,
            f"Cart {cart_id} is {status.value}; only an open cart can change. Start a new cart.",
            field=("cart_id",),
            context={"cart_id": str(cart_id), "cart_status": status.value},
        )


async def _open_cart_for_change(
    session: AsyncSession,
    *,
    cart_id: uuid.UUID,
    now: datetime,
    create: bool,
    caller: Principal | None,
) -> None:
    """Lock the cart (creating it when `create`) and check that it is open, in one statement.

    A cart bound to another customer is NOT_FOUND; a signed-in caller binds an unbound cart.
    """
    status: CartStatus | None
    if create:
        status = await upsert_and_lock_cart(session, cart_id, now=now, caller=caller)
    else:
        found = await direct.scalar(
            session, _TOUCH_CART, {"cart_id": cart_id, "now": now, "me": me(caller)}
        )
        status = None if found is None else CartStatus(found)
    if status is None:
        raise not_found("Cart", cart_id, field="cart_id")
    _check_open(cart_id, status)


_TOUCH_CART = direct.Direct(
    sa.update(cart_t)
    .where(cart_t.c.id == _B("cart_id", type_=cart_t.c.id.type), cart_visible())
    .values(updated_at=_B("now", type_=cart_t.c.updated_at.type), owner_id=owner_after_use())
    .returning(cart_t.c.status)
)
_FOREIGN_CART = "foreign"


def _offer_select() -> sa.Select[Any]:
    """The offer, whether the seat is taken by another cart, the cart's status ("foreign" for
    another customer's cart), the event's status."""
    cart_id: sa.BindParameter[Any] = _B("cart_id")
    seat_id: sa.BindParameter[Any] = _B("seat_id")
    price_id: sa.BindParameter[Any] = _B("price_id")
    return (
        sa.select(
            event_t.c.status,
            event_t.c.currency,
            event_seat_t.c.seat_id,
            price_t.c.amount,
            price_level_t.c.name.label("price_name"),
            sa.and_(
                sa.not_(seat_is_free(_B("now"))),
                event_seat_t.c.cart_id != cart_id,
            ).label("taken"),
            sa.select(sa.case((cart_visible(), cart_t.c.status), else_=sa.literal(_FOREIGN_CART)))
            .where(cart_t.c.id == cart_id)
            .scalar_subquery()
            .label("cart_status"),
        )
        .select_from(event_t)
        .outerjoin(
            event_seat_t,
            sa.and_(event_seat_t.c.event_id == event_t.c.id, event_seat_t.c.seat_id == seat_id),
        )
        .outerjoin(
            price_t,
            sa.and_(
                price_t.c.event_id == event_t.c.id,
                price_t.c.seat_id == seat_id,
                price_t.c.price_level_id == price_id,
            ),
        )
        .outerjoin(price_level_t, price_level_t.c.id == price_t.c.price_level_id)
        .where(event_t.c.id == _B("event_id"))
    )


_OFFER = direct.Direct(_offer_select())


def _offer_params(
    *,
    cart_id: uuid.UUID,
    event_id: int,
    seat_id: int,
    price_id: int,
    now: datetime,
    caller: Principal | None,
) -> dict[str, Any]:
    return {
        "cart_id": cart_id,
        "event_id": event_id,
        "seat_id": seat_id,
        "price_id": price_id,
        "now": now,
        "me": me(caller),
    }


@dataclasses.dataclass(frozen=True, slots=True)
class _Offer:
    """What a read found offered; the amount a hold records comes from its claiming statement,
    so that a price changed since this read is the one charged."""

    currency: str
    price_name: str


@short_query
async def _peek(
    session: AsyncSession,
    *,
    cart_id: uuid.UUID,
    event_id: int,
    seat_id: int,
    price_id: int,
    now: datetime,
    caller: Principal | None,
) -> _Offer | bool:
    """What a read, without locks, says of this hold: True when it would be refused only
    because another cart has the seat; the offer when everything allows it (the seat was free,
    the event on sale, the price offered, the cart open or new); False when something else is
    wrong (the hold then finds out what, under its locks)."""
    offer = await direct.one_or_none(
        session,
        _OFFER,
        _offer_params(
            cart_id=cart_id,
            event_id=event_id,
            seat_id=seat_id,
            price_id=price_id,
            now=now,
            caller=caller,
        ),
    )
    if offer is None:
        return False
    event_status, currency, known_seat, amount, price_name, taken, cart_status = offer
    cart_open = cart_status in (None, CartStatus.OPEN.value)
    on_sale = event_status == EventStatus.PUBLISHED.value
    if not (on_sale and cart_open and known_seat is not None and amount is not None):
        return False
    return True if taken else _Offer(currency=currency, price_name=price_name)


async def add_seat_to_cart(
    session: AsyncSession,
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
    """Hold one seat for this cart at the chosen price level, until the hold expires.

    In a rush most attempts are for seats another cart already has. A read-only query answers
    those first (SEAT_NOT_AVAILABLE is true as of that read), without a write transaction: on
    SQLite a write transaction takes the one write lock at BEGIN; on PostgreSQL the query is a
    single round trip where a refused write transaction costs three (BEGIN, read, ROLLBACK).
    When that read found everything in order, the write transaction takes the seat with the
    conditional UPDATE, whose WHERE clause checks again what matters (the seat is free, the
    event on sale, the price offered) and the cart's row lock the rest. Otherwise the hold
    reads it all again under its locks and says what is wrong. With an idempotency key, the
    hold goes straight to the write transaction (which takes the key first).
    """
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
    if once is not None:
        return await idempotency.run_once(
            session,
            once,
            CART_VIEW,
            lambda: _hold_seat(
                session,
                cart_id=cart_id,
                event_id=event_id,
                seat_id=seat_id,
                price_id=price_id,
                now=now,
                policy=policy,
                caller=caller,
                once=once,
            ),
            now=now,
        )
    peeked = await _peek(
        session,
        cart_id=cart_id,
        event_id=event_id,
        seat_id=seat_id,
        price_id=price_id,
        now=now,
        caller=caller,
    )
    if peeked is True:
        raise _seat_not_available(event_id, seat_id)
    if isinstance(peeked, _Offer):
        return await _hold_offered_seat(
            session,
            cart_id=cart_id,
            event_id=event_id,
            seat_id=seat_id,
            price_id=price_id,
            offer=peeked,
            now=now,
            policy=policy,
            caller=caller,
        )
    return await _hold_seat(
        session,
        cart_id=cart_id,
        event_id=event_id,
        seat_id=seat_id,
        price_id=price_id,
        now=now,
        policy=policy,
        caller=caller,
    )


@short_command
async def _hold_seat(
    session: AsyncSession,
    *,
    cart_id: uuid.UUID,
    event_id: int,
    seat_id: int,
    price_id: int,
    now: datetime,
    policy: CartPolicy,
    caller: Principal | None,
    once: idempotency.Once | None = None,
) -> CartView:
    await idempotency.claim(session, once, now=now)
    offer = await direct.one_or_none(
        session,
        _OFFER,
        _offer_params(
            cart_id=cart_id,
            event_id=event_id,
            seat_id=seat_id,
            price_id=price_id,
            now=now,
            caller=caller,
        ),
    )
    if offer is None:
        await _open_cart_for_change(session, cart_id=cart_id, now=now, create=True, caller=caller)
        raise not_found("Event", event_id, field="event_id")
    event_status, currency, known_seat, amount, price_name, taken, cart_status = offer
    if cart_status is not None and cart_status != CartStatus.OPEN.value:
        await _open_cart_for_change(
            session, cart_id=cart_id, now=now, create=True, caller=caller
        )  # raises
    _check_on_sale(EventStatus(event_status), event_id=event_id, caller=caller)
    if known_seat is None:
        raise not_found(f"Seat {seat_id} of event", event_id, field="seat_id")
    if amount is None:
        raise _price_not_offered(event_id=event_id, seat_id=seat_id, price_id=price_id)
    if taken:
        raise _seat_not_available(event_id, seat_id)
    cart = await _claim_for_cart(
        session,
        cart_id=cart_id,
        event_id=event_id,
        seat_id=seat_id,
        price_id=price_id,
        offer=_Offer(currency=currency, price_name=price_name),
        now=now,
        policy=policy,
        caller=caller,
    )
    return await idempotency.keep(session, once, cart, CART_VIEW)


@short_command
async def _hold_offered_seat(
    session: AsyncSession,
    *,
    cart_id: uuid.UUID,
    event_id: int,
    seat_id: int,
    price_id: int,
    offer: _Offer,
    now: datetime,
    policy: CartPolicy,
    caller: Principal | None,
) -> CartView:
    """The hold, once a read found the offer in order (see `add_seat_to_cart`)."""
    return await _claim_for_cart(
        session,
        cart_id=cart_id,
        event_id=event_id,
        seat_id=seat_id,
        price_id=price_id,
        offer=offer,
        now=now,
        policy=policy,
        caller=caller,
    )


async def _claim_for_cart(
    session: AsyncSession,
    *,
    cart_id: uuid.UUID,
    event_id: int,
    seat_id: int,
    price_id: int,
    offer: _Offer,
    now: datetime,
    policy: CartPolicy,
    caller: Principal | None,
) -> CartView:
    """Lock (or create) the cart and take the seat for it, if the cart has room."""
    currency = offer.currency
    held = await _lock_open_cart_items(session, cart_id=cart_id, now=now, caller=caller)
    live = {(item.event_id, item.seat_id): item.currency for item in held}
    if (event_id, seat_id) in live:
        # Already ours: choosing another price level changes the price, not the hold's deadline.
        repriced = await session.scalar(
            sa.update(item_t)
            .where(
                _live_items(cart_id, now),
                item_t.c.event_id == event_id,
                item_t.c.seat_id == seat_id,
                _offered_to(item_t.c.event_id, item_t.c.seat_id, price_id),
            )
            .values(
                price_level_id=price_id,
                amount=_price_of(item_t.c.event_id, item_t.c.seat_id, price_id),
            )
            .returning(item_t.c.id)
        )
        if repriced is None:  # the offer was withdrawn since it was read
            raise _price_not_offered(event_id=event_id, seat_id=seat_id, price_id=price_id)
        return await load_cart(session, cart_id=cart_id, now=now, open_cart=True)
    _check_room(
        live, cart_id=cart_id, event_id=event_id, currency=currency, adding=1, policy=policy
    )

    hold_expires_at = now + timedelta(seconds=policy.hold_seconds)
    claimed = await direct.rows(
        session,
        _CLAIM_SEAT,
        {
            "the_event": event_id,
            "the_seat": seat_id,
            "now": now,
            "price_id": price_id,
            "holder": cart_id,
            "until": hold_expires_at,
        },
    )
    if not claimed:
        raise _seat_not_available(event_id, seat_id)
    await _record_holds(
        session,
        cart_id=cart_id,
        event_id=event_id,
        claimed=claimed,
        price_id=price_id,
        amounts={seat.seat_id: seat.amount for seat in claimed},
        hold_expires_at=hold_expires_at,
        now=now,
        actor=actor_of(caller),
    )
    (seat,) = claimed
    # the cart as it reads now: its live holds (read under the cart's lock) and the new one
    new_item = CartItemView(
        event_id=event_id,
        seat_id=seat.seat_id,
        section_id=seat.section_id,
        row_id=seat.row_id,
        price_id=price_id,
        price_name=offer.price_name,
        amount=seat.amount,
        currency=currency,
        hold_expires_at=hold_expires_at,
    )
    return CartView.of(
        cart_id=cart_id, status=CartStatus.OPEN, items=[*held, new_item], payment_id=None
    )


def _offered(price_id: int | sa.BindParameter[Any]) -> sa.ColumnElement[bool]:
    """The seat offers this price level (checked in the claiming statement itself)."""
    return _offered_to(event_seat_t.c.event_id, event_seat_t.c.seat_id, price_id)


def _offered_to(
    event_id: sa.ColumnElement[int],
    seat_id: sa.ColumnElement[int],
    price_id: int | sa.BindParameter[Any],
) -> sa.ColumnElement[bool]:
    return sa.exists().where(
        price_t.c.event_id == event_id,
        price_t.c.seat_id == seat_id,
        price_t.c.price_level_id == price_id,
    )


def _price_of(
    event_id: sa.ColumnElement[int] | sa.BindParameter[Any],
    seat_id: sa.ColumnElement[int] | sa.BindParameter[Any],
    price_id: int | sa.BindParameter[Any],
) -> sa.ScalarSelect[Any]:
    """The seat's price at this level, read by the statement that takes the seat: a price a
    manager changed a moment before is the one recorded."""
    return (
        sa.select(price_t.c.amount)
        .where(
            price_t.c.event_id == event_id,
            price_t.c.seat_id == seat_id,
            price_t.c.price_level_id == price_id,
        )
        .scalar_subquery()
    )


_CLAIM_SEAT = direct.Direct(
    sa.update(event_seat_t)
    .where(
        # (an UPDATE's parameters may not be named like its table's columns)
        event_seat_t.c.event_id == _B("the_event"),
        event_seat_t.c.seat_id == _B("the_seat"),
        seat_is_free(_B("now", type_=event_seat_t.c.expires_at.type)),
        on_sale(event_seat_t.c.event_id),
        # the offer read before may have been withdrawn since: the claim decides
        _offered(_B("price_id")),
    )
    .values(
        status=SeatStatus.HELD,
        cart_id=_B("holder", type_=event_seat_t.c.cart_id.type),
        expires_at=_B("until", type_=event_seat_t.c.expires_at.type),
    )
    .returning(
        event_seat_t.c.seat_id,
        event_seat_t.c.section_id,
        event_seat_t.c.row_id,
        # the price as this statement sees it, not as a read before it did
        _price_of(_B("the_event"), _B("the_seat"), _B("price_id")).label("amount"),
    )
)


def _check_on_sale(status: EventStatus, *, event_id: int, caller: Principal | None) -> None:
    if status is EventStatus.DRAFT and not sees_drafts(caller):
        raise not_found("Event", event_id, field="event_id")
    if status is not EventStatus.PUBLISHED:
        raise TicketingError(
            ErrorCode.EVENT_NOT_ON_SALE,
            f"Event {event_id} is {status.value}: it is not on sale.",
            field=("event_id",),
            context={"event_id": event_id},
        )


def _price_not_offered(*, event_id: int, seat_id: int, price_id: int) -> TicketingError:
    return TicketingError(
        ErrorCode.PRICE_NOT_OFFERED,
        f"Price {price_id} is not offered for seat {seat_id} of event {event_id}.",
        field=("price_id",),
        context={"event_id": event_id, "seat_id": seat_id, "price_id": price_id},
    )


def _seat_not_available(event_id: int, seat_id: int) -> TicketingError:
    return TicketingError(
        ErrorCode.SEAT_NOT_AVAILABLE,
        f"Seat {seat_id} of event {event_id} is not available.",
        field=("seat_id",),
        context={"event_id": event_id, "seat_id": seat_id},
    )


_LIVE_SEATS = direct.Direct(
    sa.select(item_t.c.event_id, item_t.c.seat_id, event_t.c.currency)
    .join(event_t, event_t.c.id == item_t.c.event_id)
    .where(
        _live_items(
            _B("cart_id", type_=item_t.c.cart_id.type),
            _B("now", type_=item_t.c.hold_expires_at.type),
        )
    )
)


async def _live_seats(
    session: AsyncSession, *, cart_id: uuid.UUID, now: datetime
) -> dict[tuple[int, int], str]:
    """The cart's live holds: (event_id, seat_id) -> currency of the event."""
    rows = await direct.rows(session, _LIVE_SEATS, {"cart_id": cart_id, "now": now})
    return {(row.event_id, row.seat_id): row.currency for row in rows}


def _check_room(
    live: dict[tuple[int, int], str],
    *,
    cart_id: uuid.UUID,
    event_id: int,
    currency: str,
    adding: int,
    policy: CartPolicy,
) -> None:
    if any(held_in != currency for held_in in live.values()):
        raise TicketingError(
            ErrorCode.CURRENCY_MISMATCH,
            f"Cart {cart_id} is in another currency than event {event_id} ({currency}).",
            field=("event_id",),
            context={"event_id": event_id},
        )
    if len(live) + adding > policy.max_seats_per_cart:
        raise _cart_limit(policy)


def _cart_limit(policy: CartPolicy) -> TicketingError:
    return TicketingError(
        ErrorCode.CART_LIMIT,
        f"A cart holds at most {policy.max_seats_per_cart} seats.",
        context={"limit": policy.max_seats_per_cart},
    )


_RETIRE_ITEM = direct.Direct(
    sa.update(item_t)
    .where(
        item_t.c.event_id == _B("the_event"),
        item_t.c.seat_id == _B("the_seat"),
        item_t.c.active,
    )
    .values(
        active=False,
        released_at=_B("at", type_=item_t.c.released_at.type),
        release_reason="lapsed",
    ),
    waits=True,
)
_ITEM_COLUMNS = (
    "cart_id",
    "event_id",
    "seat_id",
    "section_id",
    "row_id",
    "price_level_id",
    "amount",
    "held_at",
    "hold_expires_at",
    "active",
)
_INSERT_ITEM = direct.Direct(
    sa.insert(item_t)
    .values({name: _B(name, type_=item_t.c[name].type) for name in _ITEM_COLUMNS})
    # no RETURNING of the new id: the statement waits for the next round trip
    .inline(),
    waits=True,
)


async def _record_holds(
    session: AsyncSession,
    *,
    cart_id: uuid.UUID,
    event_id: int,
    claimed: Sequence[sa.Row[Any]],
    price_id: int,
    amounts: dict[int, Decimal],
    hold_expires_at: datetime,
    now: datetime,
    actor: str,
) -> None:
    """Write the cart items (and audit rows) for seats this cart has just claimed."""
    seat_ids = [seat.seat_id for seat in claimed]
    sections_changed(session, event_id, {seat.section_id for seat in claimed})
    # A lapsed claim by another cart (or an old one of ours) stops counting as that cart's item.
    await direct.later_many(
        session,
        _RETIRE_ITEM,
        [{"the_event": event_id, "the_seat": seat_id, "at": now} for seat_id in seat_ids],
    )
    await direct.later_many(
        session,
        _INSERT_ITEM,
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
                "hold_expires_at": hold_expires_at,
                "active": True,
            }
            for seat in claimed
        ],
    )
    await record_audit(
        session,
        [
            audit_seat(
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
        actor=actor,
    )


async def add_general_admission_to_cart(
    session: AsyncSession,
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
        raise _cart_limit(policy)
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
    return await idempotency.run_once(
        session,
        once,
        CART_VIEW,
        lambda: _hold_places(
            session,
            cart_id=cart_id,
            event_id=event_id,
            section_id=section_id,
            price_id=price_id,
            quantity=quantity,
            now=now,
            policy=policy,
            caller=caller,
            once=once,
        ),
        now=now,
    )


@command
async def _hold_places(
    session: AsyncSession,
    *,
    cart_id: uuid.UUID,
    event_id: int,
    section_id: int,
    price_id: int,
    quantity: int,
    now: datetime,
    policy: CartPolicy,
    caller: Principal | None,
    once: idempotency.Once | None,
) -> CartView:
    await idempotency.claim(session, once, now=now)
    await _open_cart_for_change(session, cart_id=cart_id, now=now, create=True, caller=caller)
    found = (
        await session.execute(
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
    _check_on_sale(EventStatus(event_status), event_id=event_id, caller=caller)
    if kind is None:
        raise not_found(f"Section {section_id} of event", event_id, field="section_id")
    if kind != SectionKind.GENERAL_ADMISSION:
        raise TicketingError(
            ErrorCode.VALIDATION_ERROR,
            f"Section {section_id} has designated seats; hold them one by one.",
            field=("section_id",),
        )
    offered = _offered(price_id)
    if not await session.scalar(
        sa.select(
            sa.exists().where(
                event_seat_t.c.event_id == event_id,
                event_seat_t.c.section_id == section_id,
                offered,
            )
        )
    ):
        raise TicketingError(
            ErrorCode.PRICE_NOT_OFFERED,
            f"Price {price_id} is not offered in section {section_id} of event {event_id}.",
            field=("price_id",),
            context={"event_id": event_id, "price_id": price_id},
        )
    _check_room(
        await _live_seats(session, cart_id=cart_id, now=now),
        cart_id=cart_id,
        event_id=event_id,
        currency=currency,
        adding=quantity,
        policy=policy,
    )

    hold_expires_at = now + timedelta(seconds=policy.hold_seconds)
    # Concurrent claimers skip each other's rows instead of queueing behind them (PostgreSQL);
    # the outer WHERE re-checks every row, so a place is still claimed only once.
    candidates = (
        sa.select(event_seat_t.c.seat_id)
        .where(
            event_seat_t.c.event_id == event_id,
            event_seat_t.c.section_id == section_id,
            seat_is_free(now),
            offered,
        )
        .order_by(event_seat_t.c.position)
        .limit(quantity)
        .with_for_update(skip_locked=True)
    )
    claimed = (
        await session.execute(
            sa.update(event_seat_t)
            .where(
                event_seat_t.c.event_id == event_id,
                event_seat_t.c.seat_id.in_(candidates.scalar_subquery()),
                seat_is_free(now),
                on_sale(event_seat_t.c.event_id),
                offered,
            )
            .values(status=SeatStatus.HELD, cart_id=cart_id, expires_at=hold_expires_at)
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
    # Read in the claim's transaction, after it: never a price older than the claim (SQLite's
    # RETURNING cannot take a subquery that refers to the claimed rows, as SQLAlchemy renders it).
    amounts = dict(
        (
            await session.execute(
                sa.select(price_t.c.seat_id, price_t.c.amount).where(
                    price_t.c.event_id == event_id,
                    price_t.c.price_level_id == price_id,
                    price_t.c.seat_id.in_([seat.seat_id for seat in claimed]),
                )
            )
        ).all()
    )
    if len(amounts) < len(claimed):  # the offer was withdrawn after the claim (READ COMMITTED)
        raise TicketingError(
            ErrorCode.PRICE_NOT_OFFERED,
            f"Price {price_id} is not offered in section {section_id} of event {event_id}.",
            field=("price_id",),
            context={"event_id": event_id, "price_id": price_id},
        )
    await _record_holds(
        session,
        cart_id=cart_id,
        event_id=event_id,
        claimed=claimed,
        price_id=price_id,
        amounts=amounts,
        hold_expires_at=hold_expires_at,
        now=now,
        actor=actor_of(caller),
    )
    cart = await load_cart(session, cart_id=cart_id, now=now, caller=caller)
    return await idempotency.keep(session, once, cart, CART_VIEW)


async def remove_seat_from_cart(
    session: AsyncSession,
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
    return await idempotency.run_once(
        session,
        once,
        CART_VIEW,
        lambda: _release_seat(
            session,
            cart_id=cart_id,
            event_id=event_id,
            seat_id=seat_id,
            now=now,
            caller=caller,
            once=once,
        ),
        now=now,
    )


@short_command
async def _release_seat(
    session: AsyncSession,
    *,
    cart_id: uuid.UUID,
    event_id: int,
    seat_id: int,
    now: datetime,
    caller: Principal | None,
    once: idempotency.Once | None,
) -> CartView:
    await idempotency.claim(session, once, now=now)
    await _open_cart_for_change(session, cart_id=cart_id, now=now, create=False, caller=caller)
    released = (
        await session.execute(
            sa.update(event_seat_t)
            .where(
                event_seat_t.c.event_id == event_id,
                event_seat_t.c.seat_id == seat_id,
                event_seat_t.c.cart_id == cart_id,
                event_seat_t.c.status == SeatStatus.HELD,
                event_seat_t.c.expires_at > now,
            )
            .values(status=SeatStatus.AVAILABLE, cart_id=None, expires_at=None)
            .returning(event_seat_t.c.event_id, event_seat_t.c.section_id)
        )
    ).one_or_none()
    if released is None:
        raise TicketingError(
            ErrorCode.NOT_FOUND,
            f"Seat {seat_id} of event {event_id} is not in cart {cart_id}.",
            field=("seat_id",),
            context={"event_id": event_id, "seat_id": seat_id},
        )
    note_seat_changes(session, [released])
    await session.execute(
        sa.update(item_t)
        .where(
            _live_items(cart_id, now), item_t.c.event_id == event_id, item_t.c.seat_id == seat_id
        )
        .values(active=False, released_at=now, release_reason="removed")
    )
    await record_audit(
        session,
        [
            audit_seat(
                action="seat_released",
                event_id=event_id,
                seat_id=seat_id,
                from_status=SeatStatus.HELD,
                to_status=SeatStatus.AVAILABLE,
                cart_id=cart_id,
            )
        ],
        at=now,
        actor=actor_of(caller),
    )
    cart = await load_cart(session, cart_id=cart_id, now=now, caller=caller)
    return await idempotency.keep(session, once, cart, CART_VIEW)


_UNBOOKED_ITEMS = direct.Direct(
    sa.select(
        item_t.c.id,
        item_t.c.event_id,
        item_t.c.seat_id,
        item_t.c.amount,
        item_t.c.hold_expires_at,
        event_t.c.currency,
    )
    .join(event_t, event_t.c.id == item_t.c.event_id)
    .where(
        item_t.c.cart_id == _B("cart_id", type_=item_t.c.cart_id.type),
        item_t.c.active,
        item_t.c.payment_id.is_(None),
    )
    .order_by(item_t.c.id)
)
# The cart's head and its items not yet booked, in one statement run right after the one that
# locks the cart (see `_CART_WITH_LIVE_ITEMS`).
_CART_WITH_UNBOOKED_ITEMS = direct.Direct(
    sa.select(
        cart_t.c.status.label("cart_status"),
        cart_visible().label("visible"),
        *_UNBOOKED_ITEMS.statement.selected_columns,  # type: ignore[attr-defined]
    )
    .select_from(
        cart_t.outerjoin(
            item_t,
            sa.and_(
                item_t.c.cart_id == cart_t.c.id,
                item_t.c.active,
                item_t.c.payment_id.is_(None),
            ),
        ).outerjoin(event_t, event_t.c.id == item_t.c.event_id)
    )
    .where(cart_t.c.id == _B("cart_id", type_=cart_t.c.id.type))
    .order_by(item_t.c.id)
)
_BOOK_SEATS = direct.Direct(
    sa.update(event_seat_t)
    .where(
        event_seat_t.c.cart_id == _B("holder", type_=event_seat_t.c.cart_id.type),
        event_seat_t.c.status == SeatStatus.HELD,
        event_seat_t.c.expires_at > _B("now", type_=event_seat_t.c.expires_at.type),
        on_sale(event_seat_t.c.event_id),
    )
    .values(status=SeatStatus.BOOKED, expires_at=_B("until", type_=event_seat_t.c.expires_at.type))
    .returning(event_seat_t.c.event_id, event_seat_t.c.seat_id, event_seat_t.c.section_id)
)
_PAYMENT_COLUMNS = (
    "id",
    "cart_id",
    "status",
    "total_amount",
    "currency",
    "created_at",
    "expires_at",
)
_INSERT_PAYMENT = direct.Direct(
    sa.insert(payment_t).values(
        {name: _B(name, type_=payment_t.c[name].type) for name in _PAYMENT_COLUMNS}
    ),
    waits=True,
)
_ATTACH_ITEM = direct.Direct(
    sa.update(item_t)
    .where(item_t.c.id == _B("item"))
    .values(payment_id=_B("payment", type_=item_t.c.payment_id.type)),
    waits=True,
)
_PAYMENT_OF_CART = direct.Direct(
    sa.select(payment_t.c.id).where(
        payment_t.c.cart_id == _B("cart_id", type_=payment_t.c.cart_id.type)
    )
)


async def book_cart(
    session: AsyncSession,
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
    return await idempotency.run_once(
        session,
        once,
        PAYMENT_VIEW,
        lambda: _book(session, cart_id=cart_id, now=now, policy=policy, caller=caller, once=once),
        now=now,
    )


@short_command
async def _book(
    session: AsyncSession,
    *,
    cart_id: uuid.UUID,
    now: datetime,
    policy: CartPolicy,
    caller: Principal | None,
    once: idempotency.Once | None,
) -> PaymentView:
    await idempotency.claim(session, once, now=now)
    # The lock goes with the read of what it protects (one round trip on PostgreSQL).
    await lock_visible_cart_later(session, cart_id=cart_id, caller=caller)
    rows = await direct.rows(
        session, _CART_WITH_UNBOOKED_ITEMS, {"cart_id": cart_id, "me": me(caller)}
    )
    if rows and not rows[0].visible:
        raise not_found("Cart", cart_id, field="cart_id")
    status = CartStatus(rows[0].cart_status) if rows else None  # None: never used
    if status is not None and status is not CartStatus.OPEN:
        payment_id = await direct.scalar(session, _PAYMENT_OF_CART, {"cart_id": cart_id})
        assert payment_id is not None, "a cart leaves `open` only by being booked"
        earlier = await load_payment(session, payment_id=payment_id, now=now, caller=caller)
        return await idempotency.keep(session, once, earlier, PAYMENT_VIEW)

    # Every active item not yet booked: the live ones are booked, the lapsed ones leave.
    active = [row for row in rows if row.id is not None]
    items = [item for item in active if item.hold_expires_at > now]
    lapsed = len(items) < len(active)
    if status is None or not items:
        raise TicketingError(
            ErrorCode.CART_EMPTY,
            f"Cart {cart_id} holds no seats to book.",
            field=("cart_id",),
            context={"cart_id": str(cart_id)},
        )
    currency = items[0].currency

    payment_id = uuid.uuid4()
    payment_expires_at = now + timedelta(seconds=policy.payment_timeout_seconds)
    booked = await direct.rows(
        session, _BOOK_SEATS, {"holder": cart_id, "now": now, "until": payment_expires_at}
    )
    note_seat_changes(session, booked)
    if {(r.event_id, r.seat_id) for r in booked} != {(i.event_id, i.seat_id) for i in items}:
        # the held seats and live items agree (one cart lock); what differs is off sale now
        off_sale = sorted({i.event_id for i in items} - {r.event_id for r in booked})
        raise TicketingError(
            ErrorCode.EVENT_NOT_ON_SALE,
            f"Event {off_sale[0] if off_sale else ''} is not on sale any more; remove its seats.",
            context={"event_id": off_sale[0]} if off_sale else None,
        )

    total = money(sum((item.amount for item in items), Decimal(0)))
    await direct.later(
        session,
        _INSERT_PAYMENT,
        {
            "id": payment_id,
            "cart_id": cart_id,
            "status": PaymentStatus.PENDING.value,
            "total_amount": total,
            "currency": currency,
            "created_at": now,
            "expires_at": payment_expires_at,
        },
    )
    await direct.later_many(
        session, _ATTACH_ITEM, [{"item": item.id, "payment": payment_id} for item in items]
    )
    if lapsed:
        # Lapsed holds leave the cart for good (readers already see their seats as free).
        await session.execute(
            sa.update(event_seat_t)
            .where(
                event_seat_t.c.cart_id == cart_id,
                event_seat_t.c.status == SeatStatus.HELD,
                event_seat_t.c.expires_at <= now,
            )
            .values(status=SeatStatus.AVAILABLE, cart_id=None, expires_at=None)
        )
        await session.execute(
            sa.update(item_t)
            .where(item_t.c.cart_id == cart_id, item_t.c.active, item_t.c.payment_id.is_(None))
            .values(active=False, released_at=now, release_reason="lapsed")
        )
    await direct.later(
        session,
        SET_CART_STATUS,
        {"cart": cart_id, "new_status": CartStatus.BOOKED.value, "now": now},
    )
    await record_audit(
        session,
        [
            audit_seat(
                action="seat_booked",
                event_id=item.event_id,
                seat_id=item.seat_id,
                from_status=SeatStatus.HELD,
                to_status=SeatStatus.BOOKED,
                cart_id=cart_id,
                payment_id=payment_id,
                amount=item.amount,
            )
            for item in items
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
        actor=actor_of(caller),
    )
    # the payment as inserted above (no need to read it back)
    payment = payment_view(
        PaymentRow(
            id=payment_id,
            cart_id=cart_id,
            status=PaymentStatus.PENDING.value,
            total_amount=total,
            currency=currency,
            created_at=now,
            expires_at=payment_expires_at,
            finalized_at=None,
        ),
        now,
        (),
    )
    return await idempotency.keep(session, once, payment, PAYMENT_VIEW)

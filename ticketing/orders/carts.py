"""Carts as clients see them, and the cart row every cart or payment command locks first."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.db import query
from ticketing.domain import (
    CartItemView,
    CartStatus,
    CartView,
    Principal,
    effective_payment_status,
)
from ticketing.errors import ErrorCode, TicketingError, not_found
from ticketing.inputs import check_cart_id
from ticketing.models import cart_t, event_t, item_t, payment_t, price_level_t

CART_VIEW = TypeAdapter(CartView)
"""A cart as an idempotency key keeps it."""

ME = sa.bindparam("me", type_=sa.Integer())
"""The caller's user id in statements that decide what a caller may see (None: anonymous)."""


def me(caller: Principal | None) -> int | None:
    return caller.user_id if caller is not None else None


def cart_visible() -> sa.ColumnElement[bool]:
    """A cart bound to a customer exists for that customer (`me`) only; an unbound one for
    anyone who has its id (the id is the capability)."""
    return sa.or_(cart_t.c.owner_id.is_(None), cart_t.c.owner_id == ME)


def live_items(cart_id: Any, now: Any) -> sa.ColumnElement[bool]:
    """The cart's holds that have not lapsed (not booked yet, or booked: see `items_of`)."""
    return sa.and_(item_t.c.cart_id == cart_id, item_t.c.active, item_t.c.hold_expires_at > now)


def items_select(which: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """Cart items with what a client is shown of them (`item_views` reads these columns)."""
    return (
        sa.select(
            item_t.c.cart_id,
            item_t.c.event_id,
            item_t.c.seat_id,
            item_t.c.section_id,
            item_t.c.row_id,
            item_t.c.price_level_id,
            price_level_t.c.name.label("price_name"),
            item_t.c.amount,
            event_t.c.currency,
            item_t.c.hold_expires_at,
        )
        .join(price_level_t, price_level_t.c.id == item_t.c.price_level_id)
        .join(event_t, event_t.c.id == item_t.c.event_id)
        .where(which)
        .order_by(item_t.c.id)
    )


def item_views(rows: Iterable[Any]) -> list[tuple[uuid.UUID, CartItemView]]:
    return [
        (
            row.cart_id,
            CartItemView(
                event_id=row.event_id,
                seat_id=row.seat_id,
                section_id=row.section_id,
                row_id=row.row_id,
                price_id=row.price_level_id,
                price_name=row.price_name,
                amount=row.amount,
                currency=row.currency,
                hold_expires_at=row.hold_expires_at,
            ),
        )
        for row in rows
    ]


def check_open(cart_id: uuid.UUID, status: CartStatus) -> None:
    if status is not CartStatus.OPEN:
        raise TicketingError(
            ErrorCode.CART_NOT_OPEN,
            f"Cart {cart_id} is {status.value}; only an open cart can change. Start a new cart.",
            field=("cart_id",),
            context={"cart_id": str(cart_id), "cart_status": status.value},
        )


def _upsert_cart(insert: Any) -> Any:
    now = sa.bindparam("now", type_=cart_t.c.updated_at.type)
    return (
        insert(cart_t)
        .values(
            id=sa.bindparam("cart", type_=cart_t.c.id.type),
            status=CartStatus.OPEN.value,
            created_at=now,
            updated_at=now,
            owner_id=ME,
        )
        .on_conflict_do_update(
            index_elements=["id"],
            # a customer binds an unbound cart by using it
            set_={"updated_at": now, "owner_id": sa.func.coalesce(cart_t.c.owner_id, ME)},
        )
        .returning(cart_t.c.status, cart_t.c.owner_id)
    )


UPSERT_CART = {"postgresql": _upsert_cart(postgresql.insert), "sqlite": _upsert_cart(sqlite.insert)}
"""Make the cart if it is new (the caller's, if signed in) or lock it; returns status, owner."""


async def lock_new_or_open_cart(
    conn: AsyncConnection, *, cart_id: uuid.UUID, now: datetime, caller: Principal | None
) -> None:
    """Create the cart if it is new (bound to the caller, if signed in) or lock it, and check
    that it is open and the caller's: NOT_FOUND for another customer's, CART_NOT_OPEN.

    (INSERT ... ON CONFLICT DO UPDATE locks an existing row as SELECT ... FOR UPDATE does.)
    """
    status, owner = (
        await conn.execute(
            UPSERT_CART[conn.dialect.name], {"cart": cart_id, "now": now, "me": me(caller)}
        )
    ).one()
    check_cart(cart_id, CartStatus(status), owner, caller)


def check_cart(
    cart_id: uuid.UUID, status: CartStatus, owner: int | None, caller: Principal | None
) -> None:
    """The locked cart is the caller's (NOT_FOUND otherwise) and open (CART_NOT_OPEN)."""
    if owner is not None and owner != me(caller):
        raise not_found("Cart", cart_id, field="cart_id")
    check_open(cart_id, status)


async def lock_cart(conn: AsyncConnection, *, cart_id: uuid.UUID) -> CartStatus | None:
    """Lock the cart, as every change of a cart or its payment does first (the sweep's and a
    cancellation's, which act for nobody in particular); its status under the lock."""
    status = await conn.scalar(
        sa.select(cart_t.c.status).where(cart_t.c.id == cart_id).with_for_update()
    )
    return None if status is None else CartStatus(status)


async def lock_visible_cart(
    conn: AsyncConnection, *, cart_id: uuid.UUID, caller: Principal | None
) -> CartStatus | None:
    """Lock the cart if it exists and the caller may see it (a signed-in caller binds an
    unbound cart); None when it was never used; NOT_FOUND when it is another customer's."""
    row = (
        await conn.execute(
            sa.update(cart_t)
            .where(cart_t.c.id == cart_id)
            .values(owner_id=sa.func.coalesce(cart_t.c.owner_id, me(caller)))
            .returning(cart_t.c.status, cart_t.c.owner_id)
        )
    ).one_or_none()
    if row is None:
        return None
    if row.owner_id is not None and row.owner_id != me(caller):
        raise not_found("Cart", cart_id, field="cart_id")
    return CartStatus(row.status)


async def set_status(
    conn: AsyncConnection, *, cart_id: uuid.UUID, status: CartStatus, now: datetime
) -> None:
    await conn.execute(
        sa.update(cart_t).where(cart_t.c.id == cart_id).values(status=status.value, updated_at=now)
    )


_CART_HEAD = (
    sa.select(
        cart_t.c.status,
        payment_t.c.id.label("payment_id"),
        payment_t.c.status.label("payment_status"),
        payment_t.c.expires_at,
        cart_visible().label("visible"),
    )
    .select_from(cart_t.outerjoin(payment_t, payment_t.c.cart_id == cart_t.c.id))
    .where(cart_t.c.id == sa.bindparam("cart_id", type_=cart_t.c.id.type))
)


async def load_cart(
    conn: AsyncConnection, *, cart_id: uuid.UUID, now: datetime, caller: Principal | None
) -> CartView:
    """The cart as a client sees it at `now` (lapsed holds are gone, an overdue payment expired).
    An unused id is an empty open cart; another customer's is NOT_FOUND."""
    head = (await conn.execute(_CART_HEAD, {"cart_id": cart_id, "me": me(caller)})).one_or_none()
    if head is None:
        return CartView.of(cart_id=cart_id, status=CartStatus.OPEN, items=(), payment_id=None)
    if not head.visible:
        raise not_found("Cart", cart_id, field="cart_id")
    status = CartStatus(head.status)
    which = live_items(cart_id, now)
    if head.payment_id is not None:
        status = effective_payment_status(head.payment_status, head.expires_at, now).cart_status
        which = item_t.c.payment_id == head.payment_id
    items = item_views(await conn.execute(items_select(which)))
    return CartView.of(
        cart_id=cart_id,
        status=status,
        items=_as_shown([item for _, item in items], open_cart=status is CartStatus.OPEN),
        payment_id=head.payment_id,
        payment_expires_at=head.expires_at,
    )


def _as_shown(items: list[CartItemView], *, open_cart: bool) -> list[CartItemView]:
    """A booked cart's items have no hold deadline any more: its payment's deadline counts."""
    if open_cart:
        return items
    return [dataclasses.replace(item, hold_expires_at=None) for item in items]


@query
async def get_cart(
    conn: AsyncConnection, *, cart_id: uuid.UUID, now: datetime, caller: Principal | None = None
) -> CartView:
    """The cart (an unused id is an empty open cart); NOT_FOUND when another customer's."""
    check_cart_id(cart_id)
    return await load_cart(conn, cart_id=cart_id, now=now, caller=caller)


@query
async def list_carts(
    conn: AsyncConnection, *, owner: Principal, now: datetime, limit: int = 100
) -> list[CartView]:
    """A customer's carts, newest first: open ones with their live holds, the others with the
    seats their payment covers. Two statements, whatever the number of carts."""
    heads = (
        await conn.execute(
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
    for cart_id, item in item_views(await conn.execute(items_select(which))):
        items.setdefault(cart_id, []).append(item)
    carts = []
    for head in heads:
        status = CartStatus(head.status)
        if head.payment_id is not None:
            status = effective_payment_status(head.payment_status, head.expires_at, now).cart_status
        carts.append(
            CartView.of(
                cart_id=head.id,
                status=status,
                items=_as_shown(items.get(head.id, []), open_cart=status is CartStatus.OPEN),
                payment_id=head.payment_id,
                payment_expires_at=head.expires_at,
            )
        )
    return carts

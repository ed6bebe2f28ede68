"""Small SQL helpers shared by the services; they never open or commit a transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db import sections_changed
from ticketing.domain import CartStatus, EventStatus, Principal, SeatStatus
from ticketing.errors import not_found
from ticketing.models import audit_t, cart_t, event_seat_t, event_t


def actor_of(caller: Principal | None) -> str:
    return caller.actor if caller is not None else "anonymous"


def cart_visible_to(caller: Principal | None) -> sa.ColumnElement[bool]:
    """A cart bound to a customer exists for that customer only; an unbound one for anyone
    who has its id (the id is the capability)."""
    if caller is None:
        return cart_t.c.owner_id.is_(None)
    return sa.or_(cart_t.c.owner_id.is_(None), cart_t.c.owner_id == caller.user_id)


def owner_after_use(caller: Principal | None) -> sa.ColumnElement[int | None]:
    """The cart's owner once this caller has used it: a customer binds an unbound cart."""
    if caller is None:
        return cart_t.c.owner_id
    return sa.func.coalesce(cart_t.c.owner_id, caller.user_id)


def on_sale(event_id: sa.ColumnElement[int]) -> sa.ColumnElement[bool]:
    """The seat's event is published: claims and bookings carry this in their WHERE clause, so
    that publishing and cancelling are decided by the database, not by an earlier read."""
    return event_id.in_(
        sa.select(event_t.c.id).where(event_t.c.status == EventStatus.PUBLISHED.value)
    )


async def lock_cart(session: AsyncSession, cart_id: uuid.UUID) -> CartStatus | None:
    """Lock the cart row for this transaction, whoever owns it (the sweep); None when the cart
    was never used.

    Every command that changes a cart, its seats or its payment takes this lock first, so that
    commands on one cart run one after the other and locks are always taken in the same order.
    """
    status = await session.scalar(
        sa.select(cart_t.c.status).where(cart_t.c.id == cart_id).with_for_update()
    )
    return None if status is None else CartStatus(status)


async def lock_visible_cart(
    session: AsyncSession,
    cart_id: sa.ColumnElement[uuid.UUID] | uuid.UUID,
    *,
    caller: Principal | None,
) -> tuple[uuid.UUID, CartStatus] | None:
    """Lock the cart if the caller may see it, in one statement; a signed-in caller binds an
    unbound cart. None when there is no such cart for this caller."""
    if caller is None:  # nothing to bind: a plain row lock, no new row version
        stmt: sa.Executable = (
            sa.select(cart_t.c.id, cart_t.c.status)
            .where(cart_t.c.id == cart_id, cart_visible_to(caller))
            .with_for_update()
        )
    else:
        stmt = (
            sa.update(cart_t)
            .where(cart_t.c.id == cart_id, cart_visible_to(caller))
            .values(owner_id=owner_after_use(caller))
            .returning(cart_t.c.id, cart_t.c.status)
        )
    row = (await session.execute(stmt)).one_or_none()
    return None if row is None else (row[0], CartStatus(row[1]))


async def lock_cart_for(
    session: AsyncSession, cart_id: uuid.UUID, *, caller: Principal | None
) -> CartStatus | None:
    """`lock_cart` for a caller: a cart bound to another customer is NOT_FOUND, and an unbound
    one becomes the caller's (if signed in). None when the cart was never used."""
    locked = await lock_visible_cart(session, cart_id, caller=caller)
    if locked is None and await session.scalar(
        sa.select(sa.exists().where(cart_t.c.id == cart_id))
    ):
        raise not_found("Cart", cart_id, field="cart_id")
    return None if locked is None else locked[1]


async def upsert_and_lock_cart(
    session: AsyncSession, cart_id: uuid.UUID, *, now: datetime, caller: Principal | None = None
) -> CartStatus:
    """Create the cart if it is new (bound to the caller, if signed in), lock it, and return
    its status, in one statement. A cart bound to another customer is NOT_FOUND.

    (INSERT ... ON CONFLICT DO UPDATE locks the existing row like SELECT ... FOR UPDATE.)
    """
    owner = caller.user_id if caller is not None else None
    values = {
        "id": cart_id,
        "status": CartStatus.OPEN.value,
        "created_at": now,
        "updated_at": now,
        "owner_id": owner,
    }
    insert = (
        postgresql.insert(cart_t)
        if await dialect_name(session) == "postgresql"
        else sqlite.insert(cart_t)
    )
    stmt = (
        insert.values(**values)
        .on_conflict_do_update(
            index_elements=["id"],
            set_={"updated_at": now, "owner_id": owner_after_use(caller)},
        )
        .returning(cart_t.c.status, cart_t.c.owner_id)
    )
    status, owner_id = (await session.execute(stmt)).one()
    if owner_id is not None and owner_id != owner:
        raise not_found("Cart", cart_id, field="cart_id")
    return CartStatus(status)


def note_seat_changes(session: AsyncSession, seats: Iterable[Any]) -> None:
    """These seats (rows with `event_id` and `section_id`) now show another status."""
    for seat in seats:
        sections_changed(session, seat.event_id, (seat.section_id,))


def seat_is_free(now: datetime) -> sa.ColumnElement[bool]:
    """True for a seat a claimer may take: available, or held/booked past its deadline."""
    return sa.or_(
        event_seat_t.c.status == SeatStatus.AVAILABLE,
        sa.and_(
            event_seat_t.c.status.in_([SeatStatus.HELD, SeatStatus.BOOKED]),
            event_seat_t.c.expires_at <= now,
        ),
    )


async def dialect_name(session: AsyncSession) -> str:
    return (await session.connection()).dialect.name


# executemany needs the same keys in every row
_AUDIT_BLANK: dict[str, Any] = {
    column.name: None for column in audit_t.columns if column.name not in ("id", "at", "actor")
}


async def record_audit(
    session: AsyncSession,
    entries: Iterable[Mapping[str, Any]],
    *,
    at: datetime,
    actor: str,
) -> None:
    rows = [{**_AUDIT_BLANK, "at": at, "actor": actor, **entry} for entry in entries]
    if rows:
        # Core executemany: one driver call for every row (the ORM bulk path made one per row).
        await session.execute(audit_t.insert(), rows)


def audit_seat(
    *,
    action: str,
    event_id: int,
    seat_id: int,
    from_status: SeatStatus | str,
    to_status: SeatStatus,
    cart_id: uuid.UUID | None,
    payment_id: uuid.UUID | None = None,
    amount: Any = None,
) -> dict[str, Any]:
    return {
        "action": action,
        "event_id": event_id,
        "seat_id": seat_id,
        "from_status": from_status.label if isinstance(from_status, SeatStatus) else from_status,
        "to_status": to_status.label,
        "cart_id": cart_id,
        "payment_id": payment_id,
        "amount": amount,
    }

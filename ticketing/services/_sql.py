"""Small SQL helpers shared by the services; they never open or commit a transaction.

Statements on the hot paths (holding, booking, paying) are built once, at import, with bound
parameters: building a SQLAlchemy statement costs about as much Python time as executing it
(100-300 us). Most of them run as `ticketing.direct.Direct` statements, compiled once and sent
straight to the driver.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing import direct
from ticketing.db import dialect_name, sections_changed
from ticketing.domain import CartStatus, EventStatus, Principal, SeatStatus
from ticketing.errors import not_found
from ticketing.models import audit_t, cart_t, event_seat_t, event_t, payment_t


def actor_of(caller: Principal | None) -> str:
    return caller.actor if caller is not None else "anonymous"


ME = sa.bindparam("me", type_=sa.Integer())
"""The caller's user id in statements that decide what a caller may see (None: anonymous)."""


def me(caller: Principal | None) -> int | None:
    return caller.user_id if caller is not None else None


def cart_visible() -> sa.ColumnElement[bool]:
    """A cart bound to a customer exists for that customer (`me`) only; an unbound one for
    anyone who has its id (the id is the capability)."""
    return sa.or_(cart_t.c.owner_id.is_(None), cart_t.c.owner_id == ME)


def owner_after_use() -> sa.ColumnElement[int | None]:
    """The cart's owner once the caller (`me`) has used it: a customer binds an unbound cart."""
    return sa.func.coalesce(cart_t.c.owner_id, ME)


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


def _lock_cart_statements(cart_id: sa.ColumnElement[Any]) -> tuple[Any, Any]:
    anonymous = (  # nothing to bind: a plain row lock, no new row version
        sa.select(cart_t.c.id, cart_t.c.status)
        .where(cart_t.c.id == cart_id, cart_visible())
        .with_for_update()
    )
    customer = (
        sa.update(cart_t)
        .where(cart_t.c.id == cart_id, cart_visible())
        .values(owner_id=owner_after_use())
        .returning(cart_t.c.id, cart_t.c.status)
    )
    return anonymous, customer


_LOCK_CART = tuple(
    direct.Direct(statement, waits=True)  # see `lock_visible_cart_later`
    for statement in _lock_cart_statements(sa.bindparam("cart_id", type_=cart_t.c.id.type))
)
# Whoever owns it: the command reads next whether the caller may see it (and rolls back if not).
_LOCK_CART_OF_PAYMENT = direct.Direct(
    sa.select(cart_t.c.id, cart_t.c.status)
    .where(
        cart_t.c.id
        == sa.select(payment_t.c.cart_id)
        .where(payment_t.c.id == sa.bindparam("payment_id", type_=payment_t.c.id.type))
        .scalar_subquery()
    )
    .with_for_update(),
    waits=True,
)


async def lock_visible_cart_later(
    session: AsyncSession, *, cart_id: uuid.UUID, caller: Principal | None
) -> None:
    """Lock the cart if the caller may see it; a signed-in caller binds an unbound cart. The
    command reads the answer in its next statement (with what the lock protects): on PostgreSQL
    the lock goes with that statement's round trip."""
    plain, binding = _LOCK_CART
    statement = plain if caller is None else binding
    await direct.later(session, statement, {"cart_id": cart_id, "me": me(caller)})


async def lock_cart_of_payment_later(session: AsyncSession, *, payment_id: uuid.UUID) -> None:
    """Lock the payment's cart (read in the command's next statement, as above). It never binds
    the cart: whoever learned a payment id would take the anonymous buyer's cart."""
    await direct.later(session, _LOCK_CART_OF_PAYMENT, {"payment_id": payment_id})


def _upsert_cart(insert: Any) -> Any:
    return (
        insert(cart_t)
        .values(
            id=sa.bindparam("new_id", type_=cart_t.c.id.type),
            status=CartStatus.OPEN.value,
            created_at=sa.bindparam("now", type_=cart_t.c.created_at.type),
            updated_at=sa.bindparam("now", type_=cart_t.c.updated_at.type),
            owner_id=ME,
        )
        .on_conflict_do_update(
            index_elements=["id"],
            set_={
                "updated_at": sa.bindparam("now", type_=cart_t.c.updated_at.type),
                "owner_id": owner_after_use(),
            },
        )
        .returning(cart_t.c.status, cart_t.c.owner_id)
    )


_UPSERT_CART = {
    "postgresql": direct.Direct(_upsert_cart(postgresql.insert), waits=True),
    "sqlite": direct.Direct(_upsert_cart(sqlite.insert)),
}


async def upsert_and_lock_cart(
    session: AsyncSession, cart_id: uuid.UUID, *, now: datetime, caller: Principal | None = None
) -> CartStatus:
    """Create the cart if it is new (bound to the caller, if signed in), lock it, and return
    its status, in one statement. A cart bound to another customer is NOT_FOUND.

    (INSERT ... ON CONFLICT DO UPDATE locks the existing row like SELECT ... FOR UPDATE.)
    """
    owner = me(caller)
    stmt = _UPSERT_CART[await dialect_name(session)]
    params = {"new_id": cart_id, "now": now, "me": owner}
    status, owner_id = await direct.one(session, stmt, params)
    if owner_id is not None and owner_id != owner:
        raise not_found("Cart", cart_id, field="cart_id")
    return CartStatus(status)


async def upsert_cart_later(
    session: AsyncSession, cart_id: uuid.UUID, *, now: datetime, caller: Principal | None
) -> None:
    """`upsert_and_lock_cart` whose answer (status, owner) the command reads in its next
    statement: on PostgreSQL the upsert goes with that statement's round trip."""
    stmt = _UPSERT_CART[await dialect_name(session)]
    await direct.later(session, stmt, {"new_id": cart_id, "now": now, "me": me(caller)})


def note_seat_changes(session: AsyncSession, seats: Iterable[Any]) -> None:
    """These seats (rows with `event_id` and `section_id`) now show another status."""
    for seat in seats:
        sections_changed(session, seat.event_id, (seat.section_id,))


def seat_is_free(now: datetime | sa.BindParameter[Any]) -> sa.ColumnElement[bool]:
    """True for a seat a claimer may take: available, or held/booked past its deadline."""
    return sa.or_(
        event_seat_t.c.status == SeatStatus.AVAILABLE,
        sa.and_(
            # (not IN (...): a literal IN list is rendered per execution, see ticketing.direct)
            sa.or_(
                event_seat_t.c.status == SeatStatus.HELD,
                event_seat_t.c.status == SeatStatus.BOOKED,
            ),
            event_seat_t.c.expires_at <= now,
        ),
    )


_AUDIT_COLUMNS = [column.name for column in audit_t.columns if column.name != "id"]
_INSERT_AUDIT = direct.Direct(
    # inline: no RETURNING of the new id (nobody reads it; a statement that waits returns nothing)
    audit_t.insert().values({name: sa.bindparam(name) for name in _AUDIT_COLUMNS}).inline(),
    waits=True,
)
# every row gives every column (executemany, and no Python-side defaults on the direct path)
_AUDIT_BLANK: dict[str, Any] = {
    name: None for name in _AUDIT_COLUMNS if name not in ("at", "actor")
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
        # nobody reads them back in the transaction: they travel with its next round trip
        await direct.later_many(session, _INSERT_AUDIT, rows)


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

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
from ticketing.domain import CartStatus, SeatStatus
from ticketing.models import audit_t, cart_t, event_seat_t


async def lock_cart(session: AsyncSession, cart_id: uuid.UUID) -> CartStatus | None:
    """Lock the cart row for this transaction; None when the cart was never used.

    Every command that changes a cart, its seats or its payment takes this lock first, so that
    commands on one cart run one after the other and locks are always taken in the same order.
    """
    status = await session.scalar(
        sa.select(cart_t.c.status).where(cart_t.c.id == cart_id).with_for_update()
    )
    return None if status is None else CartStatus(status)


async def upsert_and_lock_cart(
    session: AsyncSession, cart_id: uuid.UUID, *, now: datetime
) -> CartStatus:
    """Create the cart if it is new, lock it, and return its status, in one statement.

    (INSERT ... ON CONFLICT DO UPDATE locks the existing row like SELECT ... FOR UPDATE.)
    """
    values = {"id": cart_id, "status": CartStatus.OPEN.value, "created_at": now, "updated_at": now}
    insert = (
        postgresql.insert(cart_t)
        if await dialect_name(session) == "postgresql"
        else sqlite.insert(cart_t)
    )
    stmt = (
        insert.values(**values)
        .on_conflict_do_update(index_elements=["id"], set_={"updated_at": now})
        .returning(cart_t.c.status)
    )
    return CartStatus(await session.scalar(stmt))


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

"""The audit log: every state change that matters for money, written in the change's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.domain import Principal, SeatStatus
from ticketing.inventory.stamps import seats_changed
from ticketing.models import audit_t

COLUMNS = tuple(column.name for column in audit_t.columns if column.name != "id")
_BLANK: dict[str, Any] = {name: None for name in COLUMNS if name not in ("at", "actor")}
_INSERT = audit_t.insert()


def actor_of(caller: Principal | None) -> str:
    return caller.actor if caller is not None else "anonymous"


async def record(
    conn: AsyncConnection,
    entries: Iterable[Mapping[str, Any]],
    *,
    at: datetime,
    actor: str,
    seat_status_changed: bool = True,
) -> None:
    rows = [{**_BLANK, "at": at, "actor": actor, **entry} for entry in entries]
    if rows:
        await conn.execute(_INSERT, rows)
    # A seat's entry is a change of its status: the event's seat-map watchers hear of it (a
    # check-in names its seat, yet changes no status: it passes False).
    if seat_status_changed:
        seats_changed(conn, {row["event_id"] for row in rows if row["seat_id"] is not None})


def seat_entry(
    *,
    action: str,
    event_id: int,
    seat_id: int,
    from_status: SeatStatus,
    to_status: SeatStatus,
    cart_id: uuid.UUID | None,
    payment_id: uuid.UUID | None = None,
    amount: Any = None,
) -> dict[str, Any]:
    return {
        "action": action,
        "event_id": event_id,
        "seat_id": seat_id,
        "from_status": from_status.label,
        "to_status": to_status.label,
        "cart_id": cart_id,
        "payment_id": payment_id,
        "amount": amount,
    }


def insert_from(*selects: sa.Select[Any]) -> sa.Insert:
    """Audit rows made by SELECTs whose columns are named like the log's (the others NULL), in
    the order given: PostgreSQL writes them in the statement that makes the change."""
    names = list(COLUMNS)
    aligned = [_aligned(select, names) for select in selects]
    rows = sa.union_all(*aligned) if len(aligned) > 1 else aligned[0]
    return _INSERT.from_select(names, rows)


def _aligned(select: sa.Select[Any], names: list[str]) -> sa.Select[Any]:
    """The SELECT with the log's columns in order, typed NULL for those it does not give."""
    given = {column.name: column for column in select.selected_columns}
    return select.with_only_columns(
        *(
            given[name] if name in given else sa.cast(sa.null(), audit_t.c[name].type).label(name)
            for name in names
        ),
        maintain_column_froms=True,
    )


def literal(value: Any, column: str) -> sa.ColumnElement[Any]:
    """A constant of an audit row made by SELECT, typed as the log's column."""
    return sa.literal(value, type_=audit_t.c[column].type).label(column)

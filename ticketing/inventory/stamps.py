"""Change stamps: a seat's status change records its transaction, so that a seat-map reader finds
what changed since it last read, with no counter that every writer of a section would update."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from ticketing.db.notify import notify
from ticketing.models import event_seat_t

CHANNEL = "ticketing_seats"
"""Where commands say which event's seats changed (the event id as payload)."""


class ChangeStamp(FunctionElement[int]):
    """The value of `event_seat.changed_in` for a change made now, by this transaction.

    PostgreSQL: the transaction's id; a reader's snapshot then tells which changes it has not
    seen (ids are not in commit order, snapshots know which were still running). SQLite: one
    more than the event's highest stamp; writers take turns, so stamps follow commit order.
    """

    # A function element: its argument is part of the statement's cache key, so statements
    # that carry a stamp are compiled once, not at every execution.
    inherit_cache = True
    name = "change_stamp"
    type = sa.BigInteger()


@compiles(ChangeStamp, "postgresql")
def _transaction_id(element: ChangeStamp, compiler: SQLCompiler, **kw: Any) -> str:
    xid = sa.cast(sa.cast(sa.func.pg_current_xact_id(), sa.Text), sa.BigInteger)
    return compiler.process(xid, **kw)


@compiles(ChangeStamp, "sqlite")
def _next_stamp(element: ChangeStamp, compiler: SQLCompiler, **kw: Any) -> str:
    stamps = event_seat_t.alias("stamps")
    (event_id,) = element.clauses
    next_stamp = (
        sa.select(sa.func.coalesce(sa.func.max(stamps.c.changed_in), 0) + 1)
        .where(stamps.c.event_id == event_id)
        .scalar_subquery()
    )
    return compiler.process(next_stamp, **kw)


def stamped(event_id: sa.ColumnElement[int] = event_seat_t.c.event_id) -> dict[str, Any]:
    """Values to add to every UPDATE of `event_seat` that changes a status."""
    return {"changed_in": ChangeStamp(event_id)}


def seats_changed(conn: AsyncConnection, event_ids: Iterable[int]) -> None:
    """Tell the events' seat-map watchers, once this unit of work commits, that seats changed: a
    note in memory, no statement (`ticketing.db.notify` announces it to other processes)."""
    for event_id in event_ids:
        notify(conn, CHANNEL, str(event_id))


def event_changed(conn: AsyncConnection, event_id: int) -> None:
    """Tell the event's seat-map watchers, once this unit of work commits, that a manager
    changed the event (its layout or prices), though no seat's status moved."""
    seats_changed(conn, [event_id])

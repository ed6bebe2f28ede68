"""Which sections of an event had a seat change since a reader's mark, read through the seats'
change stamps (`ticketing.inventory.stamps`) and an index on them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import UserDefinedType

from ticketing.db import check
from ticketing.domain import EventStatus
from ticketing.models import event_seat_t, event_t


class _PgType(UserDefinedType[Any]):
    cache_ok = True

    def __init__(self, name: str) -> None:
        self.name = name

    def get_col_spec(self, **_kw: Any) -> str:
        return self.name


_SNAPSHOT = _PgType("pg_snapshot")
_XID8 = _PgType("xid8")


@dataclass(frozen=True, slots=True)
class EventChanges:
    """An event as one read found it: its status and revision, the sections with a seat that
    changed since the mark given (None: the read had no mark, so every section), and the mark
    to give the next read."""

    status: EventStatus
    revision: int
    changed: frozenset[int] | None
    mark: str


def _postgres(*, since_mark: bool) -> sa.Select[Any]:
    # A seat changed since the mark when its stamp (a transaction id) is not visible in the
    # mark's snapshot; only stamps from the mark's oldest running transaction on are looked at.
    columns: list[Any] = [
        sa.cast(sa.func.pg_current_snapshot(), sa.Text).label("mark"),
        event_t.c.status,
        event_t.c.revision,
    ]
    if since_mark:
        since = sa.cast(sa.bindparam("since", type_=sa.Text), _SNAPSHOT)
        oldest = sa.cast(sa.cast(sa.func.pg_snapshot_xmin(since), sa.Text), sa.BigInteger)
        stamp = sa.cast(sa.cast(event_seat_t.c.changed_in, sa.Text), _XID8)
        columns.append(
            sa.select(sa.func.array_agg(sa.distinct(event_seat_t.c.section_id)))
            .where(
                event_seat_t.c.event_id == event_t.c.id,
                event_seat_t.c.changed_in >= oldest,
                sa.not_(sa.func.pg_visible_in_snapshot(stamp, since)),
            )
            .scalar_subquery()
            .label("changed")
        )
    return sa.select(*columns).where(event_t.c.id == sa.bindparam("event"))


@check
async def changes_since(
    conn: AsyncConnection, *, event_id: int, mark: str | None
) -> EventChanges | None:
    """None when there is no such event. One statement; on PostgreSQL its snapshot is the new
    mark, on SQLite the event's highest stamp."""
    if conn.dialect.name == "postgresql":
        stmt = _POSTGRES_FIRST if mark is None else _POSTGRES_SINCE
        row = (await conn.execute(stmt, {"event": event_id, "since": mark})).one_or_none()
        if row is None:
            return None
        since = None if mark is None else frozenset(row.changed or ())
        return EventChanges(EventStatus(row.status), row.revision, since, row.mark)
    stmt = _SQLITE_FIRST if mark is None else _SQLITE_SINCE
    since_stamp = None if mark is None else int(mark)
    row = (await conn.execute(stmt, {"event": event_id, "since": since_stamp})).one_or_none()
    if row is None:
        return None
    since = None if mark is None else frozenset(int(s) for s in (row.changed or "").split(",") if s)
    return EventChanges(EventStatus(row.status), row.revision, since, str(row.mark))


def _sqlite(*, since_mark: bool) -> sa.Select[Any]:
    # Writers take turns and stamp one more than the event's highest: stamps follow commits.
    columns: list[Any] = [
        sa.select(sa.func.coalesce(sa.func.max(event_seat_t.c.changed_in), 0))
        .where(event_seat_t.c.event_id == event_t.c.id)
        .scalar_subquery()
        .label("mark"),
        event_t.c.status,
        event_t.c.revision,
    ]
    if since_mark:
        columns.append(
            sa.select(sa.func.group_concat(sa.distinct(event_seat_t.c.section_id)))
            .where(
                event_seat_t.c.event_id == event_t.c.id,
                event_seat_t.c.changed_in > sa.bindparam("since", type_=sa.BigInteger),
            )
            .scalar_subquery()
            .label("changed")
        )
    return sa.select(*columns).where(event_t.c.id == sa.bindparam("event"))


_POSTGRES_FIRST = _postgres(since_mark=False)
_POSTGRES_SINCE = _postgres(since_mark=True)
_SQLITE_FIRST = _sqlite(since_mark=False)
_SQLITE_SINCE = _sqlite(since_mark=True)


@check  # the map's refresh serves every reader and subscriber: not in line behind commands
async def taken_seats(
    conn: AsyncConnection, *, event_id: int, section_ids: Sequence[int]
) -> list[Any]:
    """(section id, seat id, status, deadline) of every seat not plainly available."""
    return list(
        (
            await conn.execute(
                sa.select(
                    event_seat_t.c.section_id,
                    event_seat_t.c.seat_id,
                    event_seat_t.c.status,
                    event_seat_t.c.expires_at,
                ).where(
                    event_seat_t.c.event_id == event_id,
                    event_seat_t.c.section_id.in_(list(section_ids)),
                    event_seat_t.c.status != 1,
                )
            )
        ).all()
    )

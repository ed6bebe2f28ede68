"""Tests read the database as the product does: each read is a query of its own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.db import Database, query
from ticketing.models import event_t, price_t, section_t, venue_t


@query
async def fetch(
    conn: AsyncConnection, statement: sa.Executable, params: Mapping[str, Any] | None = None
) -> list[Any]:
    """The rows of one statement, read now (a snapshot of its own)."""
    return list((await conn.execute(statement, params)).all())


async def catalog_state(db: Database) -> list[object]:
    """Every row a management command could change, to prove that a refused one changed none."""
    rows: list[object] = []
    for table in (venue_t, section_t, event_t, price_t):
        rows += await fetch(db, sa.select(table).order_by(*table.primary_key))
    rows += await fetch(db, sa.text("SELECT seat_id, status FROM event_seat ORDER BY seat_id"))
    return rows

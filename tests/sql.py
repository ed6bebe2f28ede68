"""Tests read the database as the product does: each read is a query of its own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.db import query


@query
async def fetch(
    conn: AsyncConnection, statement: sa.Executable, params: Mapping[str, Any] | None = None
) -> list[Any]:
    """The rows of one statement, read now (a snapshot of its own)."""
    return list((await conn.execute(statement, params)).all())

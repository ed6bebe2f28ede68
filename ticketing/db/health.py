"""Operational queries: is the database answering."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.db import query


@query
async def database_answers(conn: AsyncConnection) -> bool:
    return await conn.scalar(sa.select(sa.literal(1))) == 1

"""Operational queries: is the database answering."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db import short_query


@short_query  # one trivial statement: on SQLite it need not cross to aiosqlite's thread
async def database_answers(session: AsyncSession) -> bool:
    return await session.scalar(sa.select(sa.literal(1))) == 1

"""The Alembic migrations produce exactly the schema the models describe, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from ticketing.db import create_engine
from ticketing.settings import Settings


def _differences(connection: sa.Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(Settings(database_url=database_url))
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
            statuses = (
                await connection.execute(sa.text("SELECT id, name FROM seat_status ORDER BY id"))
            ).all()
    finally:
        await engine.dispose()
    assert differences == []
    assert [tuple(s) for s in statuses] == [
        (1, "available"),
        (2, "held"),
        (3, "booked"),
        (4, "sold"),
        (5, "blocked"),
    ]
